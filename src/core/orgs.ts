/**
 * Organizations: the tenants whose price history cryptorg keeps.
 *
 * @module
 */
import { randomUUID } from 'node:crypto'

import type { Kysely } from 'kysely'

import { encodeTimestamp, isUniqueViolation } from '../db/dialect.js'
import type { Database, OrganizationTable } from '../db/schema.js'
import { CryptorgError, validationError } from '../errors.js'
import type { CoreContext } from './context.js'
import { quoteInput } from './money.js'
import { formatTimestamp } from './time.js'
import { isUuid, normalizeOrgName, orgNameKey, requireString } from './validate.js'

/** An organization as the library returns it and the CLI and API print it. */
export interface Organization {
  /** UUID v4. */
  id: string
  name: string
  /** ISO-8601 UTC. */
  created_at: string
}

/** What {@link OrgService.delete} removed. */
export interface DeletedOrganization {
  organization: Organization
  /** Price rows removed with the organization. */
  prices_deleted: number
}

/**
 * Organization operations. `ref` arguments accept an id or a name (names match
 * case-insensitively).
 */
export interface OrgService {
  /**
   * @throws CryptorgError `ERR_VALIDATION` for a bad name, `ERR_CONFLICT` when the name is taken.
   */
  create(name: string): Promise<Organization>
  /** Every organization, oldest first. */
  list(): Promise<Organization[]>
  /** @throws CryptorgError `ERR_NOT_FOUND` */
  get(ref: string): Promise<Organization>
  /** @throws CryptorgError `ERR_NOT_FOUND`, `ERR_VALIDATION`, `ERR_CONFLICT` */
  rename(ref: string, newName: string): Promise<Organization>
  /** Deletes the organization and its whole price history. @throws CryptorgError `ERR_NOT_FOUND` */
  delete(ref: string): Promise<DeletedOrganization>
}

export function createOrgService(context: CoreContext): OrgService {
  const { db, clock } = context

  return {
    async create(input) {
      const name = normalizeOrgName(input)
      const row: OrganizationTable = {
        id: randomUUID(),
        name,
        name_key: orgNameKey(name),
        created_at: encodeTimestamp(clock.now()),
      }
      try {
        await db.insertInto('organizations').values(row).execute()
      } catch (error) {
        if (isUniqueViolation(error)) throw nameTaken(name)
        throw error
      }
      return toOrganization(row)
    },

    async list() {
      const rows = await db
        .selectFrom('organizations')
        .selectAll()
        .orderBy('created_at')
        .orderBy('name_key')
        .execute()
      return rows.map(toOrganization)
    },

    async get(ref) {
      return toOrganization(await findOrgRow(db, ref))
    },

    async rename(ref, newNameInput) {
      const newName = normalizeOrgName(newNameInput, 'new name')
      const row = await findOrgRow(db, ref)
      try {
        await db
          .updateTable('organizations')
          .set({ name: newName, name_key: orgNameKey(newName) })
          .where('id', '=', row.id)
          .execute()
      } catch (error) {
        if (isUniqueViolation(error)) throw nameTaken(newName)
        throw error
      }
      return toOrganization({ ...row, name: newName })
    },

    async delete(ref) {
      return db.transaction().execute(async (trx) => {
        const row = await findOrgRow(trx, ref)
        const { count } = await trx
          .selectFrom('crypto_prices')
          .select((eb) => eb.fn.countAll<number | string>().as('count'))
          .where('org_id', '=', row.id)
          .executeTakeFirstOrThrow()
        // Prices go with the organization through ON DELETE CASCADE.
        await trx.deleteFrom('organizations').where('id', '=', row.id).execute()
        return { organization: toOrganization(row), prices_deleted: Number(count) }
      })
    },
  }
}

/**
 * Finds an organization row by id or name.
 *
 * @throws CryptorgError `ERR_NOT_FOUND`
 */
export async function findOrgRow(db: Kysely<Database>, ref: string): Promise<OrganizationTable> {
  const trimmed = requireString(ref, 'org').trim()
  if (trimmed === '') throw validationError('org', 'organization must be given as an id or a name')
  const query = db.selectFrom('organizations').selectAll()
  const row = isUuid(trimmed)
    ? await query.where('id', '=', trimmed.toLowerCase()).executeTakeFirst()
    : await query.where('name_key', '=', orgNameKey(trimmed.normalize('NFC'))).executeTakeFirst()
  if (!row) {
    throw new CryptorgError('ERR_NOT_FOUND', `organization ${quoteInput(trimmed)} not found`, {
      details: { org: trimmed },
    })
  }
  return row
}

function toOrganization(row: OrganizationTable): Organization {
  return { id: row.id, name: row.name, created_at: formatTimestamp(row.created_at) }
}

function nameTaken(name: string): CryptorgError {
  return new CryptorgError('ERR_CONFLICT', `organization ${JSON.stringify(name)} already exists`, {
    details: { field: 'name' },
  })
}
