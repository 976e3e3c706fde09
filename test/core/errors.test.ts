// Covers src/errors.ts, which the core services share.
import { describe, expect, it } from 'vitest'

import {
  CryptorgError,
  EXIT_CODES,
  type ErrorCode,
  HTTP_STATUSES,
  isCryptorgError,
} from '../../src/index.js'
import { toCryptorgError, validationError } from '../../src/errors.js'

const CODES: ErrorCode[] = [
  'ERR_USAGE',
  'ERR_VALIDATION',
  'ERR_NOT_FOUND',
  'ERR_CONFLICT',
  'ERR_UNAUTHENTICATED',
  'ERR_FORBIDDEN',
  'ERR_UPSTREAM',
  'ERR_RATE_LIMITED',
  'ERR_THROTTLED',
  'ERR_UNHEALTHY',
  'ERR_STORAGE',
  'ERR_INTERNAL',
]

describe('EXIT_CODES and HTTP_STATUSES', () => {
  it.each([
    ['ERR_USAGE', 2, 400],
    ['ERR_VALIDATION', 2, 400],
    ['ERR_NOT_FOUND', 3, 404],
    ['ERR_CONFLICT', 3, 409],
    ['ERR_UNAUTHENTICATED', 4, 401],
    ['ERR_FORBIDDEN', 4, 403],
    ['ERR_UPSTREAM', 5, 502],
    ['ERR_RATE_LIMITED', 5, 503],
    ['ERR_THROTTLED', 4, 429],
    ['ERR_UNHEALTHY', 6, 503],
    ['ERR_STORAGE', 1, 500],
    ['ERR_INTERNAL', 1, 500],
  ] as const)('maps %s to exit code %i and HTTP %i', (code, exit, status) => {
    expect(EXIT_CODES[code]).toBe(exit)
    expect(HTTP_STATUSES[code]).toBe(status)
  })

  it('covers exactly the known codes and cannot be changed', () => {
    expect(Object.keys(EXIT_CODES).sort()).toEqual([...CODES].sort())
    expect(Object.keys(HTTP_STATUSES).sort()).toEqual([...CODES].sort())
    expect(Object.isFrozen(EXIT_CODES)).toBe(true)
    expect(Object.isFrozen(HTTP_STATUSES)).toBe(true)
  })
})

describe('CryptorgError', () => {
  it('carries its code, message, frozen details and cause', () => {
    const cause = new Error('inner')
    const error = new CryptorgError('ERR_CONFLICT', 'taken', { cause, details: { field: 'name' } })
    expect(error).toBeInstanceOf(Error)
    expect(error).toMatchObject({ name: 'CryptorgError', code: 'ERR_CONFLICT', message: 'taken' })
    expect(error.cause).toBe(cause)
    expect(error.details).toEqual({ field: 'name' })
    expect(Object.isFrozen(error.details)).toBe(true)
  })

  it('has empty details and no cause when none are given', () => {
    const error = new CryptorgError('ERR_INTERNAL', 'x')
    expect(error.details).toEqual({})
    expect('cause' in error).toBe(false)
  })
})

describe('isCryptorgError', () => {
  it('recognizes an error from another copy of the library by name and code', () => {
    const foreign = Object.assign(new Error('x'), { name: 'CryptorgError', code: 'ERR_USAGE' })
    expect(isCryptorgError(foreign)).toBe(true)
  })

  it.each([
    ['a plain Error', new Error('x')],
    ['an object shaped like one', { name: 'CryptorgError', code: 'ERR_USAGE', message: 'x' }],
    [
      'a CryptorgError-named error without a code',
      Object.assign(new Error('x'), { name: 'CryptorgError' }),
    ],
    ['null', null],
  ])('returns false for %s', (_, value) => {
    expect(isCryptorgError(value)).toBe(false)
  })
})

describe('toCryptorgError', () => {
  it('passes a CryptorgError through unchanged', () => {
    const error = new CryptorgError('ERR_NOT_FOUND', 'gone')
    expect(toCryptorgError(error)).toBe(error)
  })

  it.each([
    [new TypeError('boom'), 'unexpected error: boom'],
    ['a string', 'unexpected error: a string'],
  ])('wraps %j as ERR_INTERNAL keeping the cause', (thrown, message) => {
    const error = toCryptorgError(thrown)
    expect(error).toMatchObject({ code: 'ERR_INTERNAL', message })
    expect(error.cause).toBe(thrown)
  })
})

describe('validationError', () => {
  it('builds ERR_VALIDATION with the field and extra details', () => {
    const error = validationError('price', 'price is required', { max: 10 })
    expect(error).toMatchObject({ code: 'ERR_VALIDATION', message: 'price is required' })
    expect(error.details).toEqual({ field: 'price', max: 10 })
  })
})
