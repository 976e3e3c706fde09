import { describe, expect, it } from 'vitest'

import {
  ORG_NAME_MAX_LENGTH,
  isUuid,
  normalizeCoinId,
  normalizeCurrency,
  normalizeOrgName,
  normalizeSymbol,
  orgNameKey,
  parseBoundedInteger,
} from '../../src/core/validate.js'
import { validationFailure } from '../helpers/errors.js'

describe('normalizeOrgName', () => {
  it.each([
    ['Acme', 'Acme'],
    ['  Acme Corp  ', 'Acme Corp'],
    ['\tAcme\n', 'Acme'],
    ['Zürich Börse', 'Zürich Börse'],
    ['日本', '日本'],
  ])('returns %j trimmed as %j', (input, expected) => {
    expect(normalizeOrgName(input)).toBe(expected)
  })

  it('normalizes to NFC so composed and decomposed spellings match', () => {
    expect(normalizeOrgName('Cafe\u0301')).toBe('Caf\u00e9')
  })

  it('accepts a name of exactly 255 characters', () => {
    expect(ORG_NAME_MAX_LENGTH).toBe(255)
    expect(normalizeOrgName('a'.repeat(255))).toHaveLength(255)
  })

  it('counts characters rather than UTF-16 units for the length limit', () => {
    const emoji = '😀'.repeat(255)
    expect(normalizeOrgName(emoji)).toBe(emoji)
  })

  it.each([
    ['', 'name must not be empty'],
    ['   ', 'name must not be empty'],
    ['\u200b', 'name must not be empty'],
    [' \u200b\u00a0\ufeff ', 'name must not be empty'],
    ['Ac\u2028me', 'name must not contain control characters'],
    ['Ac\u2029me', 'name must not contain control characters'],
    ['a'.repeat(256), 'name must be at most 255 characters'],
    ['Ac\u0000me', 'name must not contain control characters'],
    ['Ac\nme', 'name must not contain control characters'],
    ['Ac\tme', 'name must not contain control characters'],
    ['Ac\u001bme', 'name must not contain control characters'],
    ['Ac\u007fme', 'name must not contain control characters'],
    ['Ac\u0085me', 'name must not contain control characters'],
    ['123e4567-e89b-42d3-a456-426614174000', 'name must not be a UUID'],
    ['123E4567-E89B-42D3-A456-426614174000', 'name must not be a UUID'],
  ])('rejects %j: %s', (input, message) => {
    const error = validationFailure(() => normalizeOrgName(input))
    expect(error.message).toBe(message)
    expect(error.details).toEqual({ field: 'name' })
  })

  it('names the given field in the message', () => {
    expect(validationFailure(() => normalizeOrgName('', 'new name')).message).toBe(
      'new name must not be empty',
    )
  })

  it.each([
    ['\uff10\uff10000000-0000-0000-0000-000000000000'],
    ['\uff11\uff12\uff13e4567-e89b-42d3-a456-426614174000'],
    ['123e4567\uff0de89b-42d3-a456-42661417400\uff10'],
  ])('rejects %j, a UUID written with full-width characters', (input) => {
    const error = validationFailure(() => normalizeOrgName(input))
    expect(error.message).toBe('name must not be a UUID')
  })

  it('accepts a name that only resembles a UUID', () => {
    expect(normalizeOrgName('123e4567-e89b-42d3-a456-42661417400')).toBe(
      '123e4567-e89b-42d3-a456-42661417400',
    )
  })
})

describe('orgNameKey', () => {
  it('folds case so names differing only in case share a key', () => {
    expect(orgNameKey('ACME Corp')).toBe(orgNameKey('acme corp'))
  })

  it('keeps different names apart', () => {
    expect(orgNameKey('Acme')).not.toBe(orgNameKey('Acme2'))
  })

  it.each([
    ['Straße', 'STRASSE'],
    ['Ac me', 'Ac  me'],
    ['Ac me', 'Ac\u00a0me'],
    ['Acme', 'Ac\u200bme'],
    ['Acme', '\ufeffAcme\u200d'],
  ])('gives %j and %j the same key', (a, b) => {
    expect(orgNameKey(a)).toBe(orgNameKey(b))
  })
})

describe('isUuid', () => {
  it.each([
    ['123e4567-e89b-42d3-a456-426614174000', true],
    ['123E4567-E89B-42D3-A456-426614174000', true],
    ['123e4567e89b42d3a456426614174000', false],
    ['123e4567-e89b-42d3-a456-42661417400g', false],
    ['Acme', false],
  ])('returns %s for %j', (value, expected) => {
    expect(isUuid(value as string)).toBe(expected)
  })
})

describe('normalizeSymbol', () => {
  it.each([
    ['BTC', 'BTC'],
    ['btc', 'BTC'],
    ['eTh', 'ETH'],
    [' sol ', 'SOL'],
    ['1INCH', '1INCH'],
    ['A', 'A'],
    ['ABCDEFGHIJ', 'ABCDEFGHIJ'],
  ])('returns %j as %j', (input, expected) => {
    expect(normalizeSymbol(input)).toBe(expected)
  })

  it.each([
    '',
    '   ',
    'ABCDEFGHIJK',
    'BT-C',
    'BT C',
    'BTC!',
    'BTC.X',
    'BTC\n1',
    'b\u0131t',
    '\ufb00',
  ])('rejects %j naming the rule', (input) => {
    const error = validationFailure(() => normalizeSymbol(input))
    expect(error.message).toBe(
      `symbol must be 1-10 letters or digits, such as BTC, got ${JSON.stringify(input)}`,
    )
    expect(error.details).toEqual({ field: 'symbol' })
  })
})

describe('normalizeCoinId', () => {
  it.each([
    ['bitcoin', 'bitcoin'],
    ['Bitcoin', 'bitcoin'],
    ['wrapped-bitcoin', 'wrapped-bitcoin'],
    [' ethereum ', 'ethereum'],
    ['0x', '0x'],
    ['a'.repeat(100), 'a'.repeat(100)],
  ])('returns %j as %j', (input, expected) => {
    expect(normalizeCoinId(input)).toBe(expected)
  })

  it.each([
    '',
    '-bitcoin',
    'bit coin',
    'bit_coin',
    'bitcoin/usd',
    'a'.repeat(101),
    'é',
    '\u212aelvin',
  ])('rejects %j', (input) => {
    const error = validationFailure(() => normalizeCoinId(input))
    expect(error.message).toMatch(/^coin id must be a CoinGecko id such as bitcoin/)
    expect(error.details).toEqual({ field: 'coin id' })
  })
})

describe('normalizeCurrency', () => {
  it.each([
    ['usd', 'usd'],
    ['USD', 'usd'],
    [' eur ', 'eur'],
    ['btc', 'btc'],
    ['ab', 'ab'],
    ['abcdefghij', 'abcdefghij'],
  ])('returns %j as %j', (input, expected) => {
    expect(normalizeCurrency(input)).toBe(expected)
  })

  it.each(['', 'u', 'abcdefghijk', 'us-d', 'u$d', 'us d', '\u212arw'])('rejects %j', (input) => {
    const error = validationFailure(() => normalizeCurrency(input))
    expect(error.message).toBe(
      `currency must be a currency code such as usd or eur, got ${JSON.stringify(input)}`,
    )
  })

  it('names the given field', () => {
    expect(validationFailure(() => normalizeCurrency('x', 'vs currency')).details).toEqual({
      field: 'vs currency',
    })
  })
})

describe('parseBoundedInteger', () => {
  it.each([
    [1, 1],
    [10_000, 10_000],
    ['50', 50],
    [' 7 ', 7],
    ['007', 7],
  ])('returns %j as %i', (value, expected) => {
    expect(parseBoundedInteger(value, 'limit', 1, 10_000)).toBe(expected)
  })

  it.each([0, 10_001, -1, 1.5, '1.5', '', 'ten', '+5', '1e3', Number.NaN, Infinity, '-3'])(
    'rejects %j outside 1..10000 or not a whole number',
    (value) => {
      const error = validationFailure(() => parseBoundedInteger(value, 'limit', 1, 10_000))
      expect(error.message).toMatch(/^limit must be a whole number from 1 to 10000, got /)
      expect(error.details).toEqual({ field: 'limit' })
    },
  )
})
