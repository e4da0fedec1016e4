/** mlc-approx-1: the documented rules, piece by piece. */
import { describe, expect, test } from 'bun:test'
import { countTokens, TOKENIZER_NAME } from '../../src/chat/tokenizer'

describe('mlc-approx-1', () => {
  const cases: [string, string, number][] = [
    ['empty text', '', 0],
    ['one short word', 'hello', 1],
    ['a word with its leading space is one piece', 'hello world', 2],
    ['words up to 8 letters are 1 token', 'password', 1],
    ['longer words add 1 per 4 letters', 'internationalization', 4],
    ['numbers go in groups of three digits', '1234567', 3],
    ['a punctuation run costs 1 per 2 characters', '?!?!', 2],
    ['contractions split off', "don't", 2],
    ['Han characters cost 1 per 1.2', '你好世界', 4],
    ['a sentence', 'How do I reset my password?', 7],
  ]
  for (const [label, text, n] of cases) {
    test(`${label}: ${JSON.stringify(text)} = ${n}`, () => {
      expect(countTokens(text)).toBe(n)
    })
  }

  test('counts grow with the text and the name is stable', () => {
    const one = countTokens('To reset your password, open Settings.')
    expect(countTokens('To reset your password, open Settings. '.repeat(10))).toBeGreaterThanOrEqual(one * 9)
    expect(TOKENIZER_NAME).toBe('mlc-approx-1')
  })
})
