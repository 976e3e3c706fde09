import { describe, expect, it } from 'vitest'

import {
  PRICE_DECIMALS,
  parsePrice,
  priceFromNumberText,
  quoteInput,
} from '../../src/core/money.js'
import { validationFailure } from '../helpers/errors.js'

describe('parsePrice', () => {
  it('keeps exactly 10 decimals in the canonical form', () => {
    expect(PRICE_DECIMALS).toBe(10)
  })

  it.each([
    ['45000.5', '45000.5000000000'],
    ['45000', '45000.0000000000'],
    ['45000.50', '45000.5000000000'],
    ['0.1', '0.1000000000'],
    ['.5', '0.5000000000'],
    ['5.', '5.0000000000'],
    ['0.0000000001', '0.0000000001'],
    ['1.1234567891', '1.1234567891'],
    ['9999999999.9999999999', '9999999999.9999999999'],
    ['  12.5  ', '12.5000000000'],
  ])('returns the canonical form of %j as %j', (input, expected) => {
    expect(parsePrice(input)).toBe(expected)
  })

  it.each([
    ['007', '7.0000000000'],
    ['000045000.5', '45000.5000000000'],
    ['00.25', '0.2500000000'],
    ['000000000001', '1.0000000000'],
  ])('drops leading zeros from %j', (input, expected) => {
    expect(parsePrice(input)).toBe(expected)
  })

  it.each([
    ['1.12345678900000', '1.1234567890'],
    ['2.500000000000000000', '2.5000000000'],
    ['3.00000000000', '3.0000000000'],
  ])('accepts %j whose digits beyond the 10th decimal are all zeros', (input, expected) => {
    expect(parsePrice(input)).toBe(expected)
  })

  it.each([
    ['', /is required/],
    ['   ', /is required/],
    ['-1', /must be positive/],
    ['-0.5', /must be positive/],
    ['0', /greater than zero/],
    ['0.000', /greater than zero/],
    ['000', /greater than zero/],
    ['1e5', /without an exponent/],
    ['1.5E3', /without an exponent/],
    ['2e-3', /without an exponent/],
    ['NaN', /plain decimal number/],
    ['abc', /plain decimal number/],
    ['45,000', /plain decimal number/],
    ['4 5', /plain decimal number/],
    ['.', /plain decimal number/],
    ['1.2.3', /plain decimal number/],
    ['$45', /plain decimal number/],
    ['Infinity', /plain decimal number/],
    ['0x10', /plain decimal number/],
    ['1.12345678901', /more than 10 digits after the decimal point/],
    ['0.00000000001', /more than 10 digits after the decimal point/],
    ['12345678901', /more than 10 digits before the decimal point \(at most 20 digits/],
    ['12345678901.5', /more than 10 digits before the decimal point/],
  ])('rejects %j with a message naming the rule (%s)', (input, rule) => {
    const error = validationFailure(() => parsePrice(input))
    expect(error.message).toMatch(rule)
    expect(error.message.startsWith('price ')).toBe(true)
    expect(error.details).toMatchObject({ field: 'price' })
  })

  it('names the given field in the message and details', () => {
    const error = validationFailure(() => parsePrice('abc', 'amount'))
    expect(error.message).toBe('amount must be a plain decimal number such as 45000.50, got "abc"')
    expect(error.details).toEqual({ field: 'amount' })
  })

  it('quotes the offending input in the message', () => {
    const error = validationFailure(() => parsePrice('1.12345678901'))
    expect(error.message).toContain('"1.12345678901"')
  })

  it.each(['eur', 'ETH', 'e5', 'E', 'usd1e5', '1e5x'])(
    'calls %j not a plain decimal number rather than an exponent',
    (input) => {
      const error = validationFailure(() => parsePrice(input))
      expect(error.message).toBe(
        `price must be a plain decimal number such as 45000.50, got ${JSON.stringify(input)}`,
      )
    },
  )

  it.each(['1e5', '1.5E-3', '.5e2', '+2E+4', '3.e1'])(
    'says %j must be written without an exponent',
    (input) => {
      const error = validationFailure(() => parsePrice(input))
      expect(error.message).toBe(
        `price must be written without an exponent, got ${JSON.stringify(input)}`,
      )
    },
  )

  it('shortens a huge input in the message', () => {
    const error = validationFailure(() => parsePrice('x'.repeat(60)))
    expect(error.message.length).toBeLessThan(200)
    expect(error.message).toContain('...')
  })
})

describe('quoteInput', () => {
  it('returns short values JSON-quoted', () => {
    expect(quoteInput('a"b')).toBe('"a\\"b"')
  })

  it('cuts values longer than the limit and marks the cut', () => {
    expect(quoteInput('abcdef', 3)).toBe('"abc..."')
  })
})

describe('priceFromNumberText', () => {
  it.each([
    ['64213', '64213.0000000000'],
    ['2318.47', '2318.4700000000'],
    ['4.73e-06', '0.0000047300'],
    ['4.73E-6', '0.0000047300'],
    ['1e3', '1000.0000000000'],
    ['2318.4712266091123456', '2318.4712266091'],
    ['0.0000000001', '0.0000000001'],
    ['9999999999.99999999994', '9999999999.9999999999'],
  ])('converts %j to %j', (text, expected) => {
    expect(priceFromNumberText(text)).toEqual({ ok: true, price: expected })
  })

  it.each([
    ['0.00000000015', '0.0000000002'],
    ['0.00000000025', '0.0000000002'],
    ['0.00000000035', '0.0000000004'],
    ['1.00000000005', '1.0000000000'],
    ['1.00000000015', '1.0000000002'],
    ['0.000000000251', '0.0000000003'],
    ['0.000000000149', '0.0000000001'],
  ])('rounds %j half to even at 10 decimals, giving %j', (text, expected) => {
    expect(priceFromNumberText(text)).toEqual({ ok: true, price: expected })
  })

  it.each(['0.00000000005', '0.00000000001', '1e-11', '4e-20'])(
    'reports rounds-to-zero for %j',
    (text) => {
      expect(priceFromNumberText(text)).toEqual({ ok: false, problem: 'rounds-to-zero' })
    },
  )

  it.each(['0', '0.0', '-1', '-0.5', '-0'])('reports not-positive for %j', (text) => {
    expect(priceFromNumberText(text)).toEqual({ ok: false, problem: 'not-positive' })
  })

  it.each(['12345678901', '1e10', '9999999999.99999999995'])('reports too-large for %j', (text) => {
    expect(priceFromNumberText(text)).toEqual({ ok: false, problem: 'too-large' })
  })

  it.each(['abc', '', 'NaN', '1,5'])('reports not-a-number for %j', (text) => {
    expect(priceFromNumberText(text)).toEqual({ ok: false, problem: 'not-a-number' })
  })
})

describe('hostile lengths and exponents', () => {
  it('refuses a price longer than 64 characters before applying any other rule', () => {
    expect(() => parsePrice('1'.repeat(80_000))).toThrow('price must be at most 64 characters')
    expect(() => parsePrice(`${'0'.repeat(60)}1.5`)).not.toThrow()
  })

  it.each([
    ['1e2000000000', 'not-a-number'],
    ['1e-2000000', 'rounds-to-zero'],
    ['1e41', 'too-large'],
    ['-1e999', 'not-positive'],
  ])('bounds the exponent of an upstream number %s before expanding it', (text, problem) => {
    const result = priceFromNumberText(text)
    expect(result).toEqual({ ok: false, problem: expect.any(String) })
    if (problem !== 'not-positive') expect(result).toEqual({ ok: false, problem })
  })
})
