/**
 * The record of finished ticks, and the health summary `daemon status` prints from it.
 *
 * @module
 */
import type { Kysely } from 'kysely'

import { formatTimestamp } from '../core/time.js'
import { encodeTimestamp } from '../db/dialect.js'
import type { Database, TickOutcome } from '../db/schema.js'
import { readLease } from './lease.js'

/** Tick records older than this are pruned with the daily retention run. */
export const TICK_RECORD_RETENTION_MS = 30 * 24 * 60 * 60 * 1000

export interface TickRecord {
  holder: string
  slotAt: Date
  startedAt: Date
  finishedAt: Date
  outcome: TickOutcome
  rowsWritten: number
  errorCode?: string
  error?: string
}

export async function recordTick(db: Kysely<Database>, record: TickRecord): Promise<void> {
  await db
    .insertInto('daemon_ticks')
    .values({
      holder: record.holder,
      slot_at: encodeTimestamp(record.slotAt),
      started_at: encodeTimestamp(record.startedAt),
      finished_at: encodeTimestamp(record.finishedAt),
      outcome: record.outcome,
      rows_written: record.rowsWritten,
      error_code: record.errorCode ?? null,
      error: record.error ?? null,
    })
    .execute()
}

/** The slot of the newest successful tick, as stored, if any. */
export async function lastSuccessfulSlot(db: Kysely<Database>): Promise<string | undefined> {
  const row = await db
    .selectFrom('daemon_ticks')
    .select('slot_at')
    .where('outcome', '=', 'ok')
    .orderBy('slot_at', 'desc')
    .limit(1)
    .executeTakeFirst()
  return row?.slot_at
}

/** Removes tick records that finished before `cutoff`. */
export async function pruneTickRecords(db: Kysely<Database>, cutoff: Date): Promise<number> {
  const result = await db
    .deleteFrom('daemon_ticks')
    .where('finished_at', '<', encodeTimestamp(cutoff))
    .executeTakeFirst()
  return Number(result.numDeletedRows)
}

/** What `daemon status` reports. Times are ISO-8601 UTC. */
export interface DaemonStatus {
  checked_at: string
  /** True when the newest successful tick is at most two intervals old. */
  healthy: boolean
  /** Why the daemon is not healthy, or null. */
  problem: string | null
  interval_ms: number | null
  leader: {
    holder: string
    acquired_at: string
    renewed_at: string
    expires_at: string
    /** False once the lease has expired: no daemon is leading. */
    active: boolean
  } | null
  next_tick_at: string | null
  last_success: { slot_at: string; finished_at: string; rows_written: number } | null
  last_failure: { finished_at: string; error_code: string | null; error: string | null } | null
  /** Recorded ticks by outcome (records are kept 30 days). */
  tick_counts: { ok: number; failed: number }
}

export async function readDaemonStatus(db: Kysely<Database>, now: Date): Promise<DaemonStatus> {
  const lease = await readLease(db)
  const latest = (outcome: TickOutcome) =>
    db
      .selectFrom('daemon_ticks')
      .selectAll()
      .where('outcome', '=', outcome)
      .orderBy('finished_at', 'desc')
      .limit(1)
      .executeTakeFirst()
  const [success, failure, counts] = await Promise.all([
    latest('ok'),
    latest('failed'),
    db
      .selectFrom('daemon_ticks')
      .select(['outcome', (eb) => eb.fn.countAll<number | string>().as('count')])
      .groupBy('outcome')
      .execute(),
  ])
  const countOf = (outcome: TickOutcome) =>
    Number(counts.find((row) => row.outcome === outcome)?.count ?? 0)

  const active = lease !== undefined && lease.expires_at > encodeTimestamp(now)
  const intervalMs = lease?.interval_ms ?? null
  let problem: string | null = null
  if (!success) {
    problem = 'no tick has succeeded yet'
  } else if (intervalMs !== null) {
    const ageMs = now.getTime() - new Date(success.finished_at).getTime()
    if (ageMs > 2 * intervalMs) problem = 'the last successful tick is older than two intervals'
  }

  return {
    checked_at: formatTimestamp(encodeTimestamp(now)),
    healthy: problem === null,
    problem,
    interval_ms: intervalMs,
    leader: lease
      ? {
          holder: lease.holder,
          acquired_at: formatTimestamp(lease.acquired_at),
          renewed_at: formatTimestamp(lease.renewed_at),
          expires_at: formatTimestamp(lease.expires_at),
          active,
        }
      : null,
    next_tick_at: active && lease?.next_tick_at ? formatTimestamp(lease.next_tick_at) : null,
    last_success: success
      ? {
          slot_at: formatTimestamp(success.slot_at),
          finished_at: formatTimestamp(success.finished_at),
          rows_written: Number(success.rows_written),
        }
      : null,
    last_failure: failure
      ? {
          finished_at: formatTimestamp(failure.finished_at),
          error_code: failure.error_code,
          error: failure.error,
        }
      : null,
    tick_counts: { ok: countOf('ok'), failed: countOf('failed') },
  }
}
