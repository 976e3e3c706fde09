// Covers src/core/audit.ts: which changes are recorded, by whom and when, who may read which
// events, and the org, since and limit filters.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'

import type { AuditEvent, Cryptorg, Organization, Workspace } from '../../src/index.js'
import { FAST_HASHING } from '../helpers/cli.js'
import { type FakeClock, fakeClock } from '../helpers/fake-clock.js'
import { openTestDb } from '../helpers/open-test-db.js'

let clock: FakeClock
let c: Cryptorg
let admin: Workspace
let alice: Workspace
let bob: Workspace
let carol: Workspace

/** admin; alice, bob and carol are plain users. Each step below moves the clock a minute. */
beforeEach(async () => {
  clock = fakeClock('2024-09-17T12:00:00.000Z')
  c = await openTestDb({ passwordHashing: FAST_HASHING, clock })
  await c.auth.bootstrap({ username: 'admin', password: 'admin password' })
  admin = c.as(await c.auth.actorFor('admin'))
  for (const name of ['alice', 'bob', 'carol']) {
    clock.advance(60_000)
    await admin.users.create({ username: name, password: `${name} password` })
  }
  alice = c.as(await c.auth.actorFor('alice'))
  bob = c.as(await c.auth.actorFor('bob'))
  carol = c.as(await c.auth.actorFor('carol'))
})

afterEach(async () => {
  await c.close()
})

const minute = (n: number) => `2024-09-17T12:${String(n).padStart(2, '0')}:00Z`

/** Newest event first, without its id. */
const latest = async (ws: Workspace = admin) => {
  const [event] = await ws.audit.list({ limit: 1 })
  if (!event) throw new Error('no event')
  const { id: _id, ...rest } = event
  return rest
}

const summary = (events: AuditEvent[]) =>
  events.map(
    (event) => `${event.actor} ${event.action} ${event.org_name ?? '-'} ${event.user ?? '-'}`,
  )

describe('what is recorded', () => {
  it('records user.create for the first administrator and for each user, with actor and time', async () => {
    const events = await admin.audit.list()
    expect(events.map(({ id: _id, ...rest }) => rest)).toEqual([
      {
        at: minute(3),
        actor: 'admin',
        action: 'user.create',
        org_id: null,
        org_name: null,
        user: 'carol',
        details: { admin: false },
      },
      expect.objectContaining({ at: minute(2), user: 'bob' }),
      expect.objectContaining({ at: minute(1), user: 'alice' }),
      {
        at: minute(0),
        actor: 'system',
        action: 'user.create',
        org_id: null,
        org_name: null,
        user: 'admin',
        details: { admin: true, first: true },
      },
    ])
  })

  it('records each organization and membership change with who did it and when', async () => {
    clock.set(minute(10))
    const acme = await alice.orgs.create('Acme')
    expect(await latest()).toEqual({
      at: minute(10),
      actor: 'alice',
      action: 'org.create',
      org_id: acme.id,
      org_name: 'Acme',
      user: null,
      details: null,
    })

    clock.set(minute(11))
    await alice.members.add('Acme', 'bob', 'viewer')
    expect(await latest()).toEqual({
      at: minute(11),
      actor: 'alice',
      action: 'member.add',
      org_id: acme.id,
      org_name: 'Acme',
      user: 'bob',
      details: { role: 'viewer' },
    })

    clock.set(minute(12))
    await alice.members.setRole('Acme', 'bob', 'owner')
    expect(await latest()).toMatchObject({
      at: minute(12),
      actor: 'alice',
      action: 'member.role',
      user: 'bob',
      details: { from: 'viewer', to: 'owner' },
    })

    clock.set(minute(13))
    await bob.members.remove('Acme', 'alice')
    expect(await latest()).toMatchObject({
      at: minute(13),
      actor: 'bob',
      action: 'member.remove',
      org_id: acme.id,
      user: 'alice',
      details: { role: 'owner' },
    })

    clock.set(minute(14))
    await bob.orgs.rename('acme', 'Acme Corp')
    expect(await latest()).toEqual({
      at: minute(14),
      actor: 'bob',
      action: 'org.rename',
      org_id: acme.id,
      org_name: 'Acme Corp',
      user: null,
      details: { from: 'Acme', to: 'Acme Corp' },
    })

    clock.set(minute(15))
    await bob.prices.add({ org: 'Acme Corp', symbol: 'BTC', price: '1' })
    await bob.prices.add({ org: 'Acme Corp', symbol: 'ETH', price: '2' })
    await bob.orgs.delete(acme.id)
    expect(await latest()).toEqual({
      at: minute(15),
      actor: 'bob',
      action: 'org.delete',
      org_id: acme.id,
      org_name: 'Acme Corp',
      user: null,
      details: { prices_deleted: 2 },
    })
  })

  it('records each user change with who did it and when', async () => {
    clock.set(minute(20))
    await admin.users.deactivate('alice')
    expect(await latest()).toEqual({
      at: minute(20),
      actor: 'admin',
      action: 'user.deactivate',
      org_id: null,
      org_name: null,
      user: 'alice',
      details: null,
    })
    clock.set(minute(21))
    await admin.users.activate('alice')
    expect(await latest()).toMatchObject({ at: minute(21), action: 'user.activate', user: 'alice' })

    clock.set(minute(22))
    await alice.users.changePassword('alice', {
      currentPassword: 'alice password',
      newPassword: 'another password',
    })
    expect(await latest()).toEqual({
      at: minute(22),
      actor: 'alice',
      action: 'user.password',
      org_id: null,
      org_name: null,
      user: 'alice',
      details: null,
    })
    clock.set(minute(23))
    await admin.users.changePassword('bob', { newPassword: 'reset by admin' })
    expect(await latest()).toMatchObject({ actor: 'admin', action: 'user.password', user: 'bob' })

    clock.set(minute(24))
    await c.system.users.delete('carol')
    expect(await latest()).toEqual({
      at: minute(24),
      actor: 'system',
      action: 'user.delete',
      org_id: null,
      org_name: null,
      user: 'carol',
      details: null,
    })
    const trail = JSON.stringify(await admin.audit.list())
    for (const secret of ['alice password', 'another password', 'reset by admin', 'scrypt']) {
      expect(trail).not.toContain(secret)
    }
  })

  it('records nothing for a refused change', async () => {
    await alice.orgs.create('Acme')
    const before = await admin.audit.list()
    await expect(bob.orgs.rename('Acme', 'Mine')).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' })
    await expect(alice.members.remove('Acme', 'alice')).rejects.toMatchObject({
      code: 'ERR_CONFLICT',
    })
    await expect(
      alice.users.create({ username: 'x1', password: 'password1' }),
    ).rejects.toMatchObject({ code: 'ERR_FORBIDDEN' })
    await expect(admin.users.deactivate('admin')).rejects.toMatchObject({ code: 'ERR_CONFLICT' })
    await expect(alice.orgs.create('ACME')).rejects.toMatchObject({ code: 'ERR_CONFLICT' })
    expect(await admin.audit.list()).toEqual(before)
  })

  it('names the actor as they were called when they acted, even after they are deleted', async () => {
    await alice.orgs.create('Acme')
    await alice.members.add('Acme', 'bob', 'owner')
    await admin.users.delete('alice')
    expect(summary(await bob.audit.list())).toEqual([
      'alice member.add Acme bob',
      'alice org.create Acme -',
    ])
  })
})

describe('events outlive what they are about', () => {
  it('keeps the events of a deleted organization for administrators', async () => {
    const acme = await alice.orgs.create('Acme')
    await alice.members.add('Acme', 'bob')
    await alice.orgs.delete('Acme')
    const events = (await admin.audit.list()).filter((event) => event.org_id === acme.id)
    expect(summary(events)).toEqual([
      'alice org.delete Acme -',
      'alice member.add Acme bob',
      'alice org.create Acme -',
    ])
    // Nobody owns it any more, so its former owner sees none of it.
    expect(await alice.audit.list()).toEqual([])
  })

  it('does not mix the events of a new organization with those of a deleted one of the same name', async () => {
    await alice.orgs.create('Acme')
    await alice.orgs.delete('Acme')
    const second = await bob.orgs.create('Acme')
    expect(summary(await bob.audit.list())).toEqual(['bob org.create Acme -'])
    expect(await bob.audit.list({ org: 'Acme' })).toEqual(await bob.audit.list({ org: second.id }))
    expect((await admin.audit.list({ org: 'Acme' })).every((e) => e.org_id === second.id)).toBe(
      true,
    )
  })
})

describe('who sees which events', () => {
  let acme: Organization
  let globex: Organization

  beforeEach(async () => {
    acme = await alice.orgs.create('Acme')
    await alice.members.add('Acme', 'carol', 'member')
    globex = await bob.orgs.create('Globex')
    await bob.members.add('Globex', 'carol', 'viewer')
    // An administrator acting in Acme: its owner sees that too.
    await admin.members.add('Acme', 'bob', 'viewer')
  })

  it('administrators and the system see every event', async () => {
    for (const ws of [admin, c.system]) {
      const events = await ws.audit.list()
      expect(events).toHaveLength(4 + 5)
      expect(new Set(events.map((event) => event.org_id))).toEqual(
        new Set([null, acme.id, globex.id]),
      )
    }
  })

  it("owners see their organizations' events, whoever acted, and nothing else", async () => {
    expect(summary(await alice.audit.list())).toEqual([
      'admin member.add Acme bob',
      'alice member.add Acme carol',
      'alice org.create Acme -',
    ])
    expect(summary(await bob.audit.list())).toEqual([
      'bob member.add Globex carol',
      'bob org.create Globex -',
    ])
  })

  it('members and viewers see no events, and asking for their organization is forbidden', async () => {
    expect(await carol.audit.list()).toEqual([])
    for (const [ws, who] of [
      [carol, 'a member'],
      [bob, 'a viewer'],
    ] as const) {
      // carol is a member of Acme; bob is a viewer of Acme and owner of Globex.
      await expect(ws.audit.list({ org: 'Acme' })).rejects.toMatchObject({
        code: 'ERR_FORBIDDEN',
        message: `reading the audit trail of "Acme" needs the owner role (you are ${who})`,
      })
    }
  })

  it('users see no events about users, not even about themselves', async () => {
    await alice.users.changePassword('alice', {
      currentPassword: 'alice password',
      newPassword: 'another password',
    })
    expect((await alice.audit.list()).some((e) => e.action.startsWith('user.'))).toBe(false)
  })

  it("an organization filter on someone else's organization is not found, as if missing", async () => {
    const missing = await alice.audit.list({ org: 'Nowhere' }).catch((e: unknown) => e)
    const foreign = await alice.audit.list({ org: 'Globex' }).catch((e: unknown) => e)
    expect(missing).toMatchObject({
      code: 'ERR_NOT_FOUND',
      message: 'organization "Nowhere" not found',
    })
    expect(foreign).toMatchObject({
      code: 'ERR_NOT_FOUND',
      message: 'organization "Globex" not found',
    })
    await expect(alice.audit.list({ org: globex.id })).rejects.toMatchObject({
      code: 'ERR_NOT_FOUND',
      message: `organization "${globex.id}" not found`,
    })
  })

  it('seeing follows ownership now: a removed owner loses the history, a new one gains it', async () => {
    await alice.members.setRole('Acme', 'carol', 'owner')
    expect(summary(await carol.audit.list())).toContain('alice org.create Acme -')
    await carol.members.remove('Acme', 'alice')
    expect(await alice.audit.list()).toEqual([])
    await expect(alice.audit.list({ org: 'Acme' })).rejects.toMatchObject({
      code: 'ERR_NOT_FOUND',
    })
  })

  it('filters by organization id or name, for owners and administrators alike', async () => {
    for (const ws of [alice, admin]) {
      const byName = await ws.audit.list({ org: 'acme' })
      expect(byName).toEqual(await ws.audit.list({ org: acme.id }))
      expect(byName.every((event) => event.org_id === acme.id)).toBe(true)
      expect(byName).toHaveLength(3)
    }
  })
})

describe('since and limit', () => {
  beforeEach(async () => {
    for (let n = 10; n < 15; n++) {
      clock.set(minute(n))
      await alice.orgs.create(`Org ${n}`)
    }
  })

  it('returns events from the given moment on, inclusive, as a Date or ISO text', async () => {
    const fromDate = await alice.audit.list({ since: new Date(minute(12)) })
    expect(fromDate.map((event) => event.at)).toEqual([minute(14), minute(13), minute(12)])
    expect(await alice.audit.list({ since: '2024-09-17T12:12:00Z' })).toEqual(fromDate)
    expect(await alice.audit.list({ since: '2024-09-17T14:12:00+02:00' })).toEqual(fromDate)
    expect(await alice.audit.list({ since: minute(59) })).toEqual([])
  })

  it('returns the newest events first, then by insertion for equal times', async () => {
    clock.set(minute(30))
    await alice.orgs.create('Same A')
    await alice.orgs.create('Same B')
    expect(summary(await alice.audit.list({ limit: 3 }))).toEqual([
      'alice org.create Same B -',
      'alice org.create Same A -',
      'alice org.create Org 14 -',
    ])
  })

  it('returns at most limit events, given as a number or text', async () => {
    expect(await alice.audit.list({ limit: 2 })).toHaveLength(2)
    expect(await alice.audit.list({ limit: '2' })).toHaveLength(2)
    expect(await alice.audit.list({ limit: 1, since: new Date(minute(11)) })).toEqual([
      expect.objectContaining({ at: minute(14) }),
    ])
    expect(await alice.audit.list({ limit: 10_000 })).toHaveLength(5)
  })

  it('returns 100 events by default', async () => {
    for (let n = 0; n < 100; n++) await alice.orgs.create(`Bulk ${n}`)
    expect(await alice.audit.list()).toHaveLength(100)
    expect(await alice.audit.list({ limit: 200 })).toHaveLength(105)
  })

  it.each([0, -1, 10_001, 1.5, 'ten', ''])(
    'refuses the limit %j with ERR_VALIDATION',
    async (limit) => {
      await expect(alice.audit.list({ limit })).rejects.toMatchObject({
        code: 'ERR_VALIDATION',
        details: { field: 'limit' },
      })
    },
  )

  it.each(['yesterday', '24h', '2024-02-30', '', new Date(Number.NaN)])(
    'refuses since %j with ERR_VALIDATION',
    async (since) => {
      await expect(alice.audit.list({ since })).rejects.toMatchObject({
        code: 'ERR_VALIDATION',
        details: { field: 'since' },
      })
    },
  )
})
