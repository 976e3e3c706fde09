import { describe, expect, it } from 'vitest'

import { parseRetryAfter, readErrorBody, upstreamHttpError } from '../../src/coingecko/errors.js'
import { readFixture } from '../helpers/mock-coingecko.js'

describe('readErrorBody', () => {
  it.each([
    ['error-429', { errorCode: 429, message: expect.stringMatching(/^Fixture: rate limit/) }],
    [
      'error-401-bad-key',
      { errorCode: 10002, message: expect.stringMatching(/^Fixture: API key/) },
    ],
    [
      'error-400-demo-key-on-pro-host',
      { errorCode: 10011, message: expect.stringMatching(/^Fixture: a Demo key/) },
    ],
    [
      'error-400-pro-key-on-public-host',
      { errorCode: 10010, message: expect.stringMatching(/^Fixture: a Pro key/) },
    ],
    ['error-404-coin-not-found', { message: 'coin not found' }],
  ] as const)('reads the code and message of the %s fixture', (fixture, expected) => {
    expect(readErrorBody(readFixture(fixture))).toEqual(expected)
  })

  it('reads a status object nested in an error object', () => {
    const body = '{"error": {"status": {"error_code": 10005, "error_message": "plan"}}}'
    expect(readErrorBody(body)).toEqual({ errorCode: 10005, message: 'plan' })
  })

  it.each([
    ['not json', {}],
    ['', {}],
    ['[1]', {}],
    ['{"error_code": "10011"}', {}],
    ['{"error_code": 100.5}', {}],
    ['{"error_code": -1}', {}],
    ['{"error_message": 42}', {}],
  ])('reads nothing usable from %j', (text, expected) => {
    expect(readErrorBody(text)).toEqual(expected)
  })
})

describe('parseRetryAfter', () => {
  const now = new Date('2024-09-17T12:00:00.000Z')

  it.each([
    ['60', 60_000],
    [' 5 ', 5000],
    ['0', 0],
    ['Tue, 17 Sep 2024 12:00:30 GMT', 30_000],
    ['Tue, 17 Sep 2024 11:00:00 GMT', 0],
  ])('reads %j as %i ms', (header, ms) => {
    expect(parseRetryAfter(header, now)).toBe(ms)
  })

  it.each([null, '', 'soon'])('returns undefined for %j', (header) => {
    expect(parseRetryAfter(header, now)).toBeUndefined()
  })
})

describe('upstreamHttpError', () => {
  it('returns ERR_RATE_LIMITED rounding the wait up to whole seconds on 429', () => {
    const error = upstreamHttpError(429, readFixture('error-429'), 1500)
    expect(error.code).toBe('ERR_RATE_LIMITED')
    expect(error.message).toBe('CoinGecko rate limit reached; retry after 2s')
    expect(error.details).toEqual({ status: 429, upstreamCode: 429, retryAfterMs: 1500 })
  })

  it.each([401, 403])('treats HTTP %i as a key problem', (status) => {
    const error = upstreamHttpError(status, '{}', undefined)
    expect(error.code).toBe('ERR_UPSTREAM')
    expect(error.message).toBe(
      'CoinGecko refused the API key; check COINGECKO_API_KEY and COINGECKO_API_PLAN (demo or pro)',
    )
    expect(error.details['keyProblem']).toBe(true)
  })

  it.each([10002, 10005, 10010, 10011, 10012])('treats error code %i as a key problem', (code) => {
    const error = upstreamHttpError(400, `{"error_code": ${code}}`, undefined)
    expect(error.message).toMatch(new RegExp(`^CoinGecko refused the API key \\(error ${code}\\)`))
  })

  it('names the status, code and upstream text of any other error', () => {
    const body = '{"error_code": 99, "error_message": "bad ids"}'
    const error = upstreamHttpError(422, body, undefined)
    expect(error.code).toBe('ERR_UPSTREAM')
    expect(error.message).toBe('CoinGecko answered HTTP 422 (error 99): bad ids')
    expect(error.details).toEqual({ status: 422, upstreamCode: 99, retryAfterMs: undefined })
  })

  it('blanks out the API key when the upstream text echoes it', () => {
    const body = JSON.stringify({
      status: { error_code: 10002, error_message: 'Invalid API key CG-s3cr3t supplied' },
    })
    const error = upstreamHttpError(401, body, undefined, ['CG-s3cr3t'])
    expect(error.message).not.toContain('CG-s3cr3t')
    expect(error.message).toContain('Invalid API key [redacted] supplied')
  })

  it('blanks out a key that sits across the 200-character cut', () => {
    const key = 'CG-0123456789abcdef'
    const body = JSON.stringify({ error: `${'x'.repeat(190)}${key}` })
    const error = upstreamHttpError(500, body, undefined, [key])
    expect(error.message).not.toContain(key.slice(0, 10))
  })

  it('keeps the upstream text to one line of at most 200 characters', () => {
    const text = `first\nsecond\t${'x'.repeat(300)}`
    const error = upstreamHttpError(500, JSON.stringify({ error: text }), undefined)
    expect(error.message).not.toMatch(/[\n\t]/)
    expect(error.message).toMatch(/^CoinGecko answered HTTP 500: first second x+\.\.\.$/)
    expect(error.message.length).toBeLessThan(260)
  })
})
