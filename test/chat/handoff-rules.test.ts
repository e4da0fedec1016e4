/** Which visitor messages ask for a human, and the extractive summary. */
import { describe, expect, test } from 'bun:test'
import { wantsHuman } from '../../src/chat/handoff'
import { extractiveSummary } from '../../src/chat/summary'

describe('asking for a human', () => {
  const yes = [
    'Can I talk to a human?',
    'I want to speak with a real person please',
    'connect me to an agent',
    'Transfer me to someone',
    'HUMAN',
    'agent please',
    'I need a live agent!',
    "I'd like to chat with a representative",
    "I don't want a bot",
  ]
  const no = [
    'How do I reset my password?',
    'Does your HR tool support human resources workflows?',
    'Is this a real product?',
    'What does your agent pricing look like for 5 seats?',
    'The person field is empty on my invoice',
  ]
  for (const text of yes) test(`hands off: ${text}`, () => expect(wantsHuman(text)).toBe(true))
  for (const text of no) test(`stays with the bot: ${text}`, () => expect(wantsHuman(text)).toBe(false))
})

describe('extractive summary', () => {
  test('picks the visitor sentences carrying the recurring topic, in order, and counts bot replies', () => {
    const s = extractiveSummary([
      { role: 'visitor', text: 'Hi there.' },
      { role: 'ai', text: 'Hello! What can I do?' },
      { role: 'visitor', text: 'My invoice export fails. The CSV invoice is empty.' },
      { role: 'ai', text: 'Try again later.' },
      { role: 'visitor', text: 'Still broken, the invoice export shows nothing.' },
    ])
    expect(s).toContain('invoice')
    expect(s).not.toContain('Hi there')
    expect(s).toContain('(2 bot replies before the handoff)')
    expect(s.length).toBeLessThanOrEqual(400)
  })

  test('says so when the visitor asked for a human before writing', () => {
    expect(extractiveSummary([])).toBe('The visitor asked for a human before writing a message.')
  })

  test('a greeting-only conversation quotes the first message', () => {
    expect(extractiveSummary([{ role: 'visitor', text: 'hello?' }])).toBe('The visitor wrote: "hello?".')
  })
})
