/** The legacy URL rewrite, case by case. */
import { describe, expect, test } from 'bun:test'
import { canonicalUrl } from '../../src/http/legacy-url'

describe('canonicalUrl', () => {
  const cases: [string, string | null][] = [
    ['http://h:8080/v1/api.ashx?resource=tags', 'http://h:8080/v1/tags'],
    ['http://h/v1/api.ashx?resource=tags&id=7', 'http://h/v1/tags/7'],
    ['http://h/v1/API.ASHX?resource=webhook_subscriptions&id=3&action=test&token=x', 'http://h/v1/webhook_subscriptions/3?action=test&token=x'],
    ['http://h/v1/api.ashx?resource=transcripts&sessionId=cs_1', 'http://h/v1/transcripts?sessionId=cs_1'],
    ['http://h/v1/api.ashx?resource=a%2Fb', 'http://h/v1/a%2Fb'],
    ['http://h/v1/api.ashx', null],
    ['http://h/v1/api.ashx?id=3', null],
    ['http://h/v1/tags?resource=x', null],
  ]
  for (const [input, expected] of cases) {
    test(input, () => expect(canonicalUrl(input)).toBe(expected))
  }
})
