/**
 * A JSON parser that keeps every number as the exact text it was sent as. `JSON.parse` turns
 * `2318.4712266091123` into the nearest double, which would put a float between CoinGecko and
 * our decimal prices; here the digits reach the money code untouched.
 *
 * @module
 */

/** A JSON number, kept as its source text. */
export class JsonNumber {
  constructor(readonly text: string) {}
}

export type JsonValue =
  null | boolean | string | JsonNumber | JsonValue[] | { [key: string]: JsonValue }

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y
const WHITESPACE = /[ \t\n\r]*/y

/** Thrown for text that is not JSON; the message gives the offset. */
export class JsonSyntaxError extends Error {
  override readonly name = 'JsonSyntaxError'
}

/** Parses JSON text, returning numbers as {@link JsonNumber}. Objects have no prototype. */
export function parseJsonLossless(text: string): JsonValue {
  let position = 0

  const fail = (expected: string): never => {
    throw new JsonSyntaxError(`expected ${expected} at offset ${position}`)
  }
  const skipWhitespace = () => {
    WHITESPACE.lastIndex = position
    WHITESPACE.exec(text)
    position = WHITESPACE.lastIndex
  }
  const readToken = (pattern: RegExp, expected: string): string => {
    pattern.lastIndex = position
    const match = pattern.exec(text)
    if (!match) return fail(expected)
    position = pattern.lastIndex
    return match[0]
  }

  // Finds the closing quote by search rather than by regex, whose backtracking stack a long
  // string of escapes can exhaust; JSON.parse then checks and decodes the escapes.
  const readString = (expected: string): string => {
    let quote = text.indexOf('"', position + 1)
    for (;;) {
      if (quote === -1) return fail(`the end of ${expected}`)
      let backslashes = 0
      while (text[quote - 1 - backslashes] === '\\') backslashes += 1
      if (backslashes % 2 === 0) break
      quote = text.indexOf('"', quote + 1)
    }
    const token = text.slice(position, quote + 1)
    let value: string
    try {
      value = JSON.parse(token) as string
    } catch {
      return fail(expected)
    }
    position = quote + 1
    return value
  }

  const readValue = (depth: number): JsonValue => {
    if (depth > 64) fail('less nesting')
    skipWhitespace()
    const char = text[position]
    if (char === '{') return readObject(depth)
    if (char === '[') return readArray(depth)
    if (char === '"') return readString('a string')
    if (char === '-' || (char !== undefined && char >= '0' && char <= '9')) {
      return new JsonNumber(readToken(NUMBER, 'a number'))
    }
    for (const [word, value] of [
      ['true', true],
      ['false', false],
      ['null', null],
    ] as const) {
      if (text.startsWith(word, position)) {
        position += word.length
        return value
      }
    }
    return fail('a value')
  }

  const readObject = (depth: number): JsonValue => {
    const result: Record<string, JsonValue> = Object.create(null)
    position += 1
    skipWhitespace()
    if (text[position] === '}') {
      position += 1
      return result
    }
    for (;;) {
      skipWhitespace()
      if (text[position] !== '"') fail('a property name')
      const key = readString('a property name')
      skipWhitespace()
      if (text[position] !== ':') fail('":"')
      position += 1
      result[key] = readValue(depth + 1)
      skipWhitespace()
      const separator = text[position]
      position += 1
      if (separator === '}') return result
      if (separator !== ',') fail('"," or "}"')
    }
  }

  const readArray = (depth: number): JsonValue => {
    const result: JsonValue[] = []
    position += 1
    skipWhitespace()
    if (text[position] === ']') {
      position += 1
      return result
    }
    for (;;) {
      result.push(readValue(depth + 1))
      skipWhitespace()
      const separator = text[position]
      position += 1
      if (separator === ']') return result
      if (separator !== ',') fail('"," or "]"')
    }
  }

  const value = readValue(0)
  skipWhitespace()
  if (position !== text.length) fail('the end of the document')
  return value
}

/** True for a plain JSON object (not an array, not null). */
export function isJsonObject(value: JsonValue | undefined): value is { [key: string]: JsonValue } {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof JsonNumber)
  )
}
