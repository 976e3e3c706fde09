import { expect } from 'vitest'

import { CryptorgError } from '../../src/errors.js'

/** Runs `run`, expects it to throw `ERR_VALIDATION`, and returns the error for more checks. */
export function validationFailure(run: () => unknown): CryptorgError {
  try {
    run()
  } catch (error) {
    expect(error).toBeInstanceOf(CryptorgError)
    expect((error as CryptorgError).code).toBe('ERR_VALIDATION')
    return error as CryptorgError
  }
  throw new Error('expected a validation error')
}
