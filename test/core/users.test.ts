// Covers src/core/users.ts and src/core/users-lookup.ts: creating, listing, looking up,
// deactivating and deleting users, changing passwords, and the username rules.

import { afterEach, beforeEach, describe, expect, it } from 'vitest'

import type { Cryptorg, User, Workspace } from '../../src/index.js'
import { dumpTables, queryRows } from '../helpers/db-rows.js'
import type { FakeClock } from '../helpers/fake-clock.js'
import type { tempDir } from '../helpers/open-test-db.js'
import { openWithUsers } from '../helpers/users.js'

let dir: ReturnType<typeof tempDir>
let path: string
let clock: FakeClock
let c: Cryptorg
let admin: Workspace
let alice: Workspace
let bob: Workspace

const USER_KEYS = ['created_at', 'id', 'is_active', 'is_admin', 'username']

/** admin (the first administrator); alice and bob, plain users. */
beforeEach(async () => {
  const opened = await openWithUsers('users.db', ['alice', 'bob'])
  ;({ c, dir, path, clock } = opened)
  admin = opened.as['admin'] as Workspace
  alice = opened.as['alice'] as Workspace
  bob = opened.as['bob'] as Workspace
})

afterEach(async () => {
  await c.close()
  dir.remove()
})

/** Expects `run` to reject with `expected` and to leave every table as it was. */
async function refusedUnchanged(run: () => Promise<unknown>, expected: object): Promise<void> {
  const before = await dumpTables(path)
  await expect(run()).rejects.toMatchObject(expected)
  expect(await dumpTables(path)).toEqual(before)
}

const names = async () => (await c.system.users.list()).map((user) => user.username)

const expectNoHash = (value: unknown) => {
  const text = JSON.stringify(value)
  expect(text).not.toContain('scrypt')
  expect(text).not.toContain('password')
}

describe('users.create', () => {
  it('creates a plain user and returns them without any password data', async () => {
    clock.advance(5000)
    const carol = await admin.users.create({ username: ' carol ', password: 'carol password' })
    expect(carol).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      username: 'carol',
      is_admin: false,
      is_active: true,
      created_at: '2024-09-17T12:00:05Z',
    })
    expect(Object.keys(carol).sort()).toEqual(USER_KEYS)
    expectNoHash(carol)
    await expect(c.auth.login('carol', 'carol password')).resolves.toBeDefined()
  })

  it('creates an administrator when asked', async () => {
    await admin.users.create({ username: 'root2', password: 'root2 password', admin: true })
    const root2 = c.as(await c.auth.actorFor('root2'))
    expect(await root2.users.list()).toHaveLength(4)
  })

  it('lets the system create users', async () => {
    expect(
      await c.system.users.create({ username: 'carol', password: 'carol password' }),
    ).toMatchObject({ username: 'carol' })
  })

  it.each(['alice', 'bob'])('returns ERR_FORBIDDEN to the non-administrator %s', async (who) => {
    const ws = who === 'alice' ? alice : bob
    await refusedUnchanged(
      () => ws.users.create({ username: 'carol', password: 'carol password' }),
      { code: 'ERR_FORBIDDEN', message: 'creating users needs an administrator' },
    )
    await refusedUnchanged(
      () => ws.users.create({ username: 'carol', password: 'carol password', admin: true }),
      { code: 'ERR_FORBIDDEN' },
    )
  })

  it.each(['alice', 'ALICE', 'Alice', ' aLiCe '])(
    'returns ERR_CONFLICT for %j: usernames are unique whatever their case',
    async (username) => {
      await refusedUnchanged(() => admin.users.create({ username, password: 'other password' }), {
        code: 'ERR_CONFLICT',
        message: `user ${JSON.stringify(username.trim())} already exists`,
        details: { field: 'username' },
      })
      await expect(c.auth.login('alice', 'alice password')).resolves.toBeDefined()
    },
  )

  it('keeps the spelling it was given but finds the user in any case', async () => {
    await admin.users.create({ username: 'CamelCase', password: 'camel password' })
    expect(await names()).toContain('CamelCase')
    expect((await admin.users.get('camelcase')).username).toBe('CamelCase')
    expect((await c.auth.login('CAMELCASE', 'camel password')).user.username).toBe('CamelCase')
  })

  it.each([
    'a',
    'A.b',
    'user@example.com',
    'first.last+tag',
    'under_score-dash',
    '123',
    'x'.repeat(150),
  ])('accepts the username %j', async (username) => {
    expect((await admin.users.create({ username, password: 'long enough' })).username).toBe(
      username,
    )
  })

  it.each([
    ['empty', '', 'username must not be empty'],
    ['blank', '   ', 'username must not be empty'],
    ['too long', 'x'.repeat(151), 'username must be at most 150 characters'],
    ['a space inside', 'al ice', 'username may contain only letters, digits and @ . + - _'],
    ['a slash', 'a/b', 'username may contain only'],
    ['a colon', 'a:b', 'username may contain only'],
    ['a quote', "o'neil", 'username may contain only'],
    ['non-ASCII letters', 'jürgen', 'username may contain only'],
    ['a Cyrillic look-alike', 'аlice', 'username may contain only'],
    ['a zero-width space', 'al\u200bice', 'username may contain only'],
    ['a newline', 'al\nice', 'username may contain only'],
    ['a number', 42, 'username must be a string'],
    ['nothing', undefined, 'username must be a string'],
  ])('refuses a username that is %s with ERR_VALIDATION', async (_, username, message) => {
    await refusedUnchanged(
      () => admin.users.create({ username: username as string, password: 'long enough' }),
      {
        code: 'ERR_VALIDATION',
        message: expect.stringContaining(message),
        details: { field: 'username' },
      },
    )
  })

  it('refuses a short password with ERR_VALIDATION that does not repeat it', async () => {
    const before = await dumpTables(path)
    const error = await admin.users.create({ username: 'carol', password: 'pw12345' }).then(
      () => new Error('expected a failure'),
      (e: unknown) => e as Error,
    )
    expect(error).toMatchObject({
      code: 'ERR_VALIDATION',
      message: 'password must be at least 8 characters',
    })
    expect(error.message).not.toContain('pw12345')
    expect(await dumpTables(path)).toEqual(before)
  })

  it.each([undefined, null, 'carol', ['carol']])('refuses the input %j', async (input) => {
    await expect(admin.users.create(input as never)).rejects.toMatchObject({
      code: 'ERR_VALIDATION',
    })
  })
})

describe('users.list', () => {
  it('lists every user by name for an administrator, without password hashes', async () => {
    await admin.users.create({ username: 'Zoe', password: 'zoe password' })
    await admin.users.create({ username: 'carol', password: 'carol password' })
    const users = await admin.users.list()
    expect(users.map((user) => user.username)).toEqual(['admin', 'alice', 'bob', 'carol', 'Zoe'])
    for (const user of users) expect(Object.keys(user).sort()).toEqual(USER_KEYS)
    expectNoHash(users)
    expect(users[0]).toMatchObject({ is_admin: true })
    expect(users.slice(1).every((user) => !user.is_admin)).toBe(true)
  })

  it('is refused to anyone else with ERR_FORBIDDEN', async () => {
    await expect(alice.users.list()).rejects.toMatchObject({
      code: 'ERR_FORBIDDEN',
      message: 'listing users needs an administrator',
    })
  })
})

describe('users.get and users.me', () => {
  it('returns your own record to you, in any case', async () => {
    expect(await alice.users.get('ALICE')).toMatchObject({ username: 'alice', is_admin: false })
    expect(await alice.users.me()).toEqual(await alice.users.get('alice'))
    expectNoHash(await alice.users.me())
  })

  it("refuses someone else's record to a non-administrator", async () => {
    await expect(alice.users.get('bob')).rejects.toMatchObject({
      code: 'ERR_FORBIDDEN',
      message: 'looking up other users needs an administrator',
    })
  })

  it('answers a taken and a free name alike to a non-administrator, so names cannot be probed', async () => {
    const answers = await Promise.all(
      ['bob', 'nobody'].flatMap((name) => [
        alice.users.get(name).catch((error: unknown) => error),
        alice.users
          .changePassword(name, { newPassword: 'a brand new password' })
          .catch((error: unknown) => error),
      ]),
    )
    const shapes = answers.map((e) => [(e as { code: string }).code, (e as Error).message])
    expect(shapes.slice(0, 2)).toEqual(shapes.slice(2))
    expect(shapes[0]).toEqual(['ERR_FORBIDDEN', 'looking up other users needs an administrator'])
  })

  it('reserves the name "system", which the audit trail uses for the installation', async () => {
    for (const name of ['system', 'SYSTEM']) {
      await expect(
        admin.users.create({ username: name, password: 'a long password' }),
      ).rejects.toMatchObject({
        code: 'ERR_VALIDATION',
        message: `${JSON.stringify(name)} is reserved; choose another username`,
      })
    }
  })

  it('returns any record to an administrator and the system', async () => {
    expect((await admin.users.get('bob')).username).toBe('bob')
    expect((await c.system.users.get('bob')).username).toBe('bob')
  })

  it('returns ERR_NOT_FOUND for an unknown user', async () => {
    await expect(admin.users.get('nobody')).rejects.toMatchObject({
      code: 'ERR_NOT_FOUND',
      message: 'user "nobody" not found',
    })
  })

  it('refuses me() to the system, which is not a user', async () => {
    await expect(c.system.users.me()).rejects.toMatchObject({
      code: 'ERR_VALIDATION',
      message: 'the system actor is not a user',
    })
  })
})

describe('users.changePassword', () => {
  it('lets users change their own password with the current one', async () => {
    const user = await alice.users.changePassword('alice', {
      currentPassword: 'alice password',
      newPassword: 'a brand new password',
    })
    expect(user.username).toBe('alice')
    expectNoHash(user)
    await expect(c.auth.login('alice', 'alice password')).rejects.toMatchObject({
      code: 'ERR_UNAUTHENTICATED',
    })
    await expect(c.auth.login('alice', 'a brand new password')).resolves.toBeDefined()
  })

  it.each([
    ['a wrong current password', 'wrong password'],
    ['no current password', undefined],
    ['an empty current password', ''],
  ])('refuses a change of your own password with %s', async (_, currentPassword) => {
    await refusedUnchanged(
      () =>
        alice.users.changePassword('alice', {
          newPassword: 'a brand new password',
          ...(currentPassword !== undefined && { currentPassword }),
        }),
      {
        code: 'ERR_FORBIDDEN',
        message: 'current password is wrong',
        details: { field: 'current password' },
      },
    )
  })

  it('asks administrators for their current password too when it is their own', async () => {
    await refusedUnchanged(
      () => admin.users.changePassword('admin', { newPassword: 'a brand new password' }),
      { code: 'ERR_FORBIDDEN', message: 'current password is wrong' },
    )
  })

  it("lets administrators and the system set someone else's password without it", async () => {
    await admin.users.changePassword('alice', { newPassword: 'set by the admin' })
    await expect(c.auth.login('alice', 'set by the admin')).resolves.toBeDefined()
    await c.system.users.changePassword('alice', { newPassword: 'set by the system' })
    await expect(c.auth.login('alice', 'set by the system')).resolves.toBeDefined()
  })

  it("refuses to let a user change someone else's password, even knowing it", async () => {
    await refusedUnchanged(
      () =>
        alice.users.changePassword('bob', {
          currentPassword: 'bob password',
          newPassword: 'taken over now',
        }),
      {
        code: 'ERR_FORBIDDEN',
        message: "changing another user's password needs an administrator",
      },
    )
  })

  it('applies the password rules to the new password and never echoes it', async () => {
    for (const newPassword of ['short', 'y'.repeat(1025)]) {
      const before = await dumpTables(path)
      const error = await alice.users
        .changePassword('alice', { currentPassword: 'alice password', newPassword })
        .then(
          () => new Error('expected a failure'),
          (e: unknown) => e as Error,
        )
      expect(error).toMatchObject({
        code: 'ERR_VALIDATION',
        message: expect.stringMatching(/^new password must be at (least 8|most 1024) characters$/),
      })
      expect(error.message).not.toContain(newPassword.slice(0, 5))
      expect(await dumpTables(path)).toEqual(before)
    }
  })

  it('writes a new hash and the time of the change, and no password in the audit trail', async () => {
    const hashOf = async () =>
      (
        await queryRows<{ password_hash: string; password_changed_at: string }>(
          path,
          "select password_hash, password_changed_at from users where username = 'alice'",
        )
      )[0]!
    const before = await hashOf()
    clock.advance(3600_000)
    await alice.users.changePassword('alice', {
      currentPassword: 'alice password',
      newPassword: 'a brand new password',
    })
    const after = await hashOf()
    expect(after.password_hash).not.toBe(before.password_hash)
    expect(after.password_hash).toMatch(/^scrypt\$ln=4,r=1,p=1\$/)
    expect(after.password_changed_at).toBe('2024-09-17T13:00:00.000Z')
    const text = JSON.stringify((await dumpTables(path)).audit_events)
    expect(text).not.toContain('a brand new password')
    expect(text).not.toContain('alice password')
  })
})

describe('users.deactivate and users.activate', () => {
  it('blocks sign-in and every operation until activated again', async () => {
    const user = await admin.users.deactivate('alice')
    expect(user).toMatchObject({ username: 'alice', is_active: false })
    await expect(c.auth.login('alice', 'alice password')).rejects.toMatchObject({
      code: 'ERR_UNAUTHENTICATED',
      message: 'wrong username or password',
    })
    await expect(alice.orgs.list()).rejects.toMatchObject({ code: 'ERR_UNAUTHENTICATED' })
    expect(await admin.users.activate('alice')).toMatchObject({ is_active: true })
    await expect(alice.orgs.list()).resolves.toEqual([])
  })

  it('returns the user unchanged and records nothing when there is nothing to do', async () => {
    const before = await dumpTables(path)
    expect(await admin.users.activate('alice')).toMatchObject({ is_active: true })
    expect(await dumpTables(path)).toEqual(before)
    await admin.users.deactivate('alice')
    const after = await dumpTables(path)
    expect(await admin.users.deactivate('alice')).toMatchObject({ is_active: false })
    expect(await dumpTables(path)).toEqual(after)
  })

  it.each(['deactivate', 'activate'] as const)('%s is for administrators only', async (action) => {
    await refusedUnchanged(() => alice.users[action]('bob'), {
      code: 'ERR_FORBIDDEN',
      message: `${action === 'activate' ? 'activating' : 'deactivating'} users needs an administrator`,
    })
    await refusedUnchanged(() => alice.users[action]('alice'), { code: 'ERR_FORBIDDEN' })
  })

  it('refuses to deactivate the last active administrator', async () => {
    await refusedUnchanged(() => admin.users.deactivate('admin'), {
      code: 'ERR_CONFLICT',
      message: 'cannot deactivate admin: it is the last active administrator',
    })
    await refusedUnchanged(() => c.system.users.deactivate('ADMIN'), { code: 'ERR_CONFLICT' })
  })

  it('deactivates an administrator while another active one remains', async () => {
    await admin.users.create({ username: 'root2', password: 'root2 password', admin: true })
    await admin.users.deactivate('admin')
    const root2 = c.as(await c.auth.actorFor('root2'))
    // root2 is now the last active administrator; the deactivated one does not count.
    await expect(root2.users.deactivate('root2')).rejects.toMatchObject({ code: 'ERR_CONFLICT' })
    await expect(root2.users.delete('root2')).rejects.toMatchObject({ code: 'ERR_CONFLICT' })
    await root2.users.activate('admin')
    await expect(root2.users.deactivate('root2')).resolves.toMatchObject({ is_active: false })
  })

  it('returns ERR_NOT_FOUND for an unknown user', async () => {
    await expect(admin.users.deactivate('nobody')).rejects.toMatchObject({
      code: 'ERR_NOT_FOUND',
    })
  })
})

describe('users.delete', () => {
  it('deletes a user with their memberships and sessions', async () => {
    await alice.orgs.create('Acme')
    await alice.members.add('Acme', 'bob', 'member')
    await c.auth.login('bob', 'bob password')
    const deleted = await admin.users.delete('BOB')
    expect(deleted).toMatchObject({ username: 'bob' })
    expectNoHash(deleted)
    expect(await names()).toEqual(['admin', 'alice'])
    expect((await alice.members.list('Acme')).map((m) => m.username)).toEqual(['alice'])
    const rows = await dumpTables(path)
    const bobId = (bob.actor as { id: string }).id
    expect(JSON.stringify(rows.auth_sessions)).not.toContain(bobId)
    expect(JSON.stringify(rows.memberships)).not.toContain(bobId)
  })

  it('frees the username for a new user, who inherits nothing', async () => {
    await alice.orgs.create('Acme')
    await alice.members.add('Acme', 'bob', 'member')
    await admin.users.delete('bob')
    await admin.users.create({ username: 'bob', password: 'new bob password' })
    const newBob = c.as(await c.auth.actorFor('bob'))
    expect(await newBob.orgs.list()).toEqual([])
    await expect(bob.orgs.list()).rejects.toMatchObject({ code: 'ERR_UNAUTHENTICATED' })
  })

  it('is for administrators only', async () => {
    for (const target of ['bob', 'alice', 'admin']) {
      await refusedUnchanged(() => alice.users.delete(target), {
        code: 'ERR_FORBIDDEN',
        message: 'deleting users needs an administrator',
      })
    }
  })

  it('refuses to delete the last active administrator', async () => {
    await refusedUnchanged(() => admin.users.delete('admin'), {
      code: 'ERR_CONFLICT',
      message: 'cannot delete admin: it is the last active administrator',
    })
  })

  it('deletes an administrator, even the acting one, while another active one remains', async () => {
    await admin.users.create({ username: 'root2', password: 'root2 password', admin: true })
    await admin.users.delete('admin')
    expect(await names()).toEqual(['alice', 'bob', 'root2'])
    await expect(admin.users.list()).rejects.toMatchObject({ code: 'ERR_UNAUTHENTICATED' })
  })

  it('refuses to delete the last owner of an organization, naming every such one', async () => {
    await bob.orgs.create('Globex')
    await bob.orgs.create('Acme')
    await bob.orgs.create('Shared')
    await bob.members.add('Shared', 'alice', 'owner')
    await bob.members.add('Acme', 'alice', 'member')
    await refusedUnchanged(() => admin.users.delete('bob'), {
      code: 'ERR_CONFLICT',
      message:
        'bob is the last owner of "Acme", "Globex": give each another owner or delete them first',
    })
  })

  it('deletes a former last owner once the organization has another owner', async () => {
    await bob.orgs.create('Globex')
    await bob.members.add('Globex', 'alice', 'owner')
    await admin.users.delete('bob')
    expect(await alice.members.list('Globex')).toEqual([
      expect.objectContaining({ username: 'alice', role: 'owner' }),
    ])
  })

  it('returns ERR_NOT_FOUND for an unknown user', async () => {
    await expect(admin.users.delete('nobody')).rejects.toMatchObject({
      code: 'ERR_NOT_FOUND',
      message: 'user "nobody" not found',
    })
  })
})
