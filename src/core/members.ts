/**
 * Memberships: who belongs to an organization and with which role. Owners manage members;
 * an organization always keeps at least one owner.
 *
 * @module
 */
import type { Kysely } from 'kysely'

import { encodeTimestamp } from '../db/dialect.js'
import type { Database, Role } from '../db/schema.js'
import { CryptorgError, validationError } from '../errors.js'
import {
  type Access,
  type Actor,
  ROLES,
  type VisibleOrg,
  findVisibleOrg,
  requireRole,
  resolveAccess,
} from './actor.js'
import { recordAudit } from './audit.js'
import type { CoreContext } from './context.js'
import { formatTimestamp } from './time.js'
import { findUserRow } from './users-lookup.js'

/** A member as the library returns it and the CLI prints it. */
export interface Member {
  username: string
  role: Role
  /** ISO-8601 UTC: when the user joined. */
  joined_at: string
  is_active: boolean
}

export interface MemberService {
  /** Members of an organization, owners first. Any member may look. */
  list(org: string): Promise<Member[]>
  /** @throws CryptorgError `ERR_CONFLICT` when already a member, `ERR_FORBIDDEN` unless owner */
  add(org: string, username: string, role?: Role): Promise<Member>
  /** @throws CryptorgError `ERR_CONFLICT` when this would remove the last owner */
  remove(org: string, username: string): Promise<void>
  /** @throws CryptorgError `ERR_CONFLICT` when this would demote the last owner */
  setRole(org: string, username: string, role: Role): Promise<Member>
}

export function parseRole(value: unknown): Role {
  if (typeof value === 'string' && (ROLES as readonly string[]).includes(value.trim())) {
    return value.trim() as Role
  }
  throw validationError(
    'role',
    `role must be one of ${ROLES.join(', ')}, got ${JSON.stringify(String(value))}`,
  )
}

export function createMemberService(context: CoreContext, actor: Actor): MemberService {
  const { db, clock } = context

  /** The organization, checked for owner rights, inside a transaction. */
  const manage = async (trx: Kysely<Database>, access: Access, ref: string, doing: string) => {
    const org = await findVisibleOrg(trx, access, ref)
    requireRole(access, org, 'owner', doing)
    return org
  }

  return {
    async list(ref) {
      const access = await resolveAccess(db, actor)
      const org = await findVisibleOrg(db, access, ref)
      const rows = await db
        .selectFrom('memberships as m')
        .innerJoin('users as u', 'u.id', 'm.user_id')
        .select(['u.username', 'u.username_key', 'u.is_active', 'm.role', 'm.created_at'])
        .where('m.org_id', '=', org.row.id)
        .execute()
      return rows
        .sort((a, b) => rank(a.role) - rank(b.role) || a.username_key.localeCompare(b.username_key))
        .map((row) => toMember(row))
    },

    async add(ref, username, roleInput = 'member') {
      const role = parseRole(roleInput)
      const access = await resolveAccess(db, actor)
      return db.transaction().execute(async (trx) => {
        const org = await manage(trx, access, ref, 'adding members to')
        const user = await findUserRow(trx, username)
        const existing = await membership(trx, org, user.id)
        if (existing) {
          throw new CryptorgError(
            'ERR_CONFLICT',
            `${user.username} is already ${existing === 'owner' ? 'an' : 'a'} ${existing} of ` +
              JSON.stringify(org.row.name),
            { details: { field: 'username' } },
          )
        }
        const now = clock.now()
        const created_at = encodeTimestamp(now)
        await trx
          .insertInto('memberships')
          .values({ org_id: org.row.id, user_id: user.id, role, created_at })
          .execute()
        await recordAudit(trx, access, now, {
          action: 'member.add',
          org: org.row,
          user: user.username,
          details: { role },
        })
        return toMember({ ...user, role, created_at })
      })
    },

    async remove(ref, username) {
      const access = await resolveAccess(db, actor)
      await db.transaction().execute(async (trx) => {
        const org = await manage(trx, access, ref, 'removing members from')
        const user = await findUserRow(trx, username)
        const role = await requireMembership(trx, org, user)
        if (role === 'owner') await keepAnOwner(trx, org, user.id, 'remove')
        await trx
          .deleteFrom('memberships')
          .where('org_id', '=', org.row.id)
          .where('user_id', '=', user.id)
          .execute()
        await recordAudit(trx, access, clock.now(), {
          action: 'member.remove',
          org: org.row,
          user: user.username,
          details: { role },
        })
      })
    },

    async setRole(ref, username, roleInput) {
      const role = parseRole(roleInput)
      const access = await resolveAccess(db, actor)
      return db.transaction().execute(async (trx) => {
        const org = await manage(trx, access, ref, 'changing roles in')
        const user = await findUserRow(trx, username)
        const previous = await requireMembership(trx, org, user)
        if (previous === 'owner' && role !== 'owner') await keepAnOwner(trx, org, user.id, 'demote')
        const row = await trx
          .updateTable('memberships')
          .set({ role })
          .where('org_id', '=', org.row.id)
          .where('user_id', '=', user.id)
          .returning('created_at')
          .executeTakeFirstOrThrow()
        if (previous !== role) {
          await recordAudit(trx, access, clock.now(), {
            action: 'member.role',
            org: org.row,
            user: user.username,
            details: { from: previous, to: role },
          })
        }
        return toMember({ ...user, role, created_at: row.created_at })
      })
    },
  }
}

function rank(role: Role): number {
  return ROLES.indexOf(role)
}

async function membership(
  db: Kysely<Database>,
  org: VisibleOrg,
  userId: string,
): Promise<Role | undefined> {
  const row = await db
    .selectFrom('memberships')
    .select('role')
    .where('org_id', '=', org.row.id)
    .where('user_id', '=', userId)
    .executeTakeFirst()
  return row?.role
}

async function requireMembership(
  db: Kysely<Database>,
  org: VisibleOrg,
  user: { id: string; username: string },
): Promise<Role> {
  const role = await membership(db, org, user.id)
  if (!role) {
    throw new CryptorgError(
      'ERR_NOT_FOUND',
      `${user.username} is not a member of ${JSON.stringify(org.row.name)}`,
      { details: { field: 'username' } },
    )
  }
  return role
}

/** Refuses a change that would leave the organization without an owner. */
/**
 * Refuses a change that would leave the organization without an active owner: a deactivated
 * owner cannot sign in to manage it.
 */
async function keepAnOwner(
  db: Kysely<Database>,
  org: VisibleOrg,
  leaving: string,
  change: string,
): Promise<void> {
  const { owners } = await db
    .selectFrom('memberships as m')
    .innerJoin('users as u', 'u.id', 'm.user_id')
    .select((eb) => eb.fn.countAll<number | string>().as('owners'))
    .where('m.org_id', '=', org.row.id)
    .where('m.role', '=', 'owner')
    .where('u.is_active', '=', 1)
    .where('m.user_id', '!=', leaving)
    .executeTakeFirstOrThrow()
  if (Number(owners) === 0) {
    throw new CryptorgError(
      'ERR_CONFLICT',
      `cannot ${change} the last active owner of ${JSON.stringify(org.row.name)}: make ` +
        'someone else an owner first',
    )
  }
}

function toMember(row: {
  username: string
  is_active: number
  role: Role
  created_at: string
}): Member {
  return {
    username: row.username,
    role: row.role,
    joined_at: formatTimestamp(row.created_at),
    is_active: row.is_active === 1,
  }
}
