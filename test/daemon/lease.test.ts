import { join } from 'node:path'

import type { Kysely } from 'kysely'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'

import {
  type LeaseTerms,
  POLLER_LEASE,
  acquireLease,
  readLease,
  releaseLease,
} from '../../src/daemon/lease.js'
import type { Database } from '../../src/db/schema.js'
import { migratedTestDb, secondConnection } from '../helpers/backend.js'
import { tempDir } from '../helpers/open-test-db.js'

const TTL = 30_000
const terms = (holder: string): LeaseTerms => ({ holder, ttlMs: TTL, intervalMs: 60_000 })
const at = (iso: string) => new Date(`2024-09-17T${iso}Z`)
const stamp = (iso: string) => at(iso).toISOString()

const migrated = migratedTestDb

describe('leader lease', () => {
  let db: Kysely<Database>

  beforeEach(async () => {
    db = await migrated()
  })

  afterEach(async () => {
    await db.destroy()
  })

  it('has no lease row before any daemon led', async () => {
    expect(await readLease(db)).toBeUndefined()
  })

  it('inserts the lease row on the first acquire', async () => {
    expect(await acquireLease(db, terms('a'), at('12:00:00'), at('12:05:00'))).toBe(true)
    expect(await readLease(db)).toEqual({
      name: POLLER_LEASE,
      holder: 'a',
      acquired_at: stamp('12:00:00'),
      renewed_at: stamp('12:00:00'),
      expires_at: stamp('12:00:30'),
      interval_ms: 60_000,
      next_tick_at: stamp('12:05:00'),
    })
  })

  it('renews for the same holder, keeping acquired_at and moving expires_at', async () => {
    await acquireLease(db, terms('a'), at('12:00:00'), at('12:01:00'))
    expect(await acquireLease(db, terms('a'), at('12:00:20'), at('12:02:00'))).toBe(true)
    expect(await readLease(db)).toMatchObject({
      holder: 'a',
      acquired_at: stamp('12:00:00'),
      renewed_at: stamp('12:00:20'),
      expires_at: stamp('12:00:50'),
      next_tick_at: stamp('12:02:00'),
    })
  })

  it('lets the holder renew even after its lease expired when nobody took it', async () => {
    await acquireLease(db, terms('a'), at('12:00:00'))
    expect(await acquireLease(db, terms('a'), at('12:05:00'))).toBe(true)
    expect(await readLease(db)).toMatchObject({
      acquired_at: stamp('12:00:00'),
      expires_at: stamp('12:05:30'),
    })
  })

  it.each(['12:00:00', '12:00:10', '12:00:29.999'])(
    'refuses another holder at %s while the lease is unexpired and leaves the row alone',
    async (time) => {
      await acquireLease(db, terms('a'), at('12:00:00'), at('12:01:00'))
      const before = await readLease(db)
      expect(await acquireLease(db, terms('b'), at(time), at('12:09:00'))).toBe(false)
      expect(await readLease(db)).toEqual(before)
    },
  )

  it.each(['12:00:30', '12:00:30.001', '13:00:00'])(
    'hands the lease to another holder at %s once it has expired',
    async (time) => {
      await acquireLease(db, terms('a'), at('12:00:00'), at('12:01:00'))
      expect(await acquireLease(db, terms('b'), at(time), at('13:01:00'))).toBe(true)
      expect(await readLease(db)).toMatchObject({
        holder: 'b',
        acquired_at: stamp(time),
        renewed_at: stamp(time),
        expires_at: new Date(at(time).getTime() + TTL).toISOString(),
        next_tick_at: stamp('13:01:00'),
      })
      // The former holder is now the one refused.
      expect(await acquireLease(db, terms('a'), at(time))).toBe(false)
    },
  )

  it('records the interval of the holder that took the lease', async () => {
    await acquireLease(db, terms('a'), at('12:00:00'))
    await acquireLease(db, { ...terms('b'), intervalMs: 300_000 }, at('12:01:00'))
    expect((await readLease(db))?.interval_ms).toBe(300_000)
  })

  it('expires the row on release, keeping holder and interval, without a next tick', async () => {
    await acquireLease(db, terms('a'), at('12:00:00'), at('12:01:00'))
    await releaseLease(db, 'a', at('12:00:10'))
    expect(await readLease(db)).toEqual({
      name: POLLER_LEASE,
      holder: 'a',
      acquired_at: stamp('12:00:00'),
      renewed_at: stamp('12:00:00'),
      expires_at: stamp('12:00:10'),
      interval_ms: 60_000,
      next_tick_at: null,
    })
  })

  it('lets another holder acquire at once after a release', async () => {
    await acquireLease(db, terms('a'), at('12:00:00'))
    await releaseLease(db, 'a', at('12:00:10'))
    expect(await acquireLease(db, terms('b'), at('12:00:10'))).toBe(true)
    expect((await readLease(db))?.holder).toBe('b')
  })

  it('ignores a release by a daemon that does not hold the lease', async () => {
    await acquireLease(db, terms('a'), at('12:00:00'))
    const before = await readLease(db)
    await releaseLease(db, 'b', at('12:00:10'))
    expect(await readLease(db)).toEqual(before)
    expect(await acquireLease(db, terms('b'), at('12:00:10'))).toBe(false)
  })

  it('renews inside a transaction and refuses there too', async () => {
    await acquireLease(db, terms('a'), at('12:00:00'))
    const results = await db
      .transaction()
      .execute(async (trx) => [
        await acquireLease(trx, terms('a'), at('12:00:20')),
        await acquireLease(trx, terms('b'), at('12:00:20')),
      ])
    expect(results).toEqual([true, false])
    expect((await readLease(db))?.expires_at).toBe(stamp('12:00:50'))
  })
})

describe('leader lease across connections', () => {
  let dir: ReturnType<typeof tempDir>
  let first: Kysely<Database>
  let second: Kysely<Database>

  beforeEach(async () => {
    dir = tempDir('cryptorg-lease-')
    const path = join(dir.path, 'lease.db')
    first = await migrated(path)
    second = await secondConnection(path)
  })

  afterEach(async () => {
    await first.destroy()
    await second.destroy()
    dir.remove()
  })

  it('lets exactly one of two holders racing on a fresh table win, every time', async () => {
    for (let round = 0; round < 20; round++) {
      await first.deleteFrom('daemon_lease').execute()
      const now = at('12:00:00')
      const results = await Promise.all(
        round % 2 === 0
          ? [acquireLease(first, terms('a'), now), acquireLease(second, terms('b'), now)]
          : [acquireLease(second, terms('b'), now), acquireLease(first, terms('a'), now)],
      )
      expect(results.filter(Boolean)).toHaveLength(1)
      const winner = round % 2 === 0 ? (results[0] ? 'a' : 'b') : results[0] ? 'b' : 'a'
      expect((await readLease(first))?.holder).toBe(winner)
      expect(await first.selectFrom('daemon_lease').selectAll().execute()).toHaveLength(1)
    }
  })

  it('lets exactly one of two holders racing for an expired lease win', async () => {
    await acquireLease(first, terms('old'), at('11:00:00'))
    const now = at('12:00:00')
    const results = await Promise.all([
      acquireLease(first, terms('a'), now),
      acquireLease(second, terms('b'), now),
    ])
    expect(results.filter(Boolean)).toHaveLength(1)
    expect((await readLease(second))?.holder).toBe(results[0] ? 'a' : 'b')
  })
})
