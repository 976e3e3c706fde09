// Covers src/core/auth.ts (through open() and c.auth): the first administrator, sign-in,
// token pairs, refresh rotation, sign-out, the sessions behind tokens and the signing secret.
import { join } from 'node:path'

import { SignJWT, decodeJwt, generateKeyPair } from 'jose'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'

import {
  type Cryptorg,
  CryptorgError,
  DEFAULT_ACCESS_TTL_SECONDS,
  DEFAULT_REFRESH_TTL_SECONDS,
  type OpenOptions,
  type TokenPair,
  open,
} from '../../src/index.js'
import { FAST_HASHING } from '../helpers/cli.js'
import { queryRows } from '../helpers/db-rows.js'
import { type FakeClock, fakeClock } from '../helpers/fake-clock.js'
import { openTestDb, tempDir } from '../helpers/open-test-db.js'

const START = '2024-09-17T12:00:00.000Z'
const START_S = Date.parse(START) / 1000
const SECRET = 'a configured signing secret of more than 32 bytes'

let clock: FakeClock
let c: Cryptorg
const opened: Cryptorg[] = []
const dirs: ReturnType<typeof tempDir>[] = []

/** Opens a test database (closed after the test) with fast hashing and the shared clock. */
async function openDb(overrides: Partial<OpenOptions> = {}): Promise<Cryptorg> {
  const db = await openTestDb({ passwordHashing: FAST_HASHING, clock, ...overrides })
  opened.push(db)
  return db
}

/** A database file path in a temporary directory removed after the test. */
function tempDbPath(): string {
  const dir = tempDir()
  dirs.push(dir)
  return join(dir.path, 'auth.db')
}

/** Bootstraps `admin` and creates the non-admins `alice` and `bob`. */
async function withUsers(db: Cryptorg): Promise<void> {
  await db.auth.bootstrap({ username: 'admin', password: 'admin password' })
  const admin = db.as(await db.auth.actorFor('admin'))
  await admin.users.create({ username: 'alice', password: 'alice password' })
  await admin.users.create({ username: 'bob', password: 'bob password' })
}

/**
 * Awaits `run`, expects ERR_UNAUTHENTICATED with a readable message and checks that neither the
 * token nor any of its three parts shows in the message, the details or the cause.
 */
async function refused(run: Promise<unknown>, token?: unknown): Promise<CryptorgError> {
  let caught: unknown
  try {
    await run
  } catch (error) {
    caught = error
  }
  expect(caught, 'expected a refusal').toBeInstanceOf(CryptorgError)
  const error = caught as CryptorgError
  expect(error.code).toBe('ERR_UNAUTHENTICATED')
  expect(error.message).toMatch(/^[a-z].{5,}[^.]$/)
  if (typeof token === 'string' && token.length >= 8) {
    const pieces = token.split('.').filter((piece) => piece.length >= 8)
    const cause = (error as { cause?: unknown }).cause
    const texts = [error.message, String(error), JSON.stringify(error.details)]
    if (cause instanceof Error) texts.push(cause.message)
    for (const text of texts) {
      expect(text).not.toContain(token)
      for (const piece of pieces) expect(text).not.toContain(piece)
    }
  }
  return error
}

/** Replaces the character at `index` with another base64url character. */
function flip(text: string, index: number): string {
  const replacement = text[index] === 'A' ? 'B' : 'A'
  return text.slice(0, index) + replacement + text.slice(index + 1)
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')

beforeEach(async () => {
  clock = fakeClock(START)
  c = await openDb()
  await withUsers(c)
})

afterEach(async () => {
  for (const db of opened.splice(0)) await db.close()
  for (const dir of dirs.splice(0)) dir.remove()
})

describe('auth.initialized and auth.bootstrap', () => {
  it('reports a new installation as not initialized until the first administrator exists', async () => {
    const fresh = await openDb()
    expect(await fresh.auth.initialized()).toBe(false)
    const admin = await fresh.auth.bootstrap({ username: ' Root ', password: 'root password' })
    expect(admin).toEqual({
      id: admin.id,
      username: 'Root',
      is_admin: true,
      is_active: true,
      created_at: '2024-09-17T12:00:00Z',
    })
    expect(await fresh.auth.initialized()).toBe(true)
    expect(await fresh.system.audit.list()).toEqual([
      expect.objectContaining({
        actor: 'system',
        action: 'user.create',
        user: 'Root',
        details: { admin: true, first: true },
      }),
    ])
  })

  it('returns ERR_CONFLICT the second time, whatever the name, and creates nobody', async () => {
    for (const username of ['admin', 'someone-else']) {
      await expect(
        c.auth.bootstrap({ username, password: 'another password' }),
      ).rejects.toMatchObject({
        code: 'ERR_CONFLICT',
        message: 'this installation already has users: sign in with an existing one',
      })
    }
    expect((await c.system.users.list()).map((user) => user.username)).toEqual([
      'admin',
      'alice',
      'bob',
    ])
    // The first administrator's password is unchanged.
    await expect(c.auth.login('admin', 'admin password')).resolves.toBeDefined()
  })

  it('lets only one of two simultaneous first administrators in', async () => {
    const path = tempDbPath()
    const first = await openDb({ databasePath: path })
    const second = await openDb({ databasePath: path })
    const results = await Promise.allSettled([
      first.auth.bootstrap({ username: 'one', password: 'password one' }),
      second.auth.bootstrap({ username: 'two', password: 'password two' }),
      first.auth.bootstrap({ username: 'three', password: 'password three' }),
    ])
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(1)
    for (const result of results) {
      if (result.status === 'rejected') {
        expect(result.reason).toMatchObject({ code: 'ERR_CONFLICT' })
      }
    }
    expect(await first.system.users.list()).toHaveLength(1)
  })

  it.each([
    ['a short password', { username: 'root', password: 'short' }, 'password must be at least 8'],
    ['a bad username', { username: 'ro ot', password: 'root password' }, 'username may contain'],
    ['no input', undefined, 'username must be a string'],
  ])('refuses %s with ERR_VALIDATION and stays uninitialized', async (_, input, message) => {
    const fresh = await openDb()
    await expect(
      fresh.auth.bootstrap(input as unknown as { username: string; password: string }),
    ).rejects.toMatchObject({ code: 'ERR_VALIDATION', message: expect.stringContaining(message) })
    expect(await fresh.auth.initialized()).toBe(false)
  })
})

describe('auth.login', () => {
  it('returns an access and a refresh token with their expiry and the user', async () => {
    const pair = await c.auth.login('alice', 'alice password')
    expect(pair).toEqual({
      access: expect.any(String),
      refresh: expect.any(String),
      access_expires_at: '2024-09-17T12:05:00Z',
      refresh_expires_at: '2024-09-18T12:00:00Z',
      session_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      user: expect.objectContaining({ username: 'alice', is_admin: false, is_active: true }),
    })
    expect(JSON.stringify(pair)).not.toContain('scrypt')
    const actor = await c.auth.authenticate(pair.access)
    expect(actor).toEqual({ kind: 'user', id: pair.user.id, username: 'alice' })
    expect(Object.isFrozen(actor)).toBe(true)
    expect((await c.as(actor).users.me()).username).toBe('alice')
  })

  it('takes the username in any case and with spaces around it', async () => {
    for (const name of ['ALICE', ' Alice ', 'aLiCe']) {
      expect((await c.auth.login(name, 'alice password')).user.username).toBe('alice')
    }
  })

  it('gives each sign-in its own session', async () => {
    const first = await c.auth.login('alice', 'alice password')
    const second = await c.auth.login('alice', 'alice password')
    expect(decodeJwt(first.access)['sid']).not.toBe(decodeJwt(second.access)['sid'])
    await c.auth.logout(first.refresh)
    await expect(c.auth.authenticate(second.access)).resolves.toMatchObject({ username: 'alice' })
  })

  it('answers a wrong password, an unknown user and a deactivated user the same way', async () => {
    const admin = c.as(await c.auth.actorFor('admin'))
    await admin.users.create({ username: 'carol', password: 'carol password' })
    await admin.users.deactivate('carol')
    // Handled as soon as they are made: they run in parallel and may fail in any order.
    const errors = await Promise.all(
      [
        c.auth.login('alice', 'wrong password'),
        c.auth.login('alice', 'Alice password'),
        c.auth.login('nobody', 'alice password'),
        c.auth.login('carol', 'carol password'),
        c.auth.login('carol', 'wrong password'),
      ].map((attempt) => refused(attempt)),
    )
    for (const error of errors) {
      expect({ code: error.code, message: error.message, details: error.details }).toEqual({
        code: 'ERR_UNAUTHENTICATED',
        message: 'wrong username or password',
        details: { reason: 'credentials' },
      })
    }
  })

  it('answers a deleted user like an unknown one', async () => {
    await c.as(await c.auth.actorFor('admin')).users.delete('bob')
    expect(await refused(c.auth.login('bob', 'bob password'))).toMatchObject({
      message: 'wrong username or password',
    })
  })

  it('never repeats the password in its error', async () => {
    const error = await refused(c.auth.login('alice', 'my-secret-guess'))
    expect(`${error.message} ${JSON.stringify(error.details)}`).not.toContain('my-secret-guess')
  })

  it('refuses an empty or missing password with ERR_VALIDATION', async () => {
    for (const password of ['', undefined, 42]) {
      await expect(c.auth.login('alice', password as unknown as string)).rejects.toMatchObject({
        code: 'ERR_VALIDATION',
        message: 'password must not be empty',
      })
    }
  })

  it('stores a stronger hash after signing in when the installation raised its cost', async () => {
    const path = tempDbPath()
    const weak = await openDb({ databasePath: path, passwordHashing: { logN: 4, r: 1, p: 1 } })
    await withUsers(weak)
    await weak.close()
    const hashOf = async () =>
      (
        await queryRows<{ password_hash: string }>(
          path,
          "select password_hash from users where username = 'alice'",
        )
      )[0]!.password_hash
    const before = await hashOf()
    expect(before).toMatch(/^scrypt\$ln=4,r=1,p=1\$/)

    const strong = await openDb({ databasePath: path, passwordHashing: { logN: 5, r: 1, p: 1 } })
    await refused(strong.auth.login('alice', 'wrong password'))
    expect(await hashOf()).toBe(before)
    await strong.auth.login('alice', 'alice password')
    expect(await hashOf()).toMatch(/^scrypt\$ln=5,r=1,p=1\$/)
    await expect(strong.auth.login('alice', 'alice password')).resolves.toBeDefined()
  })
})

describe('auth.authenticate: tokens that are refused', () => {
  let pair: TokenPair

  beforeEach(async () => {
    c = await openDb({ auth: { jwtSecret: SECRET } })
    await withUsers(c)
    pair = await c.auth.login('alice', 'alice password')
  })

  const sameClaims = () => {
    const { sub, sid, jti, iat, exp, token_type } = decodeJwt(pair.access)
    return { sub, sid, jti, iat, exp, token_type } as Record<string, unknown>
  }

  it('refuses a token with a changed signature', async () => {
    const start = pair.access.lastIndexOf('.') + 1
    for (const index of [start, start + 10, start + 30]) {
      const tampered = flip(pair.access, index)
      expect(await refused(c.auth.authenticate(tampered), tampered)).toMatchObject({
        message: 'access token signature is invalid',
        details: { reason: 'signature' },
      })
    }
  })

  it('refuses a token with a changed payload', async () => {
    const start = pair.access.indexOf('.') + 1
    for (const index of [start, start + 20, start + 40]) {
      const tampered = flip(pair.access, index)
      expect((await refused(c.auth.authenticate(tampered), tampered)).details).toMatchObject({
        reason: expect.stringMatching(/^(signature|malformed)$/),
      })
    }
  })

  it("refuses another user's id put into a validly shaped payload", async () => {
    const bob = await c.auth.actorFor('bob')
    const [header, , signature] = pair.access.split('.')
    const forged = `${header}.${b64({ ...sameClaims(), sub: bob.id })}.${signature}`
    expect(await refused(c.auth.authenticate(forged), forged)).toMatchObject({
      details: { reason: 'signature' },
    })
  })

  it('refuses an unsigned alg "none" token built by hand', async () => {
    const unsigned = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(sameClaims())}.`
    expect(await refused(c.auth.authenticate(unsigned), unsigned)).toMatchObject({
      message: 'access token must be signed with HS256',
      details: { reason: 'algorithm' },
    })
    expect(await refused(c.auth.verify(unsigned), unsigned)).toMatchObject({
      details: { reason: 'algorithm' },
    })
  })

  it('refuses an HS512 token signed with the installation secret', async () => {
    const claims = sameClaims()
    const hs512 = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS512', typ: 'JWT' })
      .sign(new TextEncoder().encode(SECRET))
    expect(decodeJwt(hs512)).toEqual(claims)
    expect(await refused(c.auth.authenticate(hs512), hs512)).toMatchObject({
      message: 'access token must be signed with HS256',
      details: { reason: 'algorithm' },
    })
  })

  it('refuses an RS256 token from a generated key pair', async () => {
    const { privateKey } = await generateKeyPair('RS256')
    const rs256 = await new SignJWT(sameClaims())
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT' })
      .sign(privateKey)
    expect(await refused(c.auth.authenticate(rs256), rs256)).toMatchObject({
      message: 'access token must be signed with HS256',
      details: { reason: 'algorithm' },
    })
  })

  it('accepts an HS256 token made by hand with the secret, for a live session', async () => {
    // The control for the two tests above: only the algorithm differed.
    const hs256 = await new SignJWT(sameClaims())
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .sign(new TextEncoder().encode(SECRET))
    await expect(c.auth.authenticate(hs256)).resolves.toMatchObject({ username: 'alice' })
  })

  it('accepts an access token until 5 min plus 30 s of tolerance, then refuses it', async () => {
    clock.advance((DEFAULT_ACCESS_TTL_SECONDS + 29) * 1000)
    await expect(c.auth.authenticate(pair.access)).resolves.toMatchObject({ username: 'alice' })
    clock.advance(1000)
    expect(await refused(c.auth.authenticate(pair.access), pair.access)).toMatchObject({
      message: 'access token has expired',
      details: { reason: 'expired' },
    })
  })

  it('refuses a refresh token used as an access token', async () => {
    expect(await refused(c.auth.authenticate(pair.refresh), pair.refresh)).toMatchObject({
      message: 'a refresh token was given where an access token is needed',
      details: { reason: 'wrong_type' },
    })
  })

  it('refuses a token from another installation', async () => {
    const other = await openDb()
    await withUsers(other)
    const foreign = await other.auth.login('alice', 'alice password')
    expect(await refused(c.auth.authenticate(foreign.access), foreign.access)).toMatchObject({
      details: { reason: 'signature' },
    })
    expect(await refused(c.auth.refresh(foreign.refresh), foreign.refresh)).toMatchObject({
      details: { reason: 'signature' },
    })
    expect(await refused(other.auth.authenticate(pair.access), pair.access)).toMatchObject({
      details: { reason: 'signature' },
    })
  })

  it('refuses a token from another installation even when both were given the same secret', async () => {
    const other = await openDb({ auth: { jwtSecret: SECRET } })
    await withUsers(other)
    const foreign = await other.auth.login('alice', 'alice password')
    expect(await refused(c.auth.authenticate(foreign.access), foreign.access)).toMatchObject({
      details: { reason: 'session' },
    })
  })

  it.each([
    ['an empty string', ''],
    ['white space', ' \n\t '],
    ['one word', 'garbage'],
    ['dots only', '..'],
    ['three random parts', 'abc.def.ghi'],
    ['a bearer header', 'Bearer x.y.z'],
    ['a huge string', 'A'.repeat(200_000)],
    ['a JSON object', '{"sub":"x"}'],
  ])('refuses %s without crashing', async (_, garbage) => {
    await refused(c.auth.authenticate(garbage), garbage)
    await refused(c.auth.refresh(garbage), garbage)
    await refused(c.auth.verify(garbage), garbage)
    await refused(c.auth.logout(garbage), garbage)
  })

  it.each([undefined, null, 0, 1, false, {}, [], ['a.b.c'], { access: 'a.b.c' }, new Date(0)])(
    'refuses the non-string %j without crashing',
    async (value) => {
      const input = value as unknown as string
      for (const run of [
        c.auth.authenticate(input),
        c.auth.refresh(input),
        c.auth.verify(input),
        c.auth.logout(input),
      ]) {
        expect(await refused(run)).toMatchObject({
          message: 'token must be a non-empty string',
          details: { reason: 'malformed' },
        })
      }
    },
  )

  it('refuses a token of a deleted user, and the actor obtained before', async () => {
    const bobPair = await c.auth.login('bob', 'bob password')
    const bob = await c.auth.authenticate(bobPair.access)
    await c.as(await c.auth.actorFor('admin')).users.delete('bob')
    expect(await refused(c.auth.authenticate(bobPair.access), bobPair.access)).toMatchObject({
      details: { reason: 'session' },
    })
    await refused(c.auth.refresh(bobPair.refresh), bobPair.refresh)
    await refused(c.auth.verify(bobPair.access), bobPair.access)
    await expect(c.as(bob).orgs.list()).rejects.toMatchObject({
      code: 'ERR_UNAUTHENTICATED',
      message: 'this user no longer exists',
    })
  })

  it('refuses a token of a deleted user even after a new user takes the same name', async () => {
    const bobPair = await c.auth.login('bob', 'bob password')
    const admin = c.as(await c.auth.actorFor('admin'))
    await admin.users.delete('bob')
    await admin.users.create({ username: 'bob', password: 'new bob password' })
    await refused(c.auth.authenticate(bobPair.access), bobPair.access)
  })
})

describe('auth.refresh', () => {
  it('returns a new pair in the same session and retires the refresh token it was given', async () => {
    const first = await c.auth.login('alice', 'alice password')
    clock.advance(60_000)
    const second = await c.auth.refresh(first.refresh)
    expect(second.access).not.toBe(first.access)
    expect(second.refresh).not.toBe(first.refresh)
    expect(second.access_expires_at).toBe('2024-09-17T12:06:00Z')
    expect(second.refresh_expires_at).toBe('2024-09-18T12:01:00Z')
    expect(second.user.username).toBe('alice')
    expect(decodeJwt(second.refresh)['sid']).toBe(decodeJwt(first.refresh)['sid'])
    expect(decodeJwt(second.refresh).jti).not.toBe(decodeJwt(first.refresh).jti)
    await expect(c.auth.authenticate(second.access)).resolves.toMatchObject({ username: 'alice' })
    // The third generation comes from the second refresh token.
    await expect(c.auth.refresh(second.refresh)).resolves.toBeDefined()
  })

  it('keeps a session alive past the first refresh lifetime as long as it is refreshed', async () => {
    let pair = await c.auth.login('alice', 'alice password')
    for (let day = 0; day < 3; day++) {
      clock.advance(20 * 3600_000)
      pair = await c.auth.refresh(pair.refresh)
    }
    await expect(c.auth.authenticate(pair.access)).resolves.toMatchObject({ username: 'alice' })
  })

  it('refuses an access token used as a refresh token and keeps the session', async () => {
    const pair = await c.auth.login('alice', 'alice password')
    expect(await refused(c.auth.refresh(pair.access), pair.access)).toMatchObject({
      message: 'an access token was given where a refresh token is needed',
      details: { reason: 'wrong_type' },
    })
    await expect(c.auth.refresh(pair.refresh)).resolves.toBeDefined()
  })

  it('refuses a rotated refresh token used again and ends the session it belongs to', async () => {
    const first = await c.auth.login('alice', 'alice password')
    const second = await c.auth.refresh(first.refresh)
    expect(await refused(c.auth.refresh(first.refresh), first.refresh)).toMatchObject({
      message: expect.stringContaining('already used'),
      details: { reason: 'reused' },
    })
    // Whoever held the new pair loses it too: one of the two copies was stolen.
    for (const token of [second.access, first.access]) {
      expect(await refused(c.auth.authenticate(token), token)).toMatchObject({
        details: { reason: 'session' },
      })
    }
    await refused(c.auth.refresh(second.refresh), second.refresh)
    await refused(c.auth.verify(second.refresh), second.refresh)
  })

  it('does not end the other sessions of the user on reuse', async () => {
    const other = await c.auth.login('alice', 'alice password')
    const first = await c.auth.login('alice', 'alice password')
    await c.auth.refresh(first.refresh)
    await refused(c.auth.refresh(first.refresh), first.refresh)
    await expect(c.auth.authenticate(other.access)).resolves.toMatchObject({ username: 'alice' })
    await expect(c.auth.refresh(other.refresh)).resolves.toBeDefined()
  })

  it('lets only one of two refreshes racing with the same token win', async () => {
    const pair = await c.auth.login('alice', 'alice password')
    const results = await Promise.allSettled([
      c.auth.refresh(pair.refresh),
      c.auth.refresh(pair.refresh),
    ])
    expect(results.filter((result) => result.status === 'fulfilled').length).toBeLessThanOrEqual(1)
    // Either way the session cannot go on with two holders.
    for (const result of results) {
      if (result.status === 'fulfilled') {
        await refused(c.auth.authenticate(result.value.access), result.value.access)
      } else {
        expect(result.reason).toMatchObject({ code: 'ERR_UNAUTHENTICATED' })
      }
    }
  })

  it('refuses a refresh token after its lifetime plus tolerance', async () => {
    const pair = await c.auth.login('alice', 'alice password')
    clock.advance((DEFAULT_REFRESH_TTL_SECONDS + 29) * 1000)
    const next = await c.auth.refresh(pair.refresh)
    clock.advance((DEFAULT_REFRESH_TTL_SECONDS + 30) * 1000)
    expect(await refused(c.auth.refresh(next.refresh), next.refresh)).toMatchObject({
      message: 'refresh token has expired',
      details: { reason: 'expired' },
    })
  })
})

describe('auth.logout', () => {
  it('ends the session: its refresh and access tokens are refused at once', async () => {
    const pair = await c.auth.login('alice', 'alice password')
    await c.auth.logout(pair.refresh)
    expect(await refused(c.auth.refresh(pair.refresh), pair.refresh)).toMatchObject({
      details: { reason: 'session' },
    })
    expect(await refused(c.auth.authenticate(pair.access), pair.access)).toMatchObject({
      details: { reason: 'session' },
    })
    await refused(c.auth.verify(pair.access), pair.access)
  })

  it('leaves the other sessions of the same user and other users alone', async () => {
    const mine = await c.auth.login('alice', 'alice password')
    const myOther = await c.auth.login('alice', 'alice password')
    const bobs = await c.auth.login('bob', 'bob password')
    await c.auth.logout(mine.refresh)
    await expect(c.auth.authenticate(myOther.access)).resolves.toMatchObject({ username: 'alice' })
    await expect(c.auth.authenticate(bobs.access)).resolves.toMatchObject({ username: 'bob' })
  })

  it('succeeds quietly a second time and for an expired refresh token', async () => {
    const pair = await c.auth.login('alice', 'alice password')
    await c.auth.logout(pair.refresh)
    await expect(c.auth.logout(pair.refresh)).resolves.toBeUndefined()
    const old = await c.auth.login('bob', 'bob password')
    clock.advance((DEFAULT_REFRESH_TTL_SECONDS + 60) * 1000)
    await expect(c.auth.logout(old.refresh)).resolves.toBeUndefined()
  })

  it('refuses an access token, whose session stays open', async () => {
    const pair = await c.auth.login('alice', 'alice password')
    expect(await refused(c.auth.logout(pair.access), pair.access)).toMatchObject({
      details: { reason: 'wrong_type' },
    })
    await expect(c.auth.authenticate(pair.access)).resolves.toBeDefined()
  })

  it('refuses a tampered refresh token, whose session stays open', async () => {
    const pair = await c.auth.login('alice', 'alice password')
    const tampered = flip(pair.refresh, pair.refresh.lastIndexOf('.') + 5)
    await refused(c.auth.logout(tampered), tampered)
    await expect(c.auth.refresh(pair.refresh)).resolves.toBeDefined()
  })
})

describe('sessions end with the password or the user', () => {
  it('ends every session of a user who changes their password, and no one else’s', async () => {
    const one = await c.auth.login('alice', 'alice password')
    const two = await c.auth.login('alice', 'alice password')
    const bobs = await c.auth.login('bob', 'bob password')
    const alice = c.as(await c.auth.authenticate(one.access))
    await alice.users.changePassword('alice', {
      currentPassword: 'alice password',
      newPassword: 'a new password',
    })
    for (const pair of [one, two]) {
      expect(await refused(c.auth.authenticate(pair.access), pair.access)).toMatchObject({
        details: { reason: 'session' },
      })
      await refused(c.auth.refresh(pair.refresh), pair.refresh)
    }
    await expect(c.auth.authenticate(bobs.access)).resolves.toMatchObject({ username: 'bob' })
    await refused(c.auth.login('alice', 'alice password'))
    await expect(c.auth.login('alice', 'a new password')).resolves.toBeDefined()
  })

  it('ends the sessions when an administrator sets the password', async () => {
    const pair = await c.auth.login('alice', 'alice password')
    const adminPair = await c.auth.login('admin', 'admin password')
    await c.as(await c.auth.actorFor('admin')).users.changePassword('alice', {
      newPassword: 'set by the admin',
    })
    await refused(c.auth.authenticate(pair.access), pair.access)
    await expect(c.auth.authenticate(adminPair.access)).resolves.toBeDefined()
  })

  it('ends the sessions of a deactivated user, and activating again does not revive them', async () => {
    const pair = await c.auth.login('alice', 'alice password')
    const admin = c.as(await c.auth.actorFor('admin'))
    await admin.users.deactivate('alice')
    await refused(c.auth.authenticate(pair.access), pair.access)
    await refused(c.auth.refresh(pair.refresh), pair.refresh)
    await expect(c.auth.actorFor('alice')).rejects.toMatchObject({
      code: 'ERR_UNAUTHENTICATED',
      message: 'user alice is deactivated',
    })
    await admin.users.activate('alice')
    await refused(c.auth.authenticate(pair.access), pair.access)
    await refused(c.auth.refresh(pair.refresh), pair.refresh)
    const again = await c.auth.login('alice', 'alice password')
    await expect(c.auth.authenticate(again.access)).resolves.toMatchObject({ username: 'alice' })
  })
})

describe('auth.verify', () => {
  it('accepts both kinds of token and returns their claims', async () => {
    const pair = await c.auth.login('alice', 'alice password')
    const alice = await c.auth.actorFor('alice')
    const access = await c.auth.verify(pair.access)
    const refresh = await c.auth.verify(pair.refresh)
    expect(access).toEqual({
      sub: alice.id,
      token_type: 'access',
      jti: expect.any(String),
      sid: expect.any(String),
      iat: START_S,
      exp: START_S + DEFAULT_ACCESS_TTL_SECONDS,
    })
    expect(refresh).toEqual({
      ...access,
      token_type: 'refresh',
      jti: expect.any(String),
      exp: START_S + DEFAULT_REFRESH_TTL_SECONDS,
    })
    expect(refresh.sid).toBe(access.sid)
    expect(refresh.jti).not.toBe(access.jti)
    expect(decodeJwt(pair.access)).toEqual(access)
    expect(decodeJwt(pair.refresh)).toEqual(refresh)
  })

  it('refuses a rotated refresh token and ends its session, as refresh() does', async () => {
    const first = await c.auth.login('alice', 'alice password')
    const second = await c.auth.refresh(first.refresh)
    expect(await refused(c.auth.verify(first.refresh), first.refresh)).toMatchObject({
      details: { reason: 'reused' },
    })
    // A loose copy was tested: the pair issued after it dies with the session.
    expect(await refused(c.auth.verify(second.refresh), second.refresh)).toMatchObject({
      details: { reason: 'session' },
    })
    expect(await refused(c.auth.authenticate(second.access), second.access)).toMatchObject({
      message: 'this session has ended (refresh token reused)',
    })
  })

  it('answers a username that cannot exist like a wrong password, without quoting it', async () => {
    const typedPassword = 'correct horse battery'
    const error = await refused(c.auth.login(typedPassword, 'alice password'), typedPassword)
    expect(error).toMatchObject({
      code: 'ERR_UNAUTHENTICATED',
      message: 'wrong username or password',
    })
  })

  it('refuses an expired refresh token as expired', async () => {
    const pair = await c.auth.login('alice', 'alice password')
    clock.advance((DEFAULT_REFRESH_TTL_SECONDS + 31) * 1000)
    expect(await refused(c.auth.verify(pair.refresh), pair.refresh)).toMatchObject({
      message: 'refresh token has expired',
      details: { reason: 'expired' },
    })
    expect(await refused(c.auth.verify(pair.access), pair.access)).toMatchObject({
      message: 'access token has expired',
    })
  })
})

describe('auth.endSession', () => {
  it('ends a session by id, so its tokens stop working, and says whether it was open', async () => {
    const pair = await c.auth.login('alice', 'alice password')
    expect(await c.auth.endSession(pair.session_id)).toBe(true)
    expect(await c.auth.endSession(pair.session_id)).toBe(false)
    expect(await refused(c.auth.authenticate(pair.access), pair.access)).toMatchObject({
      message: 'this session has ended (signed out)',
    })
    await refused(c.auth.refresh(pair.refresh), pair.refresh)
  })

  it('ignores ids that name no session', async () => {
    expect(await c.auth.endSession('not-a-uuid')).toBe(false)
    expect(await c.auth.endSession('00000000-0000-4000-8000-000000000000')).toBe(false)
  })
})

describe('auth.actorFor', () => {
  it('returns the actor of a username in any case', async () => {
    const alice = await c.auth.actorFor('ALICE')
    expect(alice).toEqual({ kind: 'user', id: expect.any(String), username: 'alice' })
  })

  it('returns ERR_NOT_FOUND for an unknown user', async () => {
    await expect(c.auth.actorFor('nobody')).rejects.toMatchObject({
      code: 'ERR_NOT_FOUND',
      message: 'user "nobody" not found',
    })
  })
})

describe('token lifetimes', () => {
  it('honours custom lifetimes in the claims, the expiry times and the checks', async () => {
    const custom = await openDb({ auth: { accessTtlSeconds: 60, refreshTtlSeconds: 120 } })
    await withUsers(custom)
    const pair = await custom.auth.login('alice', 'alice password')
    const access = decodeJwt(pair.access)
    const refresh = decodeJwt(pair.refresh)
    expect(access.exp! - access.iat!).toBe(60)
    expect(refresh.exp! - refresh.iat!).toBe(120)
    expect(pair.access_expires_at).toBe('2024-09-17T12:01:00Z')
    expect(pair.refresh_expires_at).toBe('2024-09-17T12:02:00Z')

    clock.advance(89_000)
    await expect(custom.auth.authenticate(pair.access)).resolves.toBeDefined()
    clock.advance(1000)
    await refused(custom.auth.authenticate(pair.access), pair.access)
    const next = await custom.auth.refresh(pair.refresh)
    expect(decodeJwt(next.refresh).exp! - decodeJwt(next.refresh).iat!).toBe(120)
    clock.advance(150_000)
    expect(await refused(custom.auth.refresh(next.refresh), next.refresh)).toMatchObject({
      details: { reason: 'expired' },
    })
  })

  it.each([
    { accessTtlSeconds: 0 },
    { accessTtlSeconds: -5 },
    { accessTtlSeconds: 1.5 },
    { refreshTtlSeconds: 365 * 86_400 + 1 },
    { refreshTtlSeconds: Number.NaN },
    { accessTtlSeconds: '300' as unknown as number },
  ])('refuses %j at open() with ERR_VALIDATION', async (auth) => {
    await expect(openDb({ auth })).rejects.toMatchObject({
      code: 'ERR_VALIDATION',
      message: expect.stringMatching(
        /TtlSeconds must be a whole number of seconds from 1 to 1 year/,
      ),
    })
  })
})

describe('the signing secret', () => {
  it('is generated once, stored in the database and shared by every open() of it', async () => {
    const path = tempDbPath()
    const first = await openDb({ databasePath: path })
    const second = await openDb({ databasePath: path })
    await withUsers(first)
    const fromFirst = await first.auth.login('alice', 'alice password')
    const fromSecond = await second.auth.login('bob', 'bob password')
    await expect(second.auth.authenticate(fromFirst.access)).resolves.toMatchObject({
      username: 'alice',
    })
    await expect(first.auth.authenticate(fromSecond.access)).resolves.toMatchObject({
      username: 'bob',
    })
    // A refresh in one process retires the token for the other as well.
    const rotated = await second.auth.refresh(fromFirst.refresh)
    await refused(first.auth.refresh(fromFirst.refresh), fromFirst.refresh)
    await refused(first.auth.authenticate(rotated.access), rotated.access)

    const secrets = await queryRows<{ value: string }>(
      path,
      "select value from settings where key = 'jwt_secret'",
    )
    expect(secrets).toHaveLength(1)
    expect(Buffer.from(secrets[0]!.value, 'base64url').length).toBeGreaterThanOrEqual(32)
    for (const token of [fromFirst.access, fromFirst.refresh]) {
      expect(token).not.toContain(secrets[0]!.value)
    }
  })

  it('survives closing and opening again', async () => {
    const path = tempDbPath()
    const first = await openDb({ databasePath: path })
    await withUsers(first)
    const pair = await first.auth.login('alice', 'alice password')
    await first.close()
    const again = await openDb({ databasePath: path })
    await expect(again.auth.authenticate(pair.access)).resolves.toMatchObject({
      username: 'alice',
    })
  })

  it('agrees between two processes that open a new database before either made a secret', async () => {
    const path = tempDbPath()
    const first = await openDb({ databasePath: path })
    const second = await openDb({ databasePath: path })
    // Both ask for the secret at the same time on an installation that has none yet.
    await Promise.all([
      first.auth.verify('x.y.z').catch(() => {}),
      second.auth.verify('x.y.z').catch(() => {}),
    ])
    await withUsers(second)
    const pair = await first.auth.login('alice', 'alice password')
    await expect(second.auth.authenticate(pair.access)).resolves.toBeDefined()
  })

  it('can be given with auth.jwtSecret, and then works across opens', async () => {
    const path = tempDbPath()
    const first = await openDb({ databasePath: path, auth: { jwtSecret: SECRET } })
    await withUsers(first)
    const pair = await first.auth.login('alice', 'alice password')
    await first.close()

    const second = await openDb({ databasePath: path, auth: { jwtSecret: SECRET } })
    await expect(second.auth.authenticate(pair.access)).resolves.toMatchObject({
      username: 'alice',
    })
    // Without the setting the stored secret is used, which did not sign this token.
    const withoutSetting = await openDb({ databasePath: path })
    expect(await refused(withoutSetting.auth.authenticate(pair.access), pair.access)).toMatchObject(
      { details: { reason: 'signature' } },
    )
    const otherSecret = await openDb({ databasePath: path, auth: { jwtSecret: `${SECRET}!` } })
    await refused(otherSecret.auth.authenticate(pair.access), pair.access)
  })

  it.each([[12345678901234567890123456789012345], [Buffer.alloc(40)]])(
    'refuses a JWT secret that is not a string (%s)',
    async (secret) => {
      await expect(openDb({ auth: { jwtSecret: secret as never } })).rejects.toMatchObject({
        code: 'ERR_VALIDATION',
        message: 'the JWT secret must be a string',
      })
    },
  )

  it.each([
    ['empty', ''],
    ['31 ASCII characters', 'k'.repeat(31)],
    ['15 two-byte characters (30 bytes)', 'é'.repeat(15)],
  ])('refuses a secret that is too short (%s) at open(), without echoing it', async (_, secret) => {
    let caught: unknown
    try {
      await openDb({ auth: { jwtSecret: secret } })
    } catch (error) {
      caught = error
    }
    expect(caught).toMatchObject({
      code: 'ERR_VALIDATION',
      message: 'the JWT secret must be at least 32 bytes',
      details: { field: 'jwtSecret' },
    })
    const error = caught as CryptorgError
    if (secret !== '') {
      expect(`${error.message} ${JSON.stringify(error.details)}`).not.toContain(secret.slice(0, 8))
    }
  })

  it('counts the secret in bytes: 16 two-byte characters are enough', async () => {
    const db = await openDb({ auth: { jwtSecret: 'é'.repeat(16) } })
    await withUsers(db)
    const pair = await db.auth.login('alice', 'alice password')
    await expect(db.auth.authenticate(pair.access)).resolves.toBeDefined()
  })

  it('is checked before the database is touched', async () => {
    const path = tempDbPath()
    await expect(open({ databasePath: path, auth: { jwtSecret: 'short' } })).rejects.toMatchObject({
      code: 'ERR_VALIDATION',
    })
    await expect(queryRows(path, 'select 1')).rejects.toThrow()
  })
})
