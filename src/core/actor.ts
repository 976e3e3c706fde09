/**
 * Who is acting, and what they may do. The core decides every permission here from the
 * database, not from the actor object: an actor only names a user, so holding a stale or
 * hand-made actor grants nothing the user does not have now.
 *
 * @module
 */
import type { Kysely } from 'kysely'

import type { Database, OrganizationTable, Role } from '../db/schema.js'
import { CryptorgError } from '../errors.js'
import { quoteInput } from './money.js'
import { findOrgRow, orgLookup } from './orgs-lookup.js'

/** A signed-in user. Obtain one from `auth.authenticate()` or `users.actor()`. */
export interface UserActor {
  readonly kind: 'user'
  readonly id: string
  readonly username: string
}

/** The installation itself: the daemon, maintenance and migrations. Sees everything. */
export interface SystemActor {
  readonly kind: 'system'
}

export type Actor = UserActor | SystemActor

export const SYSTEM: SystemActor = Object.freeze({ kind: 'system' })

/** What an actor may do right now, read from the database. */
export interface Access {
  readonly actor: Actor
  /** Null for the system. */
  readonly userId: string | null
  readonly name: string
  /** Admins and the system see and do everything. */
  readonly unrestricted: boolean
}

const ROLE_RANK: Record<Role, number> = { viewer: 1, member: 2, owner: 3 }

export const ROLES: readonly Role[] = Object.freeze(['owner', 'member', 'viewer'])

/**
 * Loads the actor's current rights.
 *
 * @throws CryptorgError `ERR_UNAUTHENTICATED` when the user no longer exists or is deactivated,
 *   `ERR_VALIDATION` when `actor` is not an actor.
 */
export async function resolveAccess(db: Kysely<Database>, actor: Actor): Promise<Access> {
  if (actor?.kind === 'system') {
    return { actor, userId: null, name: 'system', unrestricted: true }
  }
  if (actor?.kind !== 'user' || typeof actor.id !== 'string') {
    throw new CryptorgError('ERR_VALIDATION', 'actor must be SYSTEM or a user actor', {
      details: { field: 'actor' },
    })
  }
  const user = await db
    .selectFrom('users')
    .select(['id', 'username', 'is_admin', 'is_active'])
    .where('id', '=', actor.id)
    .executeTakeFirst()
  if (!user) throw new CryptorgError('ERR_UNAUTHENTICATED', 'this user no longer exists')
  if (!user.is_active) {
    throw new CryptorgError('ERR_UNAUTHENTICATED', `user ${user.username} is deactivated`)
  }
  return { actor, userId: user.id, name: user.username, unrestricted: user.is_admin === 1 }
}

/** An organization together with the actor's role in it (null for admins who are not members). */
export interface VisibleOrg {
  row: OrganizationTable
  role: Role | null
}

/**
 * Finds an organization by id or name as the actor sees it. One the actor may not see is
 * reported exactly like one that does not exist, so its existence does not leak.
 *
 * @throws CryptorgError `ERR_NOT_FOUND`
 */
export async function findVisibleOrg(
  db: Kysely<Database>,
  access: Access,
  ref: string,
): Promise<VisibleOrg> {
  if (access.userId === null) return { row: await findOrgRow(db, ref), role: null }
  const { trimmed, column, value } = orgLookup(ref)
  const found = await db
    .selectFrom('organizations as o')
    .leftJoin('memberships as m', (join) =>
      join.onRef('m.org_id', '=', 'o.id').on('m.user_id', '=', access.userId),
    )
    .selectAll('o')
    .select('m.role')
    .where(`o.${column}`, '=', value)
    .executeTakeFirst()
  if (!found || (found.role === null && !access.unrestricted)) throw orgNotFound(trimmed)
  const { role, ...row } = found
  return { row, role }
}

/**
 * Throws unless the actor has at least `needed` in the organization. `doing` reads before the
 * organization's name: `adding prices to` gives `adding prices to "Acme" needs ...`.
 *
 * @throws CryptorgError `ERR_FORBIDDEN` naming the role held and the one needed
 */
export function requireRole(access: Access, org: VisibleOrg, needed: Role, doing: string): void {
  if (access.unrestricted) return
  const held = org.role
  if (held !== null && ROLE_RANK[held] >= ROLE_RANK[needed]) return
  throw new CryptorgError(
    'ERR_FORBIDDEN',
    `${doing} ${JSON.stringify(org.row.name)} needs the ${needed} role ` +
      `(you are ${held === null ? 'not a member' : held === 'owner' ? 'an owner' : `a ${held}`})`,
    { details: { org: org.row.id, role: held, needed } },
  )
}

/** @throws CryptorgError `ERR_FORBIDDEN` unless the actor is an admin or the system */
export function requireAdmin(access: Access, doing: string): void {
  if (access.unrestricted) return
  throw new CryptorgError('ERR_FORBIDDEN', `${doing} needs an administrator`)
}

export function orgNotFound(ref: string): CryptorgError {
  return new CryptorgError('ERR_NOT_FOUND', `organization ${quoteInput(ref)} not found`, {
    details: { org: ref },
  })
}
