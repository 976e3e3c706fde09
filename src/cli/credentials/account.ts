import { validationError } from '../../errors.js'

/** Refuses an empty or non-string account name before any store is touched. */
export function assertAccount(account: unknown): asserts account is string {
  if (typeof account !== 'string' || account === '') {
    throw validationError('account', 'credential account must be a non-empty string')
  }
}

/** Refuses a secret that is not a string, so nothing odd is ever serialised. */
export function assertSecret(secret: unknown): asserts secret is string {
  if (typeof secret !== 'string') {
    // The value itself is deliberately left out: it may be a secret of another shape.
    throw validationError('secret', 'credential secret must be a string')
  }
}
