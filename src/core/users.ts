/**
 * Users of an installation. Administrators manage every user; everyone may change their own
 * password. Changing a password or deactivating a user ends every session of that user.
 *
 * @module
 */
import { randomUUID } from 'node:crypto'

import type { Kysely } from 'kysely'

import {
  type PasswordHashing,
  checkNewPassword,
  hashPassword,
  verifyPassword,
} from '../auth/password.js'
import { encodeTimestamp, isUniqueViolation } from '../db/dialect.js'
import type { Database, UserTable } from '../db/schema.js'
import { CryptorgError } from '../errors.js'
import { type Access, type Actor, requireAdmin, resolveAccess } from './actor.js'
import { recordAudit } from './audit.js'
import type { CoreContext } from './context.js'
import { formatTimestamp } from './time.js'
import { findUserRow, newUsername, usernameKey } from './users-lookup.js'
import { requireObject } from './validate.js'

/** A user as the library returns it and the CLI prints it. Never carries the password hash. */
export interface User {
  id: string
  username: string
  is_admin: boolean
  is_active: boolean
  created_at: string
}

export interface CreateUserInput {
  username: string
  password: string
  /** @default false */
  admin?: boolean
}

export interface ChangePasswordInput {
  newPassword: string
  /** Required when users change their own password, so a forgotten terminal is not enough. */
  currentPassword?: string
}

export interface UserService {
  /** @throws CryptorgError `ERR_FORBIDDEN` unless admin, `ERR_CONFLICT` when the name is taken */
  create(input: CreateUserInput): Promise<User>
  /** Every user, by name. Admins only. */
  list(): Promise<User[]>
  /** The actor's own record, or any user's for an admin. */
  get(username: string): Promise<User>
  /** The acting user's own record. */
  me(): Promise<User>
  /** Sets a new password and ends the user's sessions. */
  changePassword(username: string, input: ChangePasswordInput): Promise<User>
  /** Blocks sign-in and ends every session. The last active admin cannot be deactivated. */
  deactivate(username: string): Promise<User>
  activate(username: string): Promise<User>
  /**
   * Deletes a user with their memberships and sessions.
   *
   * @throws CryptorgError `ERR_CONFLICT` for the last active admin or the last owner of an
   *   organization
   */
  delete(username: string): Promise<User>
}

export interface UserServiceOptions {
  hashing: PasswordHashing
}

export function createUserService(
  context: CoreContext,
  actor: Actor,
  options: UserServiceOptions,
): UserService {
  const { db, clock } = context

  /**
   * Non-admins may only name themselves, decided before any lookup: "forbidden" for a taken
   * name and "not found" for a free one would let them probe which usernames exist.
   */
  const onlySelfUnlessAdmin = (access: Access, username: unknown, doing: string) => {
    if (access.unrestricted) return
    const own =
      typeof username === 'string' && usernameKey(username.trim()) === usernameKey(access.name)
    if (!own) requireAdmin(access, doing)
  }

  return {
    async create(input) {
      requireObject(input, 'user input')
      const username = newUsername(input.username)
      const password = checkNewPassword(input.password)
      const access = await resolveAccess(db, actor)
      requireAdmin(access, 'creating users')
      const row = await newUserRow(username, password, Boolean(input.admin), clock.now(), options)
      await db.transaction().execute(async (trx) => {
        await insertUser(trx, row)
        await recordAudit(trx, access, clock.now(), {
          action: 'user.create',
          user: username,
          details: { admin: row.is_admin === 1 },
        })
      })
      return toUser(row)
    },

    async list() {
      const access = await resolveAccess(db, actor)
      requireAdmin(access, 'listing users')
      const rows = await db.selectFrom('users').selectAll().orderBy('username_key').execute()
      return rows.map(toUser)
    },

    async get(username) {
      const access = await resolveAccess(db, actor)
      onlySelfUnlessAdmin(access, username, 'looking up other users')
      return toUser(await findUserRow(db, username))
    },

    async me() {
      const access = await resolveAccess(db, actor)
      if (access.userId === null) {
        throw new CryptorgError('ERR_VALIDATION', 'the system actor is not a user')
      }
      return toUser(await findUserRow(db, access.name))
    },

    async changePassword(username, input) {
      requireObject(input, 'password input')
      const password = checkNewPassword(input.newPassword, 'new password')
      const access = await resolveAccess(db, actor)
      onlySelfUnlessAdmin(access, username, "changing another user's password")
      const target = await findUserRow(db, username)
      if (access.userId === target.id) {
        const check = await verifyPassword(
          typeof input.currentPassword === 'string' ? input.currentPassword : '',
          target.password_hash,
          options.hashing,
        )
        if (!check.ok) {
          throw new CryptorgError('ERR_FORBIDDEN', 'current password is wrong', {
            details: { field: 'current password' },
          })
        }
      }
      const hash = await hashPassword(password, options.hashing)
      const now = clock.now()
      await db.transaction().execute(async (trx) => {
        await trx
          .updateTable('users')
          .set({ password_hash: hash, password_changed_at: encodeTimestamp(now) })
          .where('id', '=', target.id)
          .execute()
        await revokeSessions(trx, target.id, now, 'password changed')
        await recordAudit(trx, access, now, { action: 'user.password', user: target.username })
      })
      return toUser(target)
    },

    async deactivate(username) {
      return setActive(username, false)
    },

    async activate(username) {
      return setActive(username, true)
    },

    async delete(username) {
      const access = await resolveAccess(db, actor)
      requireAdmin(access, 'deleting users')
      return db.transaction().execute(async (trx) => {
        const target = await findUserRow(trx, username)
        if (target.is_admin && target.is_active) await keepAnAdmin(trx, target, 'delete')
        const owned = await trx
          .selectFrom('memberships as m')
          .innerJoin('organizations as o', 'o.id', 'm.org_id')
          .select('o.name')
          .where('m.user_id', '=', target.id)
          .where('m.role', '=', 'owner')
          .where((eb) =>
            eb.not(
              eb.exists(
                eb
                  .selectFrom('memberships as other')
                  .select('other.user_id')
                  .whereRef('other.org_id', '=', 'm.org_id')
                  .where('other.role', '=', 'owner')
                  .where('other.user_id', '!=', target.id),
              ),
            ),
          )
          .orderBy('o.name_key')
          .execute()
        if (owned.length > 0) {
          const names = owned.map((org) => JSON.stringify(org.name)).join(', ')
          throw new CryptorgError(
            'ERR_CONFLICT',
            `${target.username} is the last owner of ${names}: ` +
              (owned.length === 1
                ? 'give it another owner or delete it first'
                : 'give each another owner or delete them first'),
          )
        }
        await trx.deleteFrom('users').where('id', '=', target.id).execute()
        await recordAudit(trx, access, clock.now(), {
          action: 'user.delete',
          user: target.username,
        })
        return toUser(target)
      })
    },
  }

  async function setActive(username: string, active: boolean): Promise<User> {
    const access = await resolveAccess(db, actor)
    requireAdmin(access, active ? 'activating users' : 'deactivating users')
    return db.transaction().execute(async (trx) => {
      const target = await findUserRow(trx, username)
      if (!active && target.is_admin && target.is_active) {
        await keepAnAdmin(trx, target, 'deactivate')
      }
      if ((target.is_active === 1) === active) return toUser(target)
      const now = clock.now()
      await trx
        .updateTable('users')
        .set({ is_active: active ? 1 : 0 })
        .where('id', '=', target.id)
        .execute()
      if (!active) await revokeSessions(trx, target.id, now, 'user deactivated')
      await recordAudit(trx, access, now, {
        action: active ? 'user.activate' : 'user.deactivate',
        user: target.username,
      })
      return toUser({ ...target, is_active: active ? 1 : 0 })
    })
  }
}

export async function newUserRow(
  username: string,
  password: string,
  admin: boolean,
  now: Date,
  options: UserServiceOptions,
): Promise<UserTable> {
  const at = encodeTimestamp(now)
  return {
    id: randomUUID(),
    username,
    username_key: usernameKey(username),
    password_hash: await hashPassword(password, options.hashing),
    is_admin: admin ? 1 : 0,
    is_active: 1,
    created_at: at,
    password_changed_at: at,
  }
}

export async function insertUser(db: Kysely<Database>, row: UserTable): Promise<void> {
  try {
    await db.insertInto('users').values(row).execute()
  } catch (error) {
    if (isUniqueViolation(error)) {
      throw new CryptorgError(
        'ERR_CONFLICT',
        `user ${JSON.stringify(row.username)} already exists`,
        {
          details: { field: 'username' },
        },
      )
    }
    throw error
  }
}

/** Ends every open session of a user: their refresh and access tokens stop working. */
export async function revokeSessions(
  db: Kysely<Database>,
  userId: string,
  now: Date,
  reason: string,
): Promise<void> {
  await db
    .updateTable('auth_sessions')
    .set({ revoked_at: encodeTimestamp(now), revoked_reason: reason })
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .execute()
}

/** Refuses to remove the last active administrator: nobody could manage users any more. */
async function keepAnAdmin(db: Kysely<Database>, target: UserTable, change: string) {
  const { admins } = await db
    .selectFrom('users')
    .select((eb) => eb.fn.countAll<number | string>().as('admins'))
    .where('is_admin', '=', 1)
    .where('is_active', '=', 1)
    .where('id', '!=', target.id)
    .executeTakeFirstOrThrow()
  if (Number(admins) === 0) {
    throw new CryptorgError(
      'ERR_CONFLICT',
      `cannot ${change} ${target.username}: it is the last active administrator`,
    )
  }
}

export function toUser(row: UserTable): User {
  return {
    id: row.id,
    username: row.username,
    is_admin: row.is_admin === 1,
    is_active: row.is_active === 1,
    created_at: formatTimestamp(row.created_at),
  }
}
