/**
 * Organizations: the tenants whose price history cryptorg keeps. Every operation acts as one
 * user: an organization they are not a member of does not exist for them (admins and the
 * system see all), and changing one needs the owner role.
 *
 * @module
 */
import { randomUUID } from 'node:crypto'

import { sql } from 'kysely'

import { encodeTimestamp, isUniqueViolation } from '../db/dialect.js'
import type { OrganizationTable, Role } from '../db/schema.js'
import { CryptorgError, validationError } from '../errors.js'
import { type Actor, findVisibleOrg, requireRole, resolveAccess } from './actor.js'
import { recordAudit } from './audit.js'
import { parseRole } from './members.js'
import type { CoreContext } from './context.js'
import { formatTimestamp } from './time.js'
import { CONTROL_CHARACTERS, normalizeOrgName, orgNameKey, requireObject } from './validate.js'

export { findOrgRow } from './orgs-lookup.js'

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

export const ORG_ORDERINGS = ['name', '-name', 'created_at', '-created_at'] as const
export type OrgOrdering = (typeof ORG_ORDERINGS)[number]

/** Options of {@link OrgService.list}. */
export interface OrgListOptions {
  /** Only names containing this text, compared case-insensitively. */
  search?: string
  /** A field, `-` first for descending. @default 'created_at' */
  ordering?: OrgOrdering
}

/**
 * Organization operations. `ref` arguments accept an id or a name (names match
 * case-insensitively).
 */
export interface OrgService {
  /**
   * Creates an organization; a user who creates one becomes its owner.
   *
   * @throws CryptorgError `ERR_VALIDATION` for a bad name, `ERR_CONFLICT` when the name is taken.
   */
  create(name: string): Promise<Organization>
  /** The organizations the actor may see (all of them for admins), oldest first by default. */
  list(options?: OrgListOptions): Promise<Organization[]>
  /**
   * One organization. With `check`, also fails unless the actor may do that, so a front end can
   * refuse before asking a person to confirm.
   *
   * @throws CryptorgError `ERR_NOT_FOUND`, `ERR_FORBIDDEN`
   */
  get(ref: string, check?: { role: Role; doing: string }): Promise<Organization>
  /** @throws CryptorgError `ERR_NOT_FOUND`, `ERR_FORBIDDEN`, `ERR_VALIDATION`, `ERR_CONFLICT` */
  rename(ref: string, newName: string): Promise<Organization>
  /**
   * Deletes the organization, its whole price history and its memberships.
   *
   * @throws CryptorgError `ERR_NOT_FOUND`, `ERR_FORBIDDEN`
   */
  delete(ref: string): Promise<DeletedOrganization>
}

export function createOrgService(context: CoreContext, actor: Actor): OrgService {
  const { db, clock } = context

  return {
    async create(input) {
      const name = normalizeOrgName(input)
      const access = await resolveAccess(db, actor)
      const now = clock.now()
      const row: OrganizationTable = {
        id: randomUUID(),
        name,
        name_key: orgNameKey(name),
        created_at: encodeTimestamp(now),
      }
      try {
        await db.transaction().execute(async (trx) => {
          await trx.insertInto('organizations').values(row).execute()
          if (access.userId !== null) {
            await trx
              .insertInto('memberships')
              .values({
                org_id: row.id,
                user_id: access.userId,
                role: 'owner',
                created_at: row.created_at,
              })
              .execute()
          }
          await recordAudit(trx, access, now, { action: 'org.create', org: row })
        })
      } catch (error) {
        if (isUniqueViolation(error)) throw nameTaken(name)
        throw error
      }
      return toOrganization(row)
    },

    async list(options = {}) {
      requireObject(options, 'list options')
      const access = await resolveAccess(db, actor)
      const ordering = parseOrdering(options.ordering)
      let query = db.selectFrom('organizations as o').selectAll('o')
      if (!access.unrestricted) {
        query = query.where('o.id', 'in', (eb) =>
          eb
            .selectFrom('memberships')
            .select('org_id')
            .where('user_id', '=', access.userId as string),
        )
      }
      if (options.search !== undefined) {
        const needle = searchKey(options.search)
        // An escape character must be named: neither dialect treats the backslash as one in
        // every configuration.
        const pattern = likePattern(needle)
        if (needle !== '') query = query.where(sql<boolean>`o.name_key like ${pattern} escape '\\'`)
      }
      const direction = ordering.startsWith('-') ? 'desc' : 'asc'
      const rows = ordering.endsWith('name')
        ? await query.orderBy('o.name_key', direction).orderBy('o.id').execute()
        : await query.orderBy('o.created_at', direction).orderBy('o.name_key').execute()
      return rows.map(toOrganization)
    },

    async get(ref, check) {
      const access = await resolveAccess(db, actor)
      const org = await findVisibleOrg(db, access, ref)
      if (check) requireRole(access, org, parseRole(check.role), String(check.doing))
      return toOrganization(org.row)
    },

    async rename(ref, newNameInput) {
      const newName = normalizeOrgName(newNameInput, 'new name')
      const access = await resolveAccess(db, actor)
      const org = await findVisibleOrg(db, access, ref)
      requireRole(access, org, 'owner', 'renaming')
      try {
        await db.transaction().execute(async (trx) => {
          await trx
            .updateTable('organizations')
            .set({ name: newName, name_key: orgNameKey(newName) })
            .where('id', '=', org.row.id)
            .execute()
          await recordAudit(trx, access, clock.now(), {
            action: 'org.rename',
            org: { id: org.row.id, name: newName },
            details: { from: org.row.name, to: newName },
          })
        })
      } catch (error) {
        if (isUniqueViolation(error)) throw nameTaken(newName)
        throw error
      }
      return toOrganization({ ...org.row, name: newName })
    },

    async delete(ref) {
      const access = await resolveAccess(db, actor)
      return db.transaction().execute(async (trx) => {
        const org = await findVisibleOrg(trx, access, ref)
        requireRole(access, org, 'owner', 'deleting')
        const { count } = await trx
          .selectFrom('crypto_prices')
          .select((eb) => eb.fn.countAll<number | string>().as('count'))
          .where('org_id', '=', org.row.id)
          .executeTakeFirstOrThrow()
        // Prices and memberships go with the organization through ON DELETE CASCADE.
        await trx.deleteFrom('organizations').where('id', '=', org.row.id).execute()
        const deleted = Number(count)
        await recordAudit(trx, access, clock.now(), {
          action: 'org.delete',
          org: org.row,
          details: { prices_deleted: deleted },
        })
        return { organization: toOrganization(org.row), prices_deleted: deleted }
      })
    },
  }
}

function parseOrdering(value: unknown): OrgOrdering {
  if (value === undefined) return 'created_at'
  if (typeof value === 'string' && (ORG_ORDERINGS as readonly string[]).includes(value)) {
    return value as OrgOrdering
  }
  throw validationError(
    'ordering',
    `ordering must be one of ${ORG_ORDERINGS.join(', ')}, got ${JSON.stringify(String(value))}`,
  )
}

/** The search text in the same folded form as `name_key`, so matching is case-insensitive. */
function searchKey(value: unknown): string {
  if (typeof value !== 'string') throw validationError('search', 'search must be a string')
  if ([...value].length > 200)
    throw validationError('search', 'search must be at most 200 characters')
  // No name holds one (see normalizeOrgName), and Postgres refuses a NUL in any text.
  if (CONTROL_CHARACTERS.test(value) || /\p{Cs}/u.test(value)) {
    throw validationError('search', 'search must not contain control characters')
  }
  return orgNameKey(value.normalize('NFC'))
}

/** A LIKE pattern matching names that contain `needle`, with its wildcards taken literally. */
function likePattern(needle: string): string {
  return `%${needle.replace(/[\\%_]/g, (c) => `\\${c}`)}%`
}

function toOrganization(row: OrganizationTable): Organization {
  return { id: row.id, name: row.name, created_at: formatTimestamp(row.created_at) }
}

function nameTaken(name: string): CryptorgError {
  return new CryptorgError('ERR_CONFLICT', `organization ${JSON.stringify(name)} already exists`, {
    details: { field: 'name' },
  })
}
