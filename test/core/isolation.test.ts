// Covers the per-user isolation of organizations in src/core (actor.ts with orgs.ts, prices.ts,
// members.ts and audit.ts): what each user may see and do in organizations of their own, of
// others, and by role; refused operations leak nothing and write nothing.

import { afterEach, beforeEach, describe, expect, it } from 'vitest'

import {
  type Cryptorg,
  CryptorgError,
  type Organization,
  type Role,
  type Workspace,
} from '../../src/index.js'
import { dumpTables } from '../helpers/db-rows.js'
import type { FakeClock } from '../helpers/fake-clock.js'
import type { tempDir } from '../helpers/open-test-db.js'
import { openWithUsers } from '../helpers/users.js'

const START = '2024-09-17T12:00:00.000Z'
const OLD = '2024-06-09T12:00:00.000Z'
const PRUNE_BEFORE = new Date('2024-08-01T00:00:00.000Z')
const MISSING_ID = '9f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f'

let dir: ReturnType<typeof tempDir>
let path: string
let clock: FakeClock
let c: Cryptorg
let admin: Workspace
let alice: Workspace
let bob: Workspace
let acme: Organization
let globex: Organization
const as: Record<string, Workspace> = {}

/**
 * admin (administrator, member of nothing); alice owns Acme, bob owns Globex; in Acme carol is a
 * viewer, dave a member and erin a member; erin is also a member of Globex; frank belongs to
 * nothing. Each organization has an old and a recent price.
 */
beforeEach(async () => {
  const opened = await openWithUsers(
    'isolation.db',
    ['alice', 'bob', 'carol', 'dave', 'erin', 'frank'],
    START,
  )
  ;({ c, dir, path, clock } = opened)
  Object.assign(as, opened.as)
  admin = opened.as['admin'] as Workspace
  as['system'] = c.system
  alice = as['alice']!
  bob = as['bob']!

  acme = await alice.orgs.create('Acme')
  await alice.members.add('Acme', 'carol', 'viewer')
  await alice.members.add('Acme', 'dave', 'member')
  await alice.members.add('Acme', 'erin', 'member')
  globex = await bob.orgs.create('Globex')
  await bob.members.add('Globex', 'erin', 'member')

  clock.set(OLD)
  await alice.prices.add({ org: 'Acme', symbol: 'BTC', price: '30000' })
  await bob.prices.add({ org: 'Globex', symbol: 'ETH', price: '2000' })
  clock.set(START)
  await alice.prices.add({ org: 'Acme', symbol: 'BTC', price: '45000' })
  await bob.prices.add({ org: 'Globex', symbol: 'ETH', price: '2500' })
})

afterEach(async () => {
  await c.close()
  dir.remove()
})

/** Awaits `run` and returns the CryptorgError it rejects with. */
async function failure(run: Promise<unknown>): Promise<CryptorgError> {
  try {
    await run
  } catch (error) {
    expect(error).toBeInstanceOf(CryptorgError)
    return error as CryptorgError
  }
  throw new Error('expected the operation to fail')
}

const shape = (error: CryptorgError) => ({
  code: error.code,
  message: error.message,
  details: { ...error.details },
})

const notFound = (ref: string) => ({
  code: 'ERR_NOT_FOUND',
  message: `organization ${JSON.stringify(ref)} not found`,
  details: { org: ref },
})

interface Operation {
  name: string
  /** Runs the operation on the organization `ref` (a name or an id). */
  run: (ws: Workspace, ref: string) => Promise<unknown>
  /** The least role it needs in the organization. */
  needs: Role
  /** How a refusal names what was being done. */
  doing: string
  /** Whether a success changes the database. */
  writes: boolean
  /** Checks a successful result for `org`, then what it left in the database. */
  check: (result: unknown, org: Organization, ws: Workspace) => Promise<void>
}

const OPERATIONS: Operation[] = [
  {
    name: 'orgs.get',
    run: (ws, ref) => ws.orgs.get(ref),
    needs: 'viewer',
    doing: '',
    writes: false,
    check: async (result, org) => expect(result).toEqual(org),
  },
  {
    name: 'orgs.rename',
    run: (ws, ref) => ws.orgs.rename(ref, 'Renamed Inc'),
    needs: 'owner',
    doing: 'renaming',
    writes: true,
    check: async (result, org) => {
      expect(result).toEqual({ ...org, name: 'Renamed Inc' })
      expect(await c.system.orgs.get(org.id)).toEqual({ ...org, name: 'Renamed Inc' })
    },
  },
  {
    name: 'orgs.delete',
    run: (ws, ref) => ws.orgs.delete(ref),
    needs: 'owner',
    doing: 'deleting',
    writes: true,
    check: async (result, org) => {
      expect(result).toEqual({ organization: org, prices_deleted: 2 })
      await expect(c.system.orgs.get(org.id)).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' })
    },
  },
  {
    name: 'prices.add',
    run: (ws, ref) => ws.prices.add({ org: ref, symbol: 'SOL', price: '150' }),
    needs: 'member',
    doing: 'adding prices to',
    writes: true,
    check: async (result, org) => {
      expect(result).toMatchObject({ org_id: org.id, symbol: 'SOL', price: '150.0000000000' })
      expect((await c.system.prices.history(org.id)).map((p) => p.symbol)).toContain('SOL')
    },
  },
  {
    name: 'prices.latest',
    run: (ws, ref) => ws.prices.latest(ref),
    needs: 'viewer',
    doing: '',
    writes: false,
    check: async (result, org) => {
      const symbol = org.name === 'Acme' ? 'BTC' : 'ETH'
      const price = org.name === 'Acme' ? '45000.0000000000' : '2500.0000000000'
      expect(result).toEqual([expect.objectContaining({ org_id: org.id, symbol, price })])
    },
  },
  {
    name: 'prices.history',
    run: (ws, ref) => ws.prices.history(ref),
    needs: 'viewer',
    doing: '',
    writes: false,
    check: async (result, org) => {
      expect(result).toHaveLength(2)
      expect((result as { org_id: string }[]).every((p) => p.org_id === org.id)).toBe(true)
    },
  },
  {
    name: 'prices.prune',
    run: (ws, ref) => ws.prices.prune({ olderThan: PRUNE_BEFORE, org: ref }),
    needs: 'owner',
    doing: 'pruning prices of',
    writes: true,
    check: async (result, org) => {
      expect(result).toEqual({ cutoff: '2024-08-01T00:00:00Z', deleted: 1, dry_run: false })
      expect(await c.system.prices.history(org.id)).toHaveLength(1)
      // The other organization's old price is still there.
      const other = org.id === acme.id ? globex : acme
      expect(await c.system.prices.history(other.id)).toHaveLength(2)
    },
  },
  {
    name: 'prices.prune (dry run)',
    run: (ws, ref) => ws.prices.prune({ olderThan: PRUNE_BEFORE, org: ref, dryRun: true }),
    needs: 'owner',
    doing: 'pruning prices of',
    writes: false,
    check: async (result, org) => {
      expect(result).toEqual({ cutoff: '2024-08-01T00:00:00Z', deleted: 1, dry_run: true })
      expect(await c.system.prices.history(org.id)).toHaveLength(2)
    },
  },
  {
    name: 'members.list',
    run: (ws, ref) => ws.members.list(ref),
    needs: 'viewer',
    doing: '',
    writes: false,
    check: async (result, org) => {
      const expected =
        org.name === 'Acme'
          ? [
              ['alice', 'owner'],
              ['dave', 'member'],
              ['erin', 'member'],
              ['carol', 'viewer'],
            ]
          : [
              ['bob', 'owner'],
              ['erin', 'member'],
            ]
      expect(
        (result as { username: string; role: Role }[]).map((m) => [m.username, m.role]),
      ).toEqual(expected)
    },
  },
  {
    name: 'members.add',
    run: (ws, ref) => ws.members.add(ref, 'frank', 'viewer'),
    needs: 'owner',
    doing: 'adding members to',
    writes: true,
    check: async (result, org) => {
      expect(result).toMatchObject({ username: 'frank', role: 'viewer', is_active: true })
      expect((await c.system.members.list(org.id)).map((m) => m.username)).toContain('frank')
    },
  },
  {
    name: 'members.remove',
    run: (ws, ref) => ws.members.remove(ref, 'erin'),
    needs: 'owner',
    doing: 'removing members from',
    writes: true,
    check: async (result, org) => {
      expect(result).toBeUndefined()
      expect((await c.system.members.list(org.id)).map((m) => m.username)).not.toContain('erin')
      // erin stays in the other organization.
      const other = org.id === acme.id ? globex : acme
      expect((await c.system.members.list(other.id)).map((m) => m.username)).toContain('erin')
    },
  },
  {
    name: 'members.setRole',
    run: (ws, ref) => ws.members.setRole(ref, 'erin', 'viewer'),
    needs: 'owner',
    doing: 'changing roles in',
    writes: true,
    check: async (result, org) => {
      expect(result).toMatchObject({ username: 'erin', role: 'viewer' })
      const erin = (await c.system.members.list(org.id)).find((m) => m.username === 'erin')
      expect(erin?.role).toBe('viewer')
      const other = org.id === acme.id ? globex : acme
      const elsewhere = (await c.system.members.list(other.id)).find((m) => m.username === 'erin')
      expect(elsewhere?.role).toBe('member')
    },
  },
  {
    name: 'audit.list',
    run: (ws, ref) => ws.audit.list({ org: ref }),
    needs: 'owner',
    doing: 'reading the audit trail of',
    writes: false,
    check: async (result, org) => {
      const events = result as { org_id: string; action: string }[]
      expect(events.length).toBeGreaterThan(0)
      expect(events.every((event) => event.org_id === org.id)).toBe(true)
      expect(events.map((event) => event.action)).toContain('org.create')
    },
  },
]

const REFS = ['name', 'id'] as const
const refOf = (org: Organization, by: (typeof REFS)[number]) => (by === 'name' ? org.name : org.id)

/** Every operation, by name and by id. */
const MATRIX = OPERATIONS.flatMap((op) => REFS.map((by) => [op.name, by, op] as const))

describe('each user gets the right answer for their own organization', () => {
  it.each(MATRIX)('%s by %s: alice on Acme', async (_, by, op) => {
    const before = await dumpTables(path)
    const result = await op.run(alice, refOf(acme, by))
    await op.check(result, acme, alice)
    // The control for the refusals below: a success is seen by the same comparison.
    if (op.writes) expect(await dumpTables(path)).not.toEqual(before)
    else expect(await dumpTables(path)).toEqual(before)
    expect(JSON.stringify(result ?? null)).not.toContain(globex.id)
    expect(JSON.stringify(result ?? null)).not.toContain('Globex')
  })

  it.each(MATRIX)('%s by %s: bob on Globex', async (_, by, op) => {
    const result = await op.run(bob, refOf(globex, by))
    await op.check(result, globex, bob)
    expect(JSON.stringify(result ?? null)).not.toContain(acme.id)
    expect(JSON.stringify(result ?? null)).not.toContain('Acme')
  })
})

describe("another user's organization does not exist for them", () => {
  it.each(MATRIX)(
    '%s by %s: refused with ERR_NOT_FOUND like a missing one, and nothing is written',
    async (_, by, op) => {
      for (const [who, org] of [
        [bob, acme],
        [alice, globex],
        [as['frank']!, acme],
      ] as const) {
        const ref = refOf(org, by)
        const before = await dumpTables(path)
        const error = await failure(op.run(who, ref))
        expect(shape(error)).toEqual(notFound(ref))
        expect(await dumpTables(path)).toEqual(before)

        // The same operation on a reference that never existed fails in the same way.
        const missingRef = by === 'name' ? 'Nonexistent' : MISSING_ID
        expect(shape(await failure(op.run(who, missingRef)))).toEqual(notFound(missingRef))
      }
    },
  )

  it.each(MATRIX)(
    '%s by %s: the error is identical before and after the organization is really deleted',
    async (_, by, op) => {
      const ref = refOf(acme, by)
      const whileItExists = shape(await failure(op.run(bob, ref)))
      await c.system.orgs.delete(acme.id)
      const onceGone = shape(await failure(op.run(bob, ref)))
      expect(whileItExists).toEqual(onceGone)
    },
  )

  it.each(['ACME', ' acme ', 'aCmE'])(
    'does not tell a foreign organization apart by the spelling %j either',
    async (ref) => {
      expect(shape(await failure(bob.orgs.get(ref)))).toEqual(notFound(ref.trim()))
      expect(shape(await failure(bob.orgs.get(acme.id.toUpperCase())))).toEqual(
        notFound(acme.id.toUpperCase()),
      )
    },
  )
})

describe('nothing of one user’s organization shows in the other’s output', () => {
  it('orgs.list shows each user only the organizations they belong to', async () => {
    expect(await alice.orgs.list()).toEqual([acme])
    expect(await bob.orgs.list()).toEqual([globex])
    expect(await as['frank']!.orgs.list()).toEqual([])
    expect(await as['erin']!.orgs.list()).toEqual([acme, globex])
    for (const ordering of ['name', '-name', 'created_at', '-created_at'] as const) {
      expect(await alice.orgs.list({ ordering })).toEqual([acme])
    }
  })

  it('orgs.list search does not find foreign organizations', async () => {
    expect(await alice.orgs.list({ search: 'Glo' })).toEqual([])
    expect(await alice.orgs.list({ search: '' })).toEqual([acme])
    expect(await bob.orgs.list({ search: 'a' })).toEqual([])
    expect(await bob.orgs.list({ search: 'glob' })).toEqual([globex])
  })

  it('audit.list without an organization shows only the events of organizations owned', async () => {
    const aliceEvents = await alice.audit.list()
    const bobEvents = await bob.audit.list()
    expect(aliceEvents.length).toBeGreaterThan(0)
    expect(aliceEvents.every((event) => event.org_id === acme.id)).toBe(true)
    expect(bobEvents.every((event) => event.org_id === globex.id)).toBe(true)
    expect(JSON.stringify(aliceEvents)).not.toContain('Globex')
    expect(JSON.stringify(aliceEvents)).not.toContain(globex.id)
    expect(JSON.stringify(bobEvents)).not.toContain('Acme')
    // Events about users (their creation by the administrator) belong to no organization.
    expect(aliceEvents.some((event) => event.action.startsWith('user.'))).toBe(false)
  })

  it('a later rename of a foreign organization stays out of sight', async () => {
    await bob.orgs.rename('Globex', 'Globex Two')
    await bob.prices.add({ org: 'Globex Two', symbol: 'BTC', price: '1' })
    expect(JSON.stringify(await alice.audit.list())).not.toContain('Globex')
    expect(await alice.orgs.list()).toEqual([acme])
  })

  it('prices and members of one organization never show in the other', async () => {
    const acmePrices = [
      ...(await alice.prices.history('Acme')),
      ...(await alice.prices.latest('Acme')),
    ]
    expect(acmePrices.every((price) => price.org_id === acme.id)).toBe(true)
    expect((await alice.members.list('Acme')).map((m) => m.username)).not.toContain('bob')
    expect((await bob.members.list('Globex')).map((m) => m.username)).not.toContain('alice')
  })

  it('leaks nothing through a name taken by a foreign organization, except that it is taken', async () => {
    // Names are unique across the installation, so creating or renaming to a foreign name must
    // fail; the conflict is the only thing it says.
    const before = await dumpTables(path)
    expect(shape(await failure(alice.orgs.create('Globex')))).toEqual({
      code: 'ERR_CONFLICT',
      message: 'organization "Globex" already exists',
      details: { field: 'name' },
    })
    expect(shape(await failure(alice.orgs.rename('Acme', 'GLOBEX')))).toMatchObject({
      code: 'ERR_CONFLICT',
    })
    expect(await dumpTables(path)).toEqual(before)
  })
})

type Who = 'viewer' | 'member' | 'owner' | 'admin' | 'system'
/** Who plays each part in Acme. */
const PLAYERS: Record<Who, string> = {
  viewer: 'carol',
  member: 'dave',
  owner: 'alice',
  admin: 'admin',
  system: 'system',
}
const RANK: Record<Role, number> = { viewer: 1, member: 2, owner: 3 }
const allowed = (who: Who, needs: Role) =>
  who === 'admin' || who === 'system' || RANK[who] >= RANK[needs]

const ROLE_MATRIX = OPERATIONS.flatMap((op) =>
  (Object.keys(PLAYERS) as Who[]).map((who) => [op.name, who, allowed(who, op.needs), op] as const),
)

describe('roles in an organization', () => {
  it.each(ROLE_MATRIX)('%s as %s in Acme: allowed %s', async (_, who, isAllowed, op) => {
    const ws = as[PLAYERS[who]]!
    if (isAllowed) {
      await op.check(await op.run(ws, 'Acme'), acme, ws)
      return
    }
    const before = await dumpTables(path)
    const error = await failure(op.run(ws, 'Acme'))
    expect(shape(error)).toEqual({
      code: 'ERR_FORBIDDEN',
      message: `${op.doing} "Acme" needs the ${op.needs} role (you are a ${who})`,
      details: { org: acme.id, role: who, needed: op.needs },
    })
    expect(await dumpTables(path)).toEqual(before)
  })

  it('a viewer may read everything of the organization but add no price', async () => {
    const carol = as['carol']!
    expect(await carol.orgs.get('Acme')).toEqual(acme)
    expect(await carol.orgs.list()).toEqual([acme])
    expect(await carol.prices.latest('Acme')).toHaveLength(1)
    expect(await carol.members.list('Acme')).toHaveLength(4)
    await expect(
      carol.prices.add({ org: 'Acme', symbol: 'BTC', price: '1' }),
    ).rejects.toMatchObject({
      code: 'ERR_FORBIDDEN',
      message: 'adding prices to "Acme" needs the member role (you are a viewer)',
    })
  })

  it('validation comes first: a viewer sending a bad price gets ERR_VALIDATION', async () => {
    await expect(
      as['carol']!.prices.add({ org: 'Acme', symbol: 'BTC', price: 'lots' }),
    ).rejects.toMatchObject({ code: 'ERR_VALIDATION' })
  })

  it('an owner may also pass ownership on and then step down', async () => {
    await alice.members.setRole('Acme', 'dave', 'owner')
    await alice.members.setRole('Acme', 'alice', 'viewer')
    await expect(alice.orgs.rename('Acme', 'Acme 2')).rejects.toMatchObject({
      code: 'ERR_FORBIDDEN',
      message: 'renaming "Acme" needs the owner role (you are a viewer)',
    })
    await expect(as['dave']!.orgs.rename('Acme', 'Acme 2')).resolves.toMatchObject({
      name: 'Acme 2',
    })
  })

  it('rights follow the database: a demoted or removed user loses them on the next call', async () => {
    const dave = as['dave']!
    await alice.members.setRole('Acme', 'dave', 'viewer')
    await expect(dave.prices.add({ org: 'Acme', symbol: 'BTC', price: '1' })).rejects.toMatchObject(
      { code: 'ERR_FORBIDDEN' },
    )
    await alice.members.remove('Acme', 'dave')
    expect(shape(await failure(dave.orgs.get('Acme')))).toEqual(notFound('Acme'))
    expect(await dave.orgs.list()).toEqual([])
  })

  it('only administrators may prune every organization at once', async () => {
    for (const name of ['alice', 'bob', 'carol', 'frank']) {
      const before = await dumpTables(path)
      await expect(as[name]!.prices.prune({ olderThan: PRUNE_BEFORE })).rejects.toMatchObject({
        code: 'ERR_FORBIDDEN',
        message: 'pruning every organization needs an administrator',
      })
      expect(await dumpTables(path)).toEqual(before)
    }
    expect(await admin.prices.prune({ olderThan: PRUNE_BEFORE })).toMatchObject({ deleted: 2 })
  })
})

describe('administrators and the system', () => {
  it.each(['admin', 'system'])('%s sees every organization and every event', async (who) => {
    const ws = as[who]!
    expect(await ws.orgs.list()).toEqual([acme, globex])
    const events = await ws.audit.list()
    expect(events.map((event) => event.org_id)).toEqual(
      expect.arrayContaining([acme.id, globex.id]),
    )
    expect(events.some((event) => event.action === 'user.create')).toBe(true)
  })

  it.each(['admin', 'system'])('%s acts on organizations they are no member of', async (who) => {
    const ws = as[who]!
    await ws.prices.add({ org: 'Globex', symbol: 'BTC', price: '1' })
    await ws.members.add('Acme', 'frank', 'member')
    await ws.orgs.rename('Globex', 'Globex Corp')
    expect((await ws.orgs.delete('Acme')).prices_deleted).toBe(2)
    expect(await ws.orgs.list()).toEqual([{ ...globex, name: 'Globex Corp' }])
  })

  it('an administrator who creates an organization becomes its owner; the system does not', async () => {
    await admin.orgs.create('Initech')
    expect(await admin.members.list('Initech')).toEqual([
      expect.objectContaining({ username: 'admin', role: 'owner' }),
    ])
    await c.system.orgs.create('Umbrella')
    expect(await c.system.members.list('Umbrella')).toEqual([])
    expect(shape(await failure(alice.orgs.get('Umbrella')))).toEqual(notFound('Umbrella'))
  })
})

describe('tracked coins', () => {
  it('may be read by every user but changed only by administrators', async () => {
    expect((await alice.coins.list()).map((coin) => coin.symbol)).toEqual(['BTC', 'ETH'])
    const before = await dumpTables(path)
    await expect(alice.coins.track({ symbol: 'SOL', coinId: 'solana' })).rejects.toMatchObject({
      code: 'ERR_FORBIDDEN',
      message: 'tracking coins needs an administrator',
    })
    await expect(bob.coins.untrack('BTC')).rejects.toMatchObject({
      code: 'ERR_FORBIDDEN',
      message: 'untracking coins needs an administrator',
    })
    expect(await dumpTables(path)).toEqual(before)
    await admin.coins.track({ symbol: 'SOL', coinId: 'solana' })
    await admin.coins.untrack('BTC')
    expect((await alice.coins.list()).map((coin) => coin.symbol)).toEqual(['ETH', 'SOL'])
  })
})

describe('actors that no longer count', () => {
  it('a deactivated user is refused every operation, even on their own organization', async () => {
    await admin.users.deactivate('alice')
    const before = await dumpTables(path)
    for (const op of OPERATIONS) {
      await expect(op.run(alice, 'Acme')).rejects.toMatchObject({
        code: 'ERR_UNAUTHENTICATED',
        message: 'user alice is deactivated',
      })
    }
    await expect(alice.orgs.list()).rejects.toMatchObject({ code: 'ERR_UNAUTHENTICATED' })
    expect(await dumpTables(path)).toEqual(before)
  })

  it('a hand-made actor naming no user gets nothing', async () => {
    const ghost = c.as({ kind: 'user', id: MISSING_ID, username: 'alice' })
    for (const op of OPERATIONS) {
      await expect(op.run(ghost, 'Acme')).rejects.toMatchObject({
        code: 'ERR_UNAUTHENTICATED',
        message: 'this user no longer exists',
      })
    }
  })

  it('a hand-made actor with the name of an owner but the id of another user acts as that user', async () => {
    // Only the id counts: the username in the actor is not trusted.
    const bobId = (bob.actor as { id: string }).id
    const impostor = c.as({ kind: 'user', id: bobId, username: 'alice' })
    expect(shape(await failure(impostor.orgs.get('Acme')))).toEqual(notFound('Acme'))
  })

  it.each([
    ['null', null],
    ['an unknown kind', { kind: 'admin' }],
    ['a user without id', { kind: 'user', username: 'alice' }],
  ])('an actor that is %s is refused with ERR_VALIDATION', async (_, actor) => {
    const ws = c.as(actor as never)
    await expect(ws.orgs.list()).rejects.toMatchObject({
      code: 'ERR_VALIDATION',
      message: 'actor must be SYSTEM or a user actor',
    })
  })
})
