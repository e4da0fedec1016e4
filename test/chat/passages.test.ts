/** Splitting articles into passages. */
import { describe, expect, test } from 'bun:test'
import { MAX_PASSAGE_CHARS, splitPassages } from '../../src/chat/passages'

describe('passages', () => {
  test('paragraphs become passages; a heading stays with the paragraph after it', () => {
    expect(splitPassages('## Billing\n\nInvoices are sent monthly.\n\nRefunds take 5 days.')).toEqual([
      '## Billing\nInvoices are sent monthly.',
      'Refunds take 5 days.',
    ])
  })

  test('Windows line ends and blank padding do not matter', () => {
    expect(splitPassages('  One.\r\n\r\n\r\n  Two.  \r\n')).toEqual(['One.', 'Two.'])
  })

  test('a long paragraph is cut at sentence ends, every passage within the limit', () => {
    const sentence = 'This sentence is about exporting invoices as CSV files from the billing page. '
    const parts = splitPassages(sentence.repeat(30))
    expect(parts.length).toBeGreaterThan(1)
    for (const p of parts) {
      expect(p.length).toBeLessThanOrEqual(MAX_PASSAGE_CHARS)
      expect(p.endsWith('.')).toBe(true)
    }
  })

  test('a single sentence longer than the limit is cut at words', () => {
    const parts = splitPassages('word '.repeat(400))
    for (const p of parts) expect(p.length).toBeLessThanOrEqual(MAX_PASSAGE_CHARS)
    expect(parts.join(' ').split(' ').length).toBe(400)
  })
})
