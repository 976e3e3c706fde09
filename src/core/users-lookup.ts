/**
 * Usernames: their rules, the folded key that makes them unique case-insensitively, and
 * finding a user row by name.
 *
 * @module
 */
import type { Kysely } from 'kysely'

import type { Database, UserTable } from '../db/schema.js'
import { CryptorgError, validationError } from '../errors.js'
import { quoteInput } from './money.js'
import { requireString } from './validate.js'

export const USERNAME_MAX_LENGTH = 150
// The characters Django allows in usernames, in ASCII, so names move between the two systems.
const USERNAME_PATTERN = /^[A-Za-z0-9@.+_-]+$/

/** Trims and checks a username: 1-150 letters, digits and `@ . + - _`. */
export function normalizeUsername(input: unknown, field = 'username'): string {
  const name = requireString(input, field).trim()
  if (name === '') throw validationError(field, `${field} must not be empty`)
  if (name.length > USERNAME_MAX_LENGTH) {
    throw validationError(field, `${field} must be at most ${USERNAME_MAX_LENGTH} characters`)
  }
  if (!USERNAME_PATTERN.test(name)) {
    throw validationError(
      field,
      `${field} may contain only letters, digits and @ . + - _, got ${quoteInput(name)}`,
    )
  }
  return name
}

/** Names that would read as the installation itself in the audit trail. */
const RESERVED_USERNAMES = new Set(['system'])

/** {@link normalizeUsername}, refusing the reserved names: for new users only. */
export function newUsername(input: unknown, field = 'username'): string {
  const name = normalizeUsername(input, field)
  if (RESERVED_USERNAMES.has(usernameKey(name))) {
    throw validationError(field, `${JSON.stringify(name)} is reserved; choose another ${field}`)
  }
  return name
}

export function usernameKey(name: string): string {
  return name.toLowerCase()
}

/** @throws CryptorgError `ERR_NOT_FOUND`, `ERR_VALIDATION` */
export async function findUserRow(db: Kysely<Database>, username: unknown): Promise<UserTable> {
  const name = normalizeUsername(username)
  const row = await db
    .selectFrom('users')
    .selectAll()
    .where('username_key', '=', usernameKey(name))
    .executeTakeFirst()
  if (!row) {
    throw new CryptorgError('ERR_NOT_FOUND', `user ${quoteInput(name)} not found`, {
      details: { field: 'username' },
    })
  }
  return row
}
