import { describe, expect, it } from 'vitest'

import {
  JsonNumber,
  JsonSyntaxError,
  type JsonValue,
  isJsonObject,
  parseJsonLossless,
} from '../src/lossless-json.js'

/** Turns parsed JSON into plain data with numbers as `{ n: text }`, for easy comparison. */
function plain(value: JsonValue): unknown {
  if (value instanceof JsonNumber) return { n: value.text }
  if (Array.isArray(value)) return value.map(plain)
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]))
  }
  return value
}

describe('parseJsonLossless', () => {
  it('keeps every digit of a number that a double would round', () => {
    const value = parseJsonLossless('2318.4712266091123456')
    expect(value).toBeInstanceOf(JsonNumber)
    expect((value as JsonNumber).text).toBe('2318.4712266091123456')
    expect(String(JSON.parse('2318.4712266091123456'))).not.toBe('2318.4712266091123456')
  })

  it.each([
    '0',
    '-0',
    '64213',
    '-12.5',
    '4.73e-06',
    '1E+10',
    '1e5',
    '123456789012345678901234567890',
    '0.000000000000000000001',
    '1.0',
  ])('keeps the number %s as its exact source text', (text) => {
    expect(plain(parseJsonLossless(text))).toEqual({ n: text })
  })

  it('keeps numbers exact inside nested objects and arrays', () => {
    const text = `{
      "bitcoin": { "usd": 64213.0817302715, "last_updated_at": 1726574431 },
      "list": [1, [2.50, { "deep": 3e-7 }], []],
      "empty": {}
    }`
    expect(plain(parseJsonLossless(text))).toEqual({
      bitcoin: { usd: { n: '64213.0817302715' }, last_updated_at: { n: '1726574431' } },
      list: [{ n: '1' }, [{ n: '2.50' }, { deep: { n: '3e-7' } }], []],
      empty: {},
    })
  })

  it('reads true, false, null and strings', () => {
    expect(plain(parseJsonLossless('[true, false, null, "x", ""]'))).toEqual([
      true,
      false,
      null,
      'x',
      '',
    ])
  })

  it('decodes escapes in strings and property names', () => {
    const value = parseJsonLossless(
      String.raw`{"a\"b": "line\nbreak \t tab \\ slash \/ \u00e9 \ud83d\ude00 \"q\""}`,
    )
    expect(plain(value)).toEqual({ 'a"b': 'line\nbreak \t tab \\ slash / é 😀 "q"' })
  })

  it('accepts whitespace around every token', () => {
    const value = parseJsonLossless(' \n\t{ "a" : [ 1 , 2 ] , "b" : null }\r\n ')
    expect(plain(value)).toEqual({ a: [{ n: '1' }, { n: '2' }], b: null })
  })

  it('returns objects without a prototype so keys like __proto__ are plain data', () => {
    const value = parseJsonLossless('{"__proto__": {"polluted": true}, "constructor": 1}')
    expect(Object.getPrototypeOf(value)).toBeNull()
    expect(isJsonObject(value)).toBe(true)
    const object = value as Record<string, JsonValue>
    expect(plain(object['__proto__']!)).toEqual({ polluted: true })
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined()
  })

  it('keeps the last value of a repeated key', () => {
    expect(plain(parseJsonLossless('{"a": 1, "a": 2}'))).toEqual({ a: { n: '2' } })
  })

  it.each([
    ['', 'empty text'],
    ['   ', 'only whitespace'],
    ['{"a": 1} x', 'trailing garbage'],
    ['{"a": 1}}', 'a second closing brace'],
    ['1 2', 'two values'],
    ['{"a": 1,}', 'a trailing comma in an object'],
    ['[1,]', 'a trailing comma in an array'],
    ['{"a" 1}', 'a missing colon'],
    ['{a: 1}', 'an unquoted key'],
    ["{'a': 1}", 'single quotes'],
    ['{"a": 1', 'an unclosed object'],
    ['[1, 2', 'an unclosed array'],
    ['"abc', 'an unclosed string'],
    ['"a\nb"', 'a raw newline in a string'],
    ['"\\x41"', 'an invalid escape'],
    ['01', 'a leading zero'],
    ['1.', 'a dot without digits'],
    ['.5', 'a leading dot'],
    ['+1', 'a plus sign'],
    ['-', 'a lone minus'],
    ['NaN', 'NaN'],
    ['Infinity', 'Infinity'],
    ['tru', 'a cut literal'],
    ['[truex]', 'a literal with extra letters'],
    ['<html><body>502 Bad Gateway</body></html>', 'HTML'],
  ])('throws JsonSyntaxError for %j (%s)', (text) => {
    expect(() => parseJsonLossless(text)).toThrow(JsonSyntaxError)
  })

  it('names the offset of the error in the message', () => {
    expect(() => parseJsonLossless('{"a": 1} x')).toThrow(
      'expected the end of the document at offset 9',
    )
  })

  it('rejects nesting deeper than 64 levels', () => {
    expect(() => parseJsonLossless('['.repeat(100) + ']'.repeat(100))).toThrow(JsonSyntaxError)
  })

  it('accepts nesting of 64 levels', () => {
    expect(() => parseJsonLossless('['.repeat(64) + ']'.repeat(64))).not.toThrow()
  })

  it('reads a 10 MB string value without exhausting the stack', () => {
    const long = 'x'.repeat(10_000_000)
    const value = parseJsonLossless(`{"note": "${long}", "usd": 1.5}`)
    expect(plain(value)).toEqual({ note: long, usd: { n: '1.5' } })
  })

  it('reads a 13 MB string of alternating escapes without exhausting the stack', () => {
    const text = `"${'ab\\"\\n\\u00e9'.repeat(1_000_000)}"`
    expect(parseJsonLossless(text)).toBe('ab"\n\u00e9'.repeat(1_000_000))
  })
})

describe('isJsonObject', () => {
  it.each([
    ['{}', true],
    ['[]', false],
    ['null', false],
    ['1', false],
    ['"s"', false],
    ['true', false],
  ])('returns %s for %s', (text, expected) => {
    expect(isJsonObject(parseJsonLossless(text))).toBe(expected)
  })

  it('returns false for undefined', () => {
    expect(isJsonObject(undefined)).toBe(false)
  })
})
