// Covers src/core/members.ts: listing, adding and removing members and changing their roles,
// with the rule that an organization always keeps an owner.

import { afterEach, beforeEach, describe, expect, it } from 'vitest'

import type { Cryptorg, Organization, Role, Workspace } from '../../src/index.js'
import { dumpTables } from '../helpers/db-rows.js'
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
let acme: Organization

/** admin; alice owns Acme; bob, carol and dave exist and belong to nothing. */
beforeEach(async () => {
  const opened = await openWithUsers('members.db', ['alice', 'bob', 'carol', 'dave'])
  ;({ c, dir, path, clock } = opened)
  admin = opened.as['admin'] as Workspace
  alice = opened.as['alice'] as Workspace
  bob = opened.as['bob'] as Workspace
  acme = await alice.orgs.create('Acme')
})

afterEach(async () => {
  await c.close()
  dir.remove()
})

const roles = async (org = 'Acme') =>
  (await c.system.members.list(org)).map((member) => [member.username, member.role])

/** Expects `run` to reject with `expected` and to leave every table as it was. */
async function refusedUnchanged(run: () => Promise<unknown>, expected: object): Promise<void> {
  const before = await dumpTables(path)
  await expect(run()).rejects.toMatchObject(expected)
  expect(await dumpTables(path)).toEqual(before)
}

describe('members.list', () => {
  it('starts with the creator as the only owner', async () => {
    expect(await alice.members.list('Acme')).toEqual([
      { username: 'alice', role: 'owner', joined_at: '2024-09-17T12:00:00Z', is_active: true },
    ])
  })

  it('lists owners, then members, then viewers, each by name case-insensitively', async () => {
    await admin.users.create({ username: 'Zed', password: 'zed password' })
    await admin.users.create({ username: 'anna', password: 'anna password' })
    await alice.members.add('Acme', 'dave', 'viewer')
    await alice.members.add('Acme', 'Zed', 'owner')
    await alice.members.add('Acme', 'carol')
    await alice.members.add('Acme', 'bob', 'viewer')
    await alice.members.add('Acme', 'anna', 'member')
    expect(await roles()).toEqual([
      ['alice', 'owner'],
      ['Zed', 'owner'],
      ['anna', 'member'],
      ['carol', 'member'],
      ['bob', 'viewer'],
      ['dave', 'viewer'],
    ])
  })

  it('shows deactivated members as inactive', async () => {
    await alice.members.add('Acme', 'bob')
    await admin.users.deactivate('bob')
    expect((await alice.members.list('Acme')).find((m) => m.username === 'bob')).toMatchObject({
      is_active: false,
    })
  })

  it('is open to every member, viewers included', async () => {
    await alice.members.add('Acme', 'bob', 'viewer')
    expect(await bob.members.list('Acme')).toHaveLength(2)
  })
})

describe('members.add', () => {
  it('adds a member by default and records when', async () => {
    clock.advance(60_000)
    expect(await alice.members.add('Acme', 'bob')).toEqual({
      username: 'bob',
      role: 'member',
      joined_at: '2024-09-17T12:01:00Z',
      is_active: true,
    })
    expect(await roles()).toEqual([
      ['alice', 'owner'],
      ['bob', 'member'],
    ])
  })

  it.each(['owner', 'member', 'viewer', ' viewer '] as const)(
    'adds with the role %j',
    async (role) => {
      expect((await alice.members.add('Acme', 'bob', role as Role)).role).toBe(role.trim())
    },
  )

  it('finds the user in any case and returns the stored spelling', async () => {
    expect((await alice.members.add('Acme', ' BOB ')).username).toBe('bob')
  })

  it('makes the organization visible to the new member', async () => {
    await expect(bob.orgs.get('Acme')).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' })
    await alice.members.add('Acme', 'bob', 'viewer')
    expect(await bob.orgs.get('Acme')).toEqual(acme)
  })

  it.each([
    ['member', 'bob is already a member of "Acme"'],
    ['viewer', 'bob is already a viewer of "Acme"'],
    ['owner', 'bob is already an owner of "Acme"'],
  ] as const)(
    'returns ERR_CONFLICT for someone already a %s, whatever role is asked',
    async (role, message) => {
      await alice.members.add('Acme', 'bob', role)
      for (const asked of ['owner', 'member', 'viewer'] as const) {
        await refusedUnchanged(() => alice.members.add('Acme', 'BOB', asked), {
          code: 'ERR_CONFLICT',
          message,
          details: { field: 'username' },
        })
      }
    },
  )

  it('returns ERR_CONFLICT when the owner adds themselves', async () => {
    await refusedUnchanged(() => alice.members.add('Acme', 'alice', 'viewer'), {
      code: 'ERR_CONFLICT',
      message: 'alice is already an owner of "Acme"',
    })
  })

  it('returns ERR_NOT_FOUND for an unknown user', async () => {
    await refusedUnchanged(() => alice.members.add('Acme', 'nobody'), {
      code: 'ERR_NOT_FOUND',
      message: 'user "nobody" not found',
    })
  })

  it.each(['admin', 'Owner', 'MEMBER', '', 'guest', 3, null])(
    'returns ERR_VALIDATION for the role %j',
    async (role) => {
      await refusedUnchanged(() => alice.members.add('Acme', 'bob', role as never), {
        code: 'ERR_VALIDATION',
        message: `role must be one of owner, member, viewer, got ${JSON.stringify(String(role))}`,
        details: { field: 'role' },
      })
    },
  )

  it('returns ERR_VALIDATION for an impossible username', async () => {
    await refusedUnchanged(() => alice.members.add('Acme', 'no spaces allowed'), {
      code: 'ERR_VALIDATION',
    })
  })

  it('returns ERR_NOT_FOUND for an unknown organization', async () => {
    await refusedUnchanged(() => alice.members.add('Nowhere', 'bob'), {
      code: 'ERR_NOT_FOUND',
      message: 'organization "Nowhere" not found',
    })
  })

  it('lets a deactivated user be added', async () => {
    await admin.users.deactivate('bob')
    expect(await alice.members.add('Acme', 'bob')).toMatchObject({ is_active: false })
  })
})

describe('members.remove', () => {
  it('removes a member, who then no longer sees the organization', async () => {
    await alice.members.add('Acme', 'bob')
    await alice.members.remove('Acme', 'Bob')
    expect(await roles()).toEqual([['alice', 'owner']])
    await expect(bob.orgs.get('Acme')).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' })
  })

  it('returns ERR_NOT_FOUND for a user who is not a member', async () => {
    await refusedUnchanged(() => alice.members.remove('Acme', 'bob'), {
      code: 'ERR_NOT_FOUND',
      message: 'bob is not a member of "Acme"',
      details: { field: 'username' },
    })
  })

  it('returns ERR_NOT_FOUND for an unknown user', async () => {
    await refusedUnchanged(() => alice.members.remove('Acme', 'nobody'), {
      code: 'ERR_NOT_FOUND',
      message: 'user "nobody" not found',
    })
  })

  it('returns ERR_CONFLICT for the last owner, even for an administrator or the system', async () => {
    await alice.members.add('Acme', 'bob', 'member')
    for (const ws of [alice, admin, c.system]) {
      await refusedUnchanged(() => ws.members.remove('Acme', 'alice'), {
        code: 'ERR_CONFLICT',
        message: 'cannot remove the last active owner of "Acme": make someone else an owner first',
      })
    }
  })

  it('removes an owner once there is another one, even themselves', async () => {
    await alice.members.add('Acme', 'bob', 'owner')
    await alice.members.remove('Acme', 'alice')
    expect(await roles()).toEqual([['bob', 'owner']])
    await expect(alice.orgs.get('Acme')).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' })
    // bob is now the last owner.
    await expect(bob.members.remove('Acme', 'bob')).rejects.toMatchObject({ code: 'ERR_CONFLICT' })
  })

  it('lets a member leave only through an owner', async () => {
    await alice.members.add('Acme', 'bob', 'member')
    await refusedUnchanged(() => bob.members.remove('Acme', 'bob'), {
      code: 'ERR_FORBIDDEN',
      message: 'removing members from "Acme" needs the owner role (you are a member)',
    })
  })
})

describe('members.setRole', () => {
  it('changes a role and says so in the audit trail', async () => {
    await alice.members.add('Acme', 'bob', 'viewer')
    clock.advance(1000)
    expect(await alice.members.setRole('Acme', 'bob', 'member')).toEqual({
      username: 'bob',
      role: 'member',
      joined_at: '2024-09-17T12:00:00Z',
      is_active: true,
    })
    expect((await admin.audit.list({ limit: 1 }))[0]).toMatchObject({
      action: 'member.role',
      actor: 'alice',
      user: 'bob',
      details: { from: 'viewer', to: 'member' },
    })
  })

  it('changes and records nothing when the role stays the same', async () => {
    await alice.members.add('Acme', 'bob', 'viewer')
    const before = await dumpTables(path)
    expect(await alice.members.setRole('Acme', 'bob', 'viewer')).toMatchObject({ role: 'viewer' })
    expect(await dumpTables(path)).toEqual(before)
  })

  it('returns ERR_CONFLICT when demoting the last owner, to either role', async () => {
    for (const role of ['member', 'viewer'] as const) {
      await refusedUnchanged(() => alice.members.setRole('Acme', 'alice', role), {
        code: 'ERR_CONFLICT',
        message: 'cannot demote the last active owner of "Acme": make someone else an owner first',
      })
    }
    await expect(alice.members.setRole('Acme', 'alice', 'owner')).resolves.toMatchObject({
      role: 'owner',
    })
  })

  it('demotes an owner once there is another one', async () => {
    await alice.members.add('Acme', 'bob', 'viewer')
    await alice.members.setRole('Acme', 'bob', 'owner')
    await alice.members.setRole('Acme', 'alice', 'viewer')
    expect(await roles()).toEqual([
      ['bob', 'owner'],
      ['alice', 'viewer'],
    ])
    await expect(bob.members.setRole('Acme', 'bob', 'member')).rejects.toMatchObject({
      code: 'ERR_CONFLICT',
    })
  })

  it('returns ERR_NOT_FOUND for a user who is not a member', async () => {
    await refusedUnchanged(() => alice.members.setRole('Acme', 'bob', 'owner'), {
      code: 'ERR_NOT_FOUND',
      message: 'bob is not a member of "Acme"',
    })
  })

  it('returns ERR_VALIDATION for a bad role before looking anything up', async () => {
    await refusedUnchanged(() => alice.members.setRole('Nowhere', 'nobody', 'boss' as never), {
      code: 'ERR_VALIDATION',
      message: 'role must be one of owner, member, viewer, got "boss"',
    })
  })

  it('does not let a member promote themselves', async () => {
    await alice.members.add('Acme', 'bob', 'member')
    await refusedUnchanged(() => bob.members.setRole('Acme', 'bob', 'owner'), {
      code: 'ERR_FORBIDDEN',
      message: 'changing roles in "Acme" needs the owner role (you are a member)',
      details: { org: acme.id, role: 'member', needed: 'owner' },
    })
  })
})

describe('organizations without an owner', () => {
  it('the system may create one and give it its first owner', async () => {
    await c.system.orgs.create('Umbrella')
    expect(await c.system.members.list('Umbrella')).toEqual([])
    await c.system.members.add('Umbrella', 'bob', 'owner')
    expect(await roles('Umbrella')).toEqual([['bob', 'owner']])
    await expect(bob.orgs.rename('Umbrella', 'Umbrella Corp')).resolves.toBeDefined()
  })
})

describe('memberships go with the organization', () => {
  it('are deleted with it, and come back empty if the name is reused', async () => {
    await alice.members.add('Acme', 'bob')
    await alice.orgs.delete('Acme')
    await alice.orgs.create('Acme')
    expect(await roles()).toEqual([['alice', 'owner']])
    expect(await bob.orgs.list()).toEqual([])
  })
})
