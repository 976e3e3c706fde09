/**
 * Reading request bodies: JSON only, at most 1 MiB, parsed so that numbers keep their exact
 * text (a price sent as a JSON number never becomes a float), and typed field by field with
 * errors that name the field.
 *
 * @module
 */
import Big from 'big.js'

import { PRICE_DECIMALS, PRICE_MAX_TEXT_LENGTH, exponentOf } from '../core/money.js'
import { CryptorgError, isCryptorgError, validationError } from '../errors.js'
import {
  JsonNumber,
  type JsonValue,
  JsonSyntaxError,
  isJsonObject,
  parseJsonLossless,
} from '../lossless-json.js'
import { httpProblem } from './problems.js'

export const MAX_BODY_BYTES = 1024 * 1024
/** Digits a binary double keeps exactly: a longer JSON number may already have been rounded. */
export const MAX_NUMBER_DIGITS = 15

export type JsonBody = { [key: string]: JsonValue }

/** Reads and parses a JSON object body. */
export async function readJsonBody(request: Request): Promise<JsonBody> {
  const type = request.headers.get('content-type') ?? ''
  if (!/^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(type.trim())) {
    throw httpProblem(
      415,
      'request body must be JSON (Content-Type: application/json)',
      'unsupported_media_type',
    )
  }
  const declared = Number(request.headers.get('content-length') ?? '0')
  if (declared > MAX_BODY_BYTES) throw tooLarge()
  const text = await readLimited(request)
  let value: JsonValue
  try {
    value = parseJsonLossless(text)
  } catch (error) {
    if (error instanceof JsonSyntaxError) {
      throw httpProblem(400, `malformed JSON: ${error.message}`, 'parse_error')
    }
    throw error
  }
  if (!isJsonObject(value)) {
    throw httpProblem(400, 'request body must be a JSON object', 'parse_error')
  }
  return value
}

async function readLimited(request: Request): Promise<string> {
  if (!request.body) return ''
  const reader = request.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    let chunk: Awaited<ReturnType<typeof reader.read>>
    try {
      chunk = await reader.read()
    } catch {
      // The client hung up or sent a broken chunk: its fault, not a server error.
      throw httpProblem(400, 'the request body was cut off', 'parse_error')
    }
    const { done, value } = chunk
    if (done) break
    size += value.byteLength
    if (size > MAX_BODY_BYTES) {
      await reader.cancel()
      throw tooLarge()
    }
    chunks.push(value)
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks))
  } catch {
    throw httpProblem(400, 'request body is not valid UTF-8', 'parse_error')
  }
}

function tooLarge(): CryptorgError {
  return httpProblem(413, `request body is larger than ${MAX_BODY_BYTES} bytes`, 'too_large')
}

/** A required field that must be present and a string. */
export function requiredString(body: JsonBody, field: string): string {
  const value = body[field]
  if (value === undefined || value === null) throw validationError(field, 'this field is required')
  return asString(value, field)
}

/**
 * Several required string fields. Every missing or mistyped one is named in one answer, as DRF
 * does, rather than only the first.
 */
export function requiredStrings<K extends string>(
  body: JsonBody,
  fields: readonly K[],
): Record<K, string> {
  const values = {} as Record<K, string>
  const errors: Record<string, string[]> = {}
  for (const field of fields) {
    try {
      values[field] = requiredString(body, field)
    } catch (error) {
      if (!isCryptorgError(error)) throw error
      errors[field] = [error.message]
    }
  }
  const failed = Object.keys(errors)
  if (failed.length > 0) {
    throw new CryptorgError('ERR_VALIDATION', `invalid ${failed.join(', ')}`, {
      details: { field: failed[0], fields: errors },
    })
  }
  return values
}

/** An optional string field: absent or null is undefined. */
export function optionalString(body: JsonBody, field: string): string | undefined {
  const value = body[field]
  return value === undefined ? undefined : asString(value, field)
}

function asString(value: JsonValue, field: string): string {
  if (typeof value !== 'string') {
    throw validationError(field, `${field} must be a string, got ${describe(value)}`)
  }
  return value
}

/**
 * A price as a client sent it: a decimal string, or a JSON number whose digits survived the
 * client's own float (at most 15 significant digits), turned into plain decimal text.
 */
export function priceField(body: JsonBody, field: string, required: boolean): string | undefined {
  const value = body[field]
  if (value === undefined || value === null) {
    if (required) throw validationError(field, 'this field is required')
    return undefined
  }
  if (typeof value === 'string') return value
  if (!(value instanceof JsonNumber)) {
    throw validationError(field, `${field} must be a decimal string, got ${describe(value)}`)
  }
  const text = value.text
  // Bounded before anything expands it: 1e2000000000 must cost nothing.
  const exponent = text.length > PRICE_MAX_TEXT_LENGTH ? undefined : exponentOf(text)
  if (exponent === undefined || Math.abs(exponent) > 40) {
    throw validationError(field, `${field} is out of range: send a decimal string`)
  }
  const digits = text
    .replace(/^-/, '')
    .replace(/[eE].*$/, '')
    .replace('.', '')
  const significant = digits.replace(/^0+/, '').replace(/0+$/, '')
  if (significant.length > MAX_NUMBER_DIGITS) {
    throw validationError(
      field,
      `${field} has more than ${MAX_NUMBER_DIGITS} significant digits as a JSON number and may ` +
        'have been rounded already: send it as a string, such as "45000.1234567891"',
    )
  }
  const big = new Big(text)
  // A number beyond the stored precision is refused by the price rules, as a string would be.
  return big.toFixed(Math.max(PRICE_DECIMALS, decimalsOf(big)))
}

function decimalsOf(big: Big): number {
  // big.js keeps the exponent in e and the digits in c: decimals = digits after the point.
  return Math.max(0, big.c.length - big.e - 1)
}

function describe(value: JsonValue): string {
  if (value === null) return 'null'
  if (value instanceof JsonNumber) return 'a number'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'object') return 'an object'
  return `a ${typeof value}`
}
