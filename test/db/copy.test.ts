/**
 * `copyInstallation`: every row, id and timestamp arrives, on SQLite and (in the postgres
 * project) from a SQLite file to Postgres and back.
 */
import { join } from 'node:path'

import type { Kysely } from 'kysely'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'

import { type OpenedDatabase, connect } from '../../src/db/connect.js'
import { type CopyProgress, copyInstallation } from '../../src/db/copy.js'
import { parseDatabaseLocation } from '../../src/db/location.js'
import { open } from '../../src/index.js'
import { TEST_BACKEND, postgresFor } from '../helpers/backend.js'
import { FAST_HASHING } from '../helpers/cli.js'
import { fakeClock } from '../helpers/fake-clock.js'
import { noNetworkFetch, tempDir } from '../helpers/open-test-db.js'

const KEYS: Record<string, string[]> = {
  organizations: ['id'],
  users: ['id'],
  memberships: ['org_id', 'user_id'],
  auth_sessions: ['id'],
  tracked_coins: ['symbol'],
  settings: ['key'],
  audit_events: ['id'],
  daemon_lease: ['name'],
  daemon_ticks: ['id'],
  crypto_prices: ['id'],
}

let dir: ReturnType<typeof tempDir>
const opened: OpenedDatabase[] = []

beforeEach(() => {
  dir = tempDir()
})
afterEach(async () => {
  await Promise.all(opened.splice(0).map((o) => o.db.destroy()))
  dir.remove()
})

function sqliteAt(name: string): string {
  return `sqlite:${join(dir.path, name)}`
}

/** The other end of the copy: SQLite here, Postgres in the postgres project. */
async function otherBackend(name: string): Promise<string> {
  return TEST_BACKEND === 'postgres' ? postgresFor(join(dir.path, name)) : sqliteAt(name)
}

function connectTo(location: string): OpenedDatabase {
  const db = connect(parseDatabaseLocation(location))
  opened.push(db)
  return db
}

/** An installation with some of everything, ids with gaps, and prices at the limits. */
async function makeSource(location: string): Promise<void> {
  const clock = fakeClock('2025-01-31T23:59:59.999Z')
  const c = await open({
    database: location,
    clock,
    fetch: noNetworkFetch,
    passwordHashing: FAST_HASHING,
  })
  try {
    await c.auth.bootstrap({ username: 'admin', password: 'admin password' })
    const admin = c.as(await c.auth.actorFor('admin'))
    await admin.users.create({ username: 'alice', password: 'alice password' })
    await admin.users.create({ username: 'bob', password: 'bob password' })
    const alice = c.as(await c.auth.actorFor('alice'))
    for (const name of ['Acme', 'Globex', 'Initech']) {
      await alice.orgs.create(name)
      await alice.members.add(name, 'bob', 'viewer')
    }
    const prices = ['9999999999.9999999999', '0.0000000001', '64213.5', '1']
    for (let i = 0; i < 12; i++) {
      clock.advance(300_000)
      await alice.prices.add({
        org: ['Acme', 'Globex', 'Initech'][i % 3] as string,
        symbol: ['BTC', 'ETH'][i % 2] as string,
        price: prices[i % prices.length] as string,
        currency: i % 5 === 0 ? 'eur' : 'usd',
      })
    }
    // A gap in the ids, which the copy must keep.
    const doomed = await alice.prices.add({ org: 'Acme', symbol: 'SOL', price: '150' })
    await alice.prices.delete(doomed.id)
    await alice.prices.add({ org: 'Acme', symbol: 'SOL', price: '151.25' })
    await c.auth.login('bob', 'bob password')
  } finally {
    await c.close()
  }
}

async function dump(db: Kysely<any>): Promise<Record<string, unknown[]>> {
  const result: Record<string, unknown[]> = {}
  for (const [table, key] of Object.entries(KEYS)) {
    let query = db.selectFrom(table).selectAll()
    for (const column of key) query = query.orderBy(column)
    result[table] = await query.execute()
  }
  return result
}

describe(`copyInstallation (SQLite -> ${TEST_BACKEND} -> SQLite)`, () => {
  it('copies every row with its ids and timestamps, in batches, both ways', async () => {
    const source = sqliteAt('source.db')
    await makeSource(source)
    const middle = await otherBackend('middle.db')
    const back = sqliteAt('back.db')

    const progress: CopyProgress[] = []
    const there = await copyInstallation(connectTo(source), connectTo(middle), {
      batchSize: 3,
      onProgress: (p) => progress.push(p),
    })
    await copyInstallation(connectTo(middle), connectTo(back), { batchSize: 2 })

    const original = await dump(connectTo(source).db)
    expect(await dump(connectTo(middle).db)).toEqual(original)
    expect(await dump(connectTo(back).db)).toEqual(original)
    expect((original['crypto_prices'] as unknown[]).length).toBe(13)
    expect(there.tables.every((t) => t.source === t.destination)).toBe(true)
    expect(there.rows).toBe(Object.values(original).reduce((n, rows) => n + rows.length, 0))
    // Batches of 3: 13 prices report 3, 6, 9, 12, 13 after the start.
    expect(progress.filter((p) => p.table === 'crypto_prices').map((p) => p.copied)).toEqual([
      0, 3, 6, 9, 12, 13,
    ])
    expect(progress.find((p) => p.table === 'memberships' && p.copied === 6)).toBeDefined()
  })

  // On SQLite the copy holds the write lock, so a writer waits; a writer in this very process
  // would block the copy (better-sqlite3 waits synchronously). Postgres lets plain inserts in.
  it.skipIf(TEST_BACKEND !== 'postgres')(
    'copies one snapshot: a price added while the copy runs stays out of it',
    async () => {
      const source = sqliteAt('source.db')
      await makeSource(source)
      const middle = await otherBackend('middle.db')
      await copyInstallation(connectTo(source), connectTo(middle))
      const writer = await open({ database: middle, fetch: noNetworkFetch })
      const late: Promise<unknown>[] = []
      try {
        await copyInstallation(connectTo(middle), connectTo(sqliteAt('back.db')), {
          batchSize: 2,
          onProgress: (p) => {
            if (p.table === 'organizations' && p.copied === 0) {
              late.push(writer.system.prices.add({ org: 'Acme', symbol: 'LATE', price: '1' }))
            }
          },
        })
        await Promise.all(late)
      } finally {
        await writer.close()
      }
      const copied = await dump(connectTo(sqliteAt('back.db')).db)
      expect(copied).toEqual(await dump(connectTo(source).db))
      const prices = (await dump(connectTo(middle).db))['crypto_prices'] as { symbol: string }[]
      expect(prices.filter((p) => p.symbol === 'LATE')).toHaveLength(1)
    },
  )

  it('numbers the next new rows after the copied ids', async () => {
    const source = sqliteAt('source.db')
    await makeSource(source)
    const middle = await otherBackend('middle.db')
    await copyInstallation(connectTo(source), connectTo(middle))

    const c = await open({ database: middle, fetch: noNetworkFetch, passwordHashing: FAST_HASHING })
    try {
      const alice = c.as(await c.auth.actorFor('alice'))
      const added = await alice.prices.add({ org: 'Acme', symbol: 'BTC', price: '1.5' })
      expect(added.id).toBe(15)
    } finally {
      await c.close()
    }
  })

  it('refuses a destination that holds data, and leaves it as it was', async () => {
    const source = sqliteAt('source.db')
    await makeSource(source)
    const middle = await otherBackend('middle.db')
    await makeSource(middle)
    const before = await dump(connectTo(middle).db)

    await expect(copyInstallation(connectTo(source), connectTo(middle))).rejects.toMatchObject({
      code: 'ERR_CONFLICT',
      message: expect.stringMatching(/already holds data \(organizations\)/),
    })
    expect(await dump(connectTo(middle).db)).toEqual(before)
  })

  it('refuses a source whose schema is not current, writing nothing anywhere', async () => {
    const empty = sqliteAt('empty.db')
    const middle = await otherBackend('middle.db')
    await expect(copyInstallation(connectTo(empty), connectTo(middle))).rejects.toMatchObject({
      code: 'ERR_STORAGE',
      message: expect.stringMatching(/needs migrating first/),
    })
  })

  it('refuses a batch size it cannot use', async () => {
    const source = sqliteAt('source.db')
    await makeSource(source)
    await expect(
      copyInstallation(connectTo(source), connectTo(sqliteAt('x.db')), { batchSize: 0 }),
    ).rejects.toMatchObject({ code: 'ERR_VALIDATION' })
  })
})
