import { describe, expect, it } from 'vitest'

import {
  formatDuration,
  formatTimestamp,
  parseDuration,
  parseMoment,
  parseSince,
} from '../../src/core/time.js'
import { validationFailure } from '../helpers/errors.js'

describe('parseDuration', () => {
  it.each([
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['7d', 604_800_000],
    ['2w', 1_209_600_000],
    ['250ms', 250],
    ['1h30m', 5_400_000],
    ['1d2h3m4s', 93_784_000],
    ['1m500ms', 60_500],
    [' 5m ', 300_000],
  ])('parses %j as %i ms', (text, ms) => {
    expect(parseDuration(text, 'interval')).toBe(ms)
  })

  it.each(['', '5', 'm', '5x', '-5m', '1.5h', '5 m', '5M', 'h1', '1h 30m', '5mm', 'abc'])(
    'rejects %j naming the field and the expected form',
    (text) => {
      const error = validationFailure(() => parseDuration(text, 'interval'))
      expect(error.message).toBe(
        `interval must be a duration such as 30s, 5m, 1h or 7d, got ${JSON.stringify(text)}`,
      )
      expect(error.details).toEqual({ field: 'interval' })
    },
  )

  it('rejects a duration too long to count in milliseconds', () => {
    const error = validationFailure(() => parseDuration('99999999999999999d', 'since'))
    expect(error.message).toMatch(/^since is too long/)
  })
})

describe('parseMoment', () => {
  it.each([
    ['2024-02-14', '2024-02-14T00:00:00.000Z'],
    ['2024-02-14T12:00:00Z', '2024-02-14T12:00:00.000Z'],
    ['2024-02-14t12:00:00z', '2024-02-14T12:00:00.000Z'],
    ['2024-02-14T12:00Z', '2024-02-14T12:00:00.000Z'],
    ['2024-02-14 12:30:15Z', '2024-02-14T12:30:15.000Z'],
    ['2024-02-14T12:00:00.5Z', '2024-02-14T12:00:00.500Z'],
    ['2024-02-14T12:00:00.123456789Z', '2024-02-14T12:00:00.123Z'],
    ['2024-02-14T12:00:00+02:00', '2024-02-14T10:00:00.000Z'],
    ['2024-02-14T12:00:00-05:30', '2024-02-14T17:30:00.000Z'],
    ['2024-02-14T00:30:00+01:00', '2024-02-13T23:30:00.000Z'],
    ['2024-02-29T23:59:59Z', '2024-02-29T23:59:59.000Z'],
    ['  2024-02-14T12:00:00Z  ', '2024-02-14T12:00:00.000Z'],
  ])('parses %j as %s', (text, iso) => {
    expect(parseMoment(text, 'since').toISOString()).toBe(iso)
  })

  it('takes a time without a zone as UTC', () => {
    expect(parseMoment('2024-02-14T12:00:00', 'since').toISOString()).toBe(
      '2024-02-14T12:00:00.000Z',
    )
  })

  it.each([
    '2024-02-30',
    '2023-02-29',
    '2024-13-01',
    '2024-00-10',
    '2024-04-31',
    '2024-02-14T25:00:00Z',
    '2024-02-14T24:00:00Z',
    '2024-02-14T12:60:00Z',
    '2024-02-14T12:00:60Z',
    '2024-2-14',
    '14/02/2024',
    '2024-02-14T12',
    '2024-02-14T12:00:00+0200',
    '2024-02-14T12:00:00 UTC',
    'yesterday',
    '',
  ])('rejects %j', (text) => {
    const error = validationFailure(() => parseMoment(text, 'until'))
    expect(error.message).toBe(
      `until must be an ISO-8601 time such as 2024-02-14T12:00:00Z, got ${JSON.stringify(text)}`,
    )
    expect(error.details).toEqual({ field: 'until' })
  })
})

describe('parseSince', () => {
  const now = new Date('2024-09-17T12:00:00.000Z')

  it.each([
    ['24h', '2024-09-16T12:00:00.000Z'],
    ['30m', '2024-09-17T11:30:00.000Z'],
    ['7d', '2024-09-10T12:00:00.000Z'],
    ['1h30m', '2024-09-17T10:30:00.000Z'],
  ])('counts the duration %j back from now', (text, iso) => {
    expect(parseSince(text, now, 'since').toISOString()).toBe(iso)
  })

  it('parses an ISO-8601 moment regardless of now', () => {
    expect(parseSince('2024-01-01T00:00:00Z', now, 'since').toISOString()).toBe(
      '2024-01-01T00:00:00.000Z',
    )
  })

  it('rejects text that is neither a duration nor a moment', () => {
    const error = validationFailure(() => parseSince('last week', now, 'since'))
    expect(error.details).toEqual({ field: 'since' })
  })
})

describe('formatTimestamp', () => {
  it('leaves out milliseconds when they are zero', () => {
    expect(formatTimestamp('2024-09-17T12:00:00.000Z')).toBe('2024-09-17T12:00:00Z')
  })

  it('keeps milliseconds when they are not zero', () => {
    expect(formatTimestamp('2024-09-17T12:00:00.250Z')).toBe('2024-09-17T12:00:00.250Z')
  })
})

describe('formatDuration', () => {
  it.each([
    [0, '0ms'],
    [250, '250ms'],
    [999, '999ms'],
    [1000, '1s'],
    [1500, '1.5s'],
    [30_000, '30s'],
    [59_999, '59.9s'],
    [60_000, '1m'],
    [90_000, '1m30s'],
    [300_000, '5m'],
    [3_600_000, '1h'],
    [5_400_000, '1h30m'],
    [86_400_000, '1d'],
    [93_784_000, '1d2h3m4s'],
  ])('prints %i ms as %j', (ms, text) => {
    expect(formatDuration(ms)).toBe(text)
  })

  it.each(['30s', '5m', '1h30m', '7d', '1d2h3m4s'])('round-trips %j through parseDuration', (t) => {
    expect(formatDuration(parseDuration(t, 'interval'))).toBe(t)
  })
})
