/**
 * Turning an organization reference (an id or a name) into a row. Shared by the services and by
 * the permission checks in actor.ts.
 *
 * @module
 */
import type { Kysely } from 'kysely'

import type { Database, OrganizationTable } from '../db/schema.js'
import { CryptorgError, validationError } from '../errors.js'
import { quoteInput } from './money.js'
import { CONTROL_CHARACTERS, isUuid, orgNameKey, requireString } from './validate.js'

/** Which column a reference is looked up in, and with what value. */
export function orgLookup(ref: string): {
  trimmed: string
  column: 'id' | 'name_key'
  value: string
} {
  const trimmed = requireString(ref, 'org').trim()
  if (trimmed === '') throw validationError('org', 'organization must be given as an id or a name')
  // No name holds one, and Postgres refuses a NUL in any text: say so instead of a 500.
  if (CONTROL_CHARACTERS.test(trimmed) || /\p{Cs}/u.test(trimmed)) {
    throw validationError('org', 'organization must not contain control characters')
  }
  return isUuid(trimmed)
    ? { trimmed, column: 'id', value: trimmed.toLowerCase() }
    : { trimmed, column: 'name_key', value: orgNameKey(trimmed.normalize('NFC')) }
}

/**
 * Finds an organization row by id or name, whoever asks.
 *
 * @throws CryptorgError `ERR_NOT_FOUND`
 */
export async function findOrgRow(db: Kysely<Database>, ref: string): Promise<OrganizationTable> {
  const { trimmed, column, value } = orgLookup(ref)
  const row = await db
    .selectFrom('organizations')
    .selectAll()
    .where(column, '=', value)
    .executeTakeFirst()
  if (!row) {
    throw new CryptorgError('ERR_NOT_FOUND', `organization ${quoteInput(trimmed)} not found`, {
      details: { org: trimmed },
    })
  }
  return row
}
