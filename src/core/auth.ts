/**
 * Signing in: the first administrator, password sign-in, token pairs, rotation of refresh
 * tokens and sign-out. A token is only as good as the session it names: ending a session (sign
 * out, a password change, deactivation, reuse of an old refresh token) stops its access tokens
 * at once, not when they expire.
 *
 * @module
 */
import { randomBytes, randomUUID } from 'node:crypto'

import type { Kysely } from 'kysely'

import {
  PASSWORD_MAX_LENGTH,
  type PasswordHashing,
  checkNewPassword,
  hashPassword,
  spendHashTime,
  verifyPassword,
} from '../auth/password.js'
import {
  MIN_SECRET_BYTES,
  type TokenClaims,
  signToken,
  unauthenticated,
  verifyToken,
} from '../auth/tokens.js'
import { encodeTimestamp } from '../db/dialect.js'
import { prepared, slot } from '../db/prepared.js'
import type { Database } from '../db/schema.js'
import { CryptorgError, validationError } from '../errors.js'
import { type UserActor, SYSTEM } from './actor.js'
import { recordAudit } from './audit.js'
import type { CoreContext } from './context.js'
import { formatTimestamp } from './time.js'
import { newUsername, normalizeUsername, usernameKey } from './users-lookup.js'
import { isUuid } from './validate.js'
import { type User, insertUser, newUserRow, toUser } from './users.js'

/** Token lifetimes and the signing secret; see `OpenOptions.auth`. */
export interface AuthOptions {
  /** @default 300 (5 minutes) */
  accessTtlSeconds?: number
  /** @default 86400 (1 day) */
  refreshTtlSeconds?: number
  /**
   * The HS256 signing secret, at least 32 bytes. @default a random secret generated once and
   * kept in the database, so every process on the same database agrees on it
   */
  jwtSecret?: string
}

/** What a successful sign-in or refresh returns. */
export interface TokenPair {
  access: string
  refresh: string
  /** ISO-8601 UTC expiry of each token. */
  access_expires_at: string
  refresh_expires_at: string
  /** The sign-in session both tokens belong to. */
  session_id: string
  user: User
}

export interface AuthService {
  /** True once the first user exists. */
  initialized(): Promise<boolean>
  /**
   * Creates the first administrator of a new installation.
   *
   * @throws CryptorgError `ERR_CONFLICT` when the installation already has users
   */
  bootstrap(input: { username: string; password: string }): Promise<User>
  /**
   * Signs a user in with a password.
   *
   * @throws CryptorgError `ERR_UNAUTHENTICATED` for an unknown user, a wrong password or a
   *   deactivated user, all with the same message
   */
  login(username: string, password: string): Promise<TokenPair>
  /**
   * Exchanges a refresh token for a new pair; the old refresh token is retired. Presenting a
   * retired one again ends the whole session, since one of the two copies was stolen.
   */
  refresh(refreshToken: string): Promise<TokenPair>
  /** Ends the session of a refresh token. Succeeds quietly when it already ended or expired. */
  logout(refreshToken: string): Promise<void>
  /**
   * Ends a session by its id, for trusted local callers such as the CLI, which keeps the id
   * beside the tokens and must be able to sign out even when the tokens are lost or unreadable.
   * Returns false when there was no open session with that id.
   */
  endSession(sessionId: string): Promise<boolean>
  /** Checks an access token and returns the actor it stands for. */
  authenticate(accessToken: string): Promise<UserActor>
  /** Checks either kind of token, as SimpleJWT's verify endpoint does. */
  verify(token: string): Promise<TokenClaims>
  /** The actor for a username, for trusted library callers such as scripts on the server. */
  actorFor(username: string): Promise<UserActor>
}

export const DEFAULT_ACCESS_TTL_SECONDS = 300
export const DEFAULT_REFRESH_TTL_SECONDS = 86_400
const MAX_TTL_SECONDS = 365 * 86_400
const SECRET_SETTING = 'jwt_secret'

export function checkAuthOptions(options: AuthOptions = {}): Required<
  Omit<AuthOptions, 'jwtSecret'>
> & {
  jwtSecret: Uint8Array | undefined
} {
  const ttl = (value: number | undefined, fallback: number, field: string) => {
    const seconds = value ?? fallback
    if (!Number.isInteger(seconds) || seconds < 1 || seconds > MAX_TTL_SECONDS) {
      throw validationError(field, `${field} must be a whole number of seconds from 1 to 1 year`)
    }
    return seconds
  }
  let jwtSecret: Uint8Array | undefined
  if (options.jwtSecret !== undefined) {
    if (typeof options.jwtSecret !== 'string') {
      throw validationError('jwtSecret', 'the JWT secret must be a string')
    }
    jwtSecret = new TextEncoder().encode(options.jwtSecret)
    if (jwtSecret.length < MIN_SECRET_BYTES) {
      // Never echo the secret, not even its start.
      throw validationError(
        'jwtSecret',
        `the JWT secret must be at least ${MIN_SECRET_BYTES} bytes`,
      )
    }
  }
  return {
    accessTtlSeconds: ttl(options.accessTtlSeconds, DEFAULT_ACCESS_TTL_SECONDS, 'accessTtlSeconds'),
    refreshTtlSeconds: ttl(
      options.refreshTtlSeconds,
      DEFAULT_REFRESH_TTL_SECONDS,
      'refreshTtlSeconds',
    ),
    jwtSecret,
  }
}

const [SESSION_ID, SESSION_USER] = [slot('session id'), slot('session user')]

/**
 * A session and its user, looked up on every authenticated request: prepared once (see
 * src/db/prepared.ts) rather than built and compiled each time.
 */
const OPEN_SESSION = prepared([SESSION_ID, SESSION_USER], (db) =>
  db
    .selectFrom('auth_sessions as s')
    .innerJoin('users as u', 'u.id', 's.user_id')
    .selectAll('u')
    .select(['s.refresh_jti', 's.revoked_at', 's.revoked_reason', 's.expires_at'])
    .where('s.id', '=', SESSION_ID)
    .where('s.user_id', '=', SESSION_USER),
)

export function createAuthService(
  context: CoreContext,
  options: ReturnType<typeof checkAuthOptions> & { hashing: PasswordHashing },
): AuthService {
  const { db, clock } = context
  let secretPromise: Promise<Uint8Array> | undefined
  const secret = () => {
    if (options.jwtSecret) return Promise.resolve(options.jwtSecret)
    // A failed read is not cached, so the next call tries again.
    secretPromise ??= loadOrCreateSecret(db).catch((error: unknown) => {
      secretPromise = undefined
      throw error
    })
    return secretPromise
  }

  const issuePair = async (
    user: User,
    sessionId: string,
    refreshJti: string,
    now: Date,
  ): Promise<TokenPair> => {
    const key = await secret()
    const base = { sub: user.id, sid: sessionId, now }
    const [access, refresh] = await Promise.all([
      signToken(key, { ...base, tokenType: 'access', ttlSeconds: options.accessTtlSeconds }),
      signToken(key, {
        ...base,
        tokenType: 'refresh',
        ttlSeconds: options.refreshTtlSeconds,
        jti: refreshJti,
      }),
    ])
    const at = (seconds: number) =>
      formatTimestamp(
        encodeTimestamp(new Date((Math.floor(now.getTime() / 1000) + seconds) * 1000)),
      )
    return {
      access,
      refresh,
      access_expires_at: at(options.accessTtlSeconds),
      refresh_expires_at: at(options.refreshTtlSeconds),
      session_id: sessionId,
      user,
    }
  }

  /** The session and user a token names, if the session is still open and the user active. */
  const openSession = async (claims: TokenClaims) => {
    const [row] = await OPEN_SESSION(db, [claims.sid, claims.sub])
    if (!row) throw unauthenticated('session', 'this session does not exist')
    if (row.revoked_at !== null) {
      throw unauthenticated(
        'session',
        `this session has ended (${row.revoked_reason ?? 'revoked'})`,
      )
    }
    if (!row.is_active) throw unauthenticated('inactive', `user ${row.username} is deactivated`)
    return row
  }

  return {
    async initialized() {
      const row = await db.selectFrom('users').select('id').limit(1).executeTakeFirst()
      return row !== undefined
    },

    async bootstrap(input) {
      const username = newUsername(input?.username)
      const password = checkNewPassword(input?.password)
      const now = clock.now()
      const row = await newUserRow(username, password, true, now, options)
      await db.transaction().execute(async (trx) => {
        const existing = await trx.selectFrom('users').select('id').limit(1).executeTakeFirst()
        if (existing) {
          throw new CryptorgError(
            'ERR_CONFLICT',
            'this installation already has users: sign in with an existing one',
          )
        }
        await insertUser(trx, row)
        await loadOrCreateSecret(trx)
        const access = { actor: SYSTEM, userId: null, name: 'system', unrestricted: true }
        await recordAudit(trx, access, now, {
          action: 'user.create',
          user: username,
          details: { admin: true, first: true },
        })
      })
      return toUser(row)
    },

    async login(usernameInput, password) {
      const failed = () =>
        new CryptorgError('ERR_UNAUTHENTICATED', 'wrong username or password', {
          details: { reason: 'credentials' },
        })
      if (typeof password !== 'string' || password === '') {
        throw validationError('password', 'password must not be empty')
      }
      // No stored password is longer: refuse without hashing megabytes.
      if (password.length > PASSWORD_MAX_LENGTH * 4) throw failed()
      let username: string
      try {
        username = normalizeUsername(usernameInput)
      } catch {
        // People type passwords into the username field: never quote it back. A name that
        // cannot exist is answered like any other failed sign-in, in the same time.
        await spendHashTime(password, options.hashing)
        throw failed()
      }
      const row = await db
        .selectFrom('users')
        .selectAll()
        .where('username_key', '=', usernameKey(username))
        .executeTakeFirst()
      if (!row) {
        await spendHashTime(password, options.hashing)
        throw failed()
      }
      const check = await verifyPassword(password, row.password_hash, options.hashing)
      // A deactivated user gets the same answer as a wrong password: nothing to probe.
      if (!check.ok || !row.is_active) throw failed()

      const now = clock.now()
      const sessionId = randomUUID()
      const refreshJti = randomUUID()
      const at = encodeTimestamp(now)
      await db.transaction().execute(async (trx) => {
        await trx
          .insertInto('auth_sessions')
          .values({
            id: sessionId,
            user_id: row.id,
            refresh_jti: refreshJti,
            created_at: at,
            refreshed_at: at,
            expires_at: encodeTimestamp(new Date(now.getTime() + options.refreshTtlSeconds * 1000)),
            revoked_at: null,
            revoked_reason: null,
          })
          .execute()
        if (check.needsRehash) {
          const password_hash = await hashPassword(password, options.hashing)
          await trx.updateTable('users').set({ password_hash }).where('id', '=', row.id).execute()
        }
      })
      return issuePair(toUser(row), sessionId, refreshJti, now)
    },

    async refresh(refreshToken) {
      const now = clock.now()
      const claims = await verifyToken(await secret(), refreshToken, 'refresh', now)
      const user = await openSession(claims)
      if (user.refresh_jti !== claims.jti) {
        await endSession(db, claims.sid, now, 'refresh token reused')
        throw unauthenticated(
          'reused',
          'this refresh token was already used: the session has been ended, sign in again',
        )
      }
      const nextJti = randomUUID()
      const result = await db
        .updateTable('auth_sessions')
        .set({
          refresh_jti: nextJti,
          refreshed_at: encodeTimestamp(now),
          expires_at: encodeTimestamp(new Date(now.getTime() + options.refreshTtlSeconds * 1000)),
        })
        .where('id', '=', claims.sid)
        .where('refresh_jti', '=', claims.jti)
        .where('revoked_at', 'is', null)
        .executeTakeFirst()
      // Another refresh with the same token won the race: that is a reuse as well.
      if (Number(result.numUpdatedRows) !== 1) {
        await endSession(db, claims.sid, now, 'refresh token reused')
        throw unauthenticated('reused', 'this refresh token was already used: sign in again')
      }
      return issuePair(toUser(user), claims.sid, nextJti, now)
    },

    async logout(refreshToken) {
      const now = clock.now()
      let claims: TokenClaims
      try {
        claims = await verifyToken(await secret(), refreshToken, 'refresh', now)
      } catch (error) {
        // An expired refresh token's session can no longer be used anyway.
        if ((error as CryptorgError).details?.['reason'] === 'expired') return
        throw error
      }
      await endSession(db, claims.sid, now, 'signed out')
    },

    async endSession(sessionId) {
      if (typeof sessionId !== 'string' || !isUuid(sessionId)) return false
      return (await endSession(db, sessionId, clock.now(), 'signed out')) > 0
    },

    async authenticate(accessToken) {
      const claims = await verifyToken(await secret(), accessToken, 'access', clock.now())
      const user = await openSession(claims)
      return Object.freeze({ kind: 'user', id: user.id, username: user.username })
    },

    async verify(token) {
      const key = await secret()
      const now = clock.now()
      let claims: TokenClaims
      try {
        claims = await verifyToken(key, token, 'access', now)
      } catch (error) {
        if ((error as CryptorgError).details?.['reason'] !== 'wrong_type') throw error
        claims = await verifyToken(key, token, 'refresh', now)
      }
      const user = await openSession(claims)
      if (claims.token_type === 'refresh' && user.refresh_jti !== claims.jti) {
        // As in refresh(): a retired token coming back means a copy is loose.
        await endSession(db, claims.sid, clock.now(), 'refresh token reused')
        throw unauthenticated('reused', 'this refresh token was already used')
      }
      return claims
    },

    async actorFor(username) {
      const name = normalizeUsername(username)
      const row = await db
        .selectFrom('users')
        .select(['id', 'username', 'is_active'])
        .where('username_key', '=', usernameKey(name))
        .executeTakeFirst()
      if (!row) throw new CryptorgError('ERR_NOT_FOUND', `user ${JSON.stringify(name)} not found`)
      if (!row.is_active) throw unauthenticated('inactive', `user ${row.username} is deactivated`)
      return Object.freeze({ kind: 'user', id: row.id, username: row.username })
    },
  }
}

async function endSession(
  db: Kysely<Database>,
  sessionId: string,
  now: Date,
  reason: string,
): Promise<number> {
  const result = await db
    .updateTable('auth_sessions')
    .set({ revoked_at: encodeTimestamp(now), revoked_reason: reason })
    .where('id', '=', sessionId)
    .where('revoked_at', 'is', null)
    .executeTakeFirst()
  return Number(result.numUpdatedRows)
}

/**
 * The installation's signing secret, created on first use. Insert-or-ignore then read, so two
 * processes starting together still end up with one secret.
 */
async function loadOrCreateSecret(db: Kysely<Database>): Promise<Uint8Array> {
  await db
    .insertInto('settings')
    .values({ key: SECRET_SETTING, value: randomBytes(48).toString('base64url') })
    .onConflict((oc) => oc.column('key').doNothing())
    .execute()
  const row = await db
    .selectFrom('settings')
    .select('value')
    .where('key', '=', SECRET_SETTING)
    .executeTakeFirstOrThrow()
  return Buffer.from(row.value, 'base64url')
}
