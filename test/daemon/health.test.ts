import type { Kysely } from 'kysely'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'

import {
  TICK_RECORD_RETENTION_MS,
  type TickRecord,
  lastSuccessfulSlot,
  pruneTickRecords,
  readDaemonStatus,
  recordTick,
} from '../../src/daemon/health.js'
import { acquireLease, releaseLease } from '../../src/daemon/lease.js'
import type { Database } from '../../src/db/schema.js'
import { migratedTestDb } from '../helpers/backend.js'

const MINUTE = 60_000
const INTERVAL = 5 * MINUTE
const at = (hms: string, day = '2024-09-17') => new Date(`${day}T${hms}Z`)
const later = (date: Date, ms: number) => new Date(date.getTime() + ms)

let db: Kysely<Database>

beforeEach(async () => {
  db = await migratedTestDb()
})

afterEach(async () => {
  await db.destroy()
})

const lease = (now: Date, next: Date | null = null, holder = 'host:1:abc') =>
  acquireLease(db, { holder, ttlMs: 30_000, intervalMs: INTERVAL }, now, next)

function ok(slot: string, finished = slot, rows = 4): TickRecord {
  return {
    holder: 'host:1:abc',
    slotAt: at(slot),
    startedAt: at(slot),
    finishedAt: at(finished),
    outcome: 'ok',
    rowsWritten: rows,
  }
}

function failed(slot: string, finished: string, code: string, error: string): TickRecord {
  return {
    holder: 'host:1:abc',
    slotAt: at(slot),
    startedAt: at(slot),
    finishedAt: at(finished),
    outcome: 'failed',
    rowsWritten: 0,
    errorCode: code,
    error,
  }
}

describe('readDaemonStatus', () => {
  it('is unhealthy with no leader when no daemon ever ran', async () => {
    expect(await readDaemonStatus(db, at('12:00:00'))).toEqual({
      checked_at: '2024-09-17T12:00:00Z',
      healthy: false,
      problem: 'no tick has succeeded yet',
      interval_ms: null,
      leader: null,
      next_tick_at: null,
      last_success: null,
      last_failure: null,
      tick_counts: { ok: 0, failed: 0 },
    })
  })

  it('is unhealthy while the leading daemon has not succeeded yet', async () => {
    await lease(at('12:00:00'), at('12:00:00'))
    await recordTick(db, failed('12:00:00', '12:00:02', 'ERR_UPSTREAM', 'HTTP 503'))
    const status = await readDaemonStatus(db, at('12:00:05'))
    expect(status).toMatchObject({
      healthy: false,
      problem: 'no tick has succeeded yet',
      last_success: null,
      last_failure: {
        finished_at: '2024-09-17T12:00:02Z',
        error_code: 'ERR_UPSTREAM',
        error: 'HTTP 503',
      },
    })
  })

  it('reports the leader, the next tick, the last success and the last failure', async () => {
    await lease(at('12:00:00'), at('12:00:00'))
    await recordTick(db, ok('12:00:00', '12:00:01'))
    await recordTick(db, failed('12:05:00', '12:05:03', 'ERR_RATE_LIMITED', 'rate limit'))
    await recordTick(db, ok('12:05:00', '12:06:00.250', 6))
    await lease(at('12:06:10'), at('12:10:00'))

    expect(await readDaemonStatus(db, at('12:06:10'))).toEqual({
      checked_at: '2024-09-17T12:06:10Z',
      healthy: true,
      problem: null,
      interval_ms: INTERVAL,
      leader: {
        holder: 'host:1:abc',
        acquired_at: '2024-09-17T12:00:00Z',
        renewed_at: '2024-09-17T12:06:10Z',
        expires_at: '2024-09-17T12:06:40Z',
        active: true,
      },
      next_tick_at: '2024-09-17T12:10:00Z',
      last_success: {
        slot_at: '2024-09-17T12:05:00Z',
        finished_at: '2024-09-17T12:06:00.250Z',
        rows_written: 6,
      },
      last_failure: {
        finished_at: '2024-09-17T12:05:03Z',
        error_code: 'ERR_RATE_LIMITED',
        error: 'rate limit',
      },
      tick_counts: { ok: 2, failed: 1 },
    })
  })

  it.each([
    [true, 'one interval', INTERVAL],
    [true, 'exactly two intervals', 2 * INTERVAL],
    [false, 'two intervals and 1ms', 2 * INTERVAL + 1],
    [false, 'a day', 24 * 60 * MINUTE],
  ])('reports healthy=%s when the last success is %s old', async (healthy, _, age) => {
    await lease(at('12:00:00'))
    await recordTick(db, ok('12:00:00', '12:00:01'))
    const status = await readDaemonStatus(db, later(at('12:00:01'), age))
    expect(status.healthy).toBe(healthy)
    expect(status.problem).toBe(
      healthy ? null : 'the last successful tick is older than two intervals',
    )
  })

  it('measures the age of the newest success, not of the newest failure', async () => {
    await lease(at('12:00:00'))
    await recordTick(db, ok('12:00:00', '12:00:01'))
    await recordTick(db, failed('12:05:00', '12:05:01', 'ERR_UPSTREAM', 'HTTP 500'))
    await recordTick(db, failed('12:10:00', '12:10:01', 'ERR_UPSTREAM', 'HTTP 500'))
    const status = await readDaemonStatus(db, at('12:11:00'))
    expect(status.healthy).toBe(false)
    expect(status.last_failure?.finished_at).toBe('2024-09-17T12:10:01Z')
  })

  it('shows the next tick only while the lease is active', async () => {
    await lease(at('12:00:00'), at('12:05:00'))
    expect((await readDaemonStatus(db, at('12:00:29'))).next_tick_at).toBe('2024-09-17T12:05:00Z')
    const expired = await readDaemonStatus(db, at('12:00:30'))
    expect(expired.next_tick_at).toBeNull()
    expect(expired.leader).toMatchObject({ holder: 'host:1:abc', active: false })
  })

  it('shows an inactive leader and no next tick after a release', async () => {
    await lease(at('12:00:00'), at('12:05:00'))
    await releaseLease(db, 'host:1:abc', at('12:00:10'))
    const status = await readDaemonStatus(db, at('12:00:10'))
    expect(status.leader).toMatchObject({ active: false, expires_at: '2024-09-17T12:00:10Z' })
    expect(status.next_tick_at).toBeNull()
    expect(status.interval_ms).toBe(INTERVAL)
  })

  it('becomes unhealthy when the leader died and nobody ticks', async () => {
    await lease(at('12:00:00'), at('12:05:00'))
    await recordTick(db, ok('12:00:00', '12:00:01'))
    const status = await readDaemonStatus(db, at('12:30:00'))
    expect(status).toMatchObject({ healthy: false, next_tick_at: null })
    expect(status.leader?.active).toBe(false)
  })
})

describe('lastSuccessfulSlot', () => {
  it('is undefined without successful ticks', async () => {
    await recordTick(db, failed('12:00:00', '12:00:01', 'ERR_UPSTREAM', 'x'))
    expect(await lastSuccessfulSlot(db)).toBeUndefined()
  })

  it('is the newest slot that succeeded, whatever the order of the records', async () => {
    await recordTick(db, ok('12:10:00', '12:10:01'))
    // A late record of an older slot (a catch-up by another daemon) does not win.
    await recordTick(db, ok('12:05:00', '12:12:00'))
    await recordTick(db, failed('12:15:00', '12:15:01', 'ERR_UPSTREAM', 'x'))
    expect(await lastSuccessfulSlot(db)).toBe('2024-09-17T12:10:00.000Z')
  })
})

describe('pruneTickRecords', () => {
  it('removes the records that finished before the cutoff and keeps the rest', async () => {
    await recordTick(db, ok('12:00:00', '12:00:01', 1))
    await recordTick(db, ok('12:05:00', '12:05:00', 2))
    await recordTick(db, failed('12:10:00', '12:10:01', 'ERR_UPSTREAM', 'x'))
    expect(await pruneTickRecords(db, at('12:05:00'))).toBe(1)
    const left = await db.selectFrom('daemon_ticks').select('rows_written').execute()
    expect(left.map((r) => Number(r.rows_written)).sort()).toEqual([0, 2])
    expect(await pruneTickRecords(db, at('12:05:00'))).toBe(0)
  })

  it('keeps thirty days of records', () => {
    expect(TICK_RECORD_RETENTION_MS).toBe(30 * 24 * 60 * MINUTE)
  })
})
