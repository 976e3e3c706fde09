/**
 * Who is acting, and what they may do. The core decides every permission here from the
 * database, not from the actor object: an actor only names a user, so holding a stale or
 * hand-made actor grants nothing the user does not have now.
 *
 * @module
 */
import type { Kysely } from 'kysely'

import { prepared, slot } from '../db/prepared.js'
import type { Database, OrganizationTable, Role, UserTable } from '../db/schema.js'
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
  return accessOf(actor, user)
}

type UserRights = Pick<UserTable, 'id' | 'username' | 'is_admin' | 'is_active'>

function accessOf(actor: UserActor, user: UserRights | undefined): Access {
  if (!user) throw userGone()
  if (!user.is_active) {
    throw new CryptorgError('ERR_UNAUTHENTICATED', `user ${user.username} is deactivated`)
  }
  return { actor, userId: user.id, name: user.username, unrestricted: user.is_admin === 1 }
}

function userGone(): CryptorgError {
  return new CryptorgError('ERR_UNAUTHENTICATED', 'this user no longer exists')
}

/**
 * {@link resolveAccess} then {@link findVisibleOrg}, with the same answers and errors, in one
 * query for a user: most operations on an organization start with both, and each query costs
 * more in the query builder and driver than in the database.
 *
 * @throws CryptorgError as resolveAccess and findVisibleOrg do
 */
export async function resolveOrgAccess(
  db: Kysely<Database>,
  actor: Actor,
  ref: string,
): Promise<{ access: Access; org: VisibleOrg }> {
  if (actor?.kind !== 'user' || typeof actor.id !== 'string') {
    const access = await resolveAccess(db, actor)
    return { access, org: await findVisibleOrg(db, access, ref) }
  }
  let lookup: ReturnType<typeof orgLookup>
  try {
    lookup = orgLookup(ref)
  } catch (error) {
    // The user's own state is reported first, as when the two checks run one after the other.
    await resolveAccess(db, actor)
    throw error
  }
  const { trimmed, column, value } = lookup
  const [found] = await ORG_ACCESS[column](db, [value, actor.id])
  if (!found) throw userGone()
  const { user_id, user_username, user_is_admin, user_is_active, role, ...row } = found
  const user = { id: user_id, username: user_username, is_admin: user_is_admin }
  const access = accessOf(actor, { ...user, is_active: user_is_active })
  // Left-joined: every organization column is null when no organization matched.
  if (row.id === null || (role === null && !access.unrestricted)) throw orgNotFound(trimmed)
  return { access, org: { row: row as OrganizationTable, role } }
}

/**
 * The user, the organization found by `column` and the user's membership in it, in one query:
 * it runs on every price read, so it is prepared (see src/db/prepared.ts).
 */
function orgAccessQuery(column: 'id' | 'name_key') {
  const [ref, user] = [slot('org ref'), slot('user id')]
  return prepared([ref, user], (db) =>
    db
      .selectFrom('users as u')
      .leftJoin('organizations as o', (join) => join.on(`o.${column}`, '=', ref))
      .leftJoin('memberships as m', (join) =>
        join.onRef('m.org_id', '=', 'o.id').onRef('m.user_id', '=', 'u.id'),
      )
      .selectAll('o')
      .select([
        'u.id as user_id',
        'u.username as user_username',
        'u.is_admin as user_is_admin',
        'u.is_active as user_is_active',
        'm.role',
      ])
      .where('u.id', '=', user),
  )
}

const ORG_ACCESS = { id: orgAccessQuery('id'), name_key: orgAccessQuery('name_key') }

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
