/**
 * The leader lease: one row that the leading daemon holds and renews. A daemon writes ticks
 * only while it holds the lease, and re-checks it inside each tick's write transaction, so two
 * daemons on one database never both write a tick. A leader that dies stops renewing; its
 * lease expires after `ttlMs` and a standby takes it over.
 *
 * @module
 */
import type { Kysely } from 'kysely'

import { encodeTimestamp } from '../db/dialect.js'
import type { Database, DaemonLeaseTable } from '../db/schema.js'

/** Name of the poller's lease row. */
export const POLLER_LEASE = 'poller'

export interface LeaseTerms {
  /** Identifies this daemon: host, process id and a random part. */
  holder: string
  /** How long the lease stays valid without renewal. */
  ttlMs: number
  intervalMs: number
}

/**
 * Takes the lease if it is free or expired, or renews it if this holder has it. Returns true
 * when this holder is the leader afterwards. Safe to call inside a transaction.
 */
export async function acquireLease(
  db: Kysely<Database>,
  terms: LeaseTerms,
  now: Date,
  nextTickAt: Date | null = null,
): Promise<boolean> {
  const stamp = encodeTimestamp(now)
  const expiresAt = encodeTimestamp(new Date(now.getTime() + terms.ttlMs))
  const next = nextTickAt ? encodeTimestamp(nextTickAt) : null

  const renewed = await db
    .updateTable('daemon_lease')
    .set((eb) => ({
      acquired_at: eb
        .case()
        .when('holder', '=', terms.holder)
        .then(eb.ref('acquired_at'))
        .else(stamp)
        .end(),
      holder: terms.holder,
      renewed_at: stamp,
      expires_at: expiresAt,
      interval_ms: terms.intervalMs,
      next_tick_at: next,
    }))
    .where('name', '=', POLLER_LEASE)
    .where((eb) => eb.or([eb('holder', '=', terms.holder), eb('expires_at', '<=', stamp)]))
    .executeTakeFirst()
  if (Number(renewed.numUpdatedRows) > 0) return true

  const inserted = await db
    .insertInto('daemon_lease')
    .values({
      name: POLLER_LEASE,
      holder: terms.holder,
      acquired_at: stamp,
      renewed_at: stamp,
      expires_at: expiresAt,
      interval_ms: terms.intervalMs,
      next_tick_at: next,
    })
    .onConflict((oc) => oc.doNothing())
    .executeTakeFirst()
  return Number(inserted.numInsertedOrUpdatedRows ?? 0) > 0
}

/**
 * Gives the lease up at shutdown so that a standby takes over at once. The row is expired
 * rather than deleted, so `daemon status` still knows the interval and the last holder.
 */
export async function releaseLease(db: Kysely<Database>, holder: string, now: Date): Promise<void> {
  await db
    .updateTable('daemon_lease')
    .set({ expires_at: encodeTimestamp(now), next_tick_at: null })
    .where('name', '=', POLLER_LEASE)
    .where('holder', '=', holder)
    .execute()
}

/** The lease row as stored, if any daemon has ever held it. */
export async function readLease(db: Kysely<Database>): Promise<DaemonLeaseTable | undefined> {
  return db
    .selectFrom('daemon_lease')
    .selectAll()
    .where('name', '=', POLLER_LEASE)
    .executeTakeFirst()
}
