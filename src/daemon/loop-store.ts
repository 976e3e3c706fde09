/**
 * The database side of the poll loop: the leader lease, the tick records and pruning.
 *
 * @module
 */
import type { Kysely } from 'kysely'

import type { Database } from '../db/schema.js'
import { lastSuccessfulSlot, pruneTickRecords, recordTick } from './health.js'
import { type LeaseTerms, acquireLease, releaseLease } from './lease.js'
import type { LoopStore } from './loop.js'

export type PrunePrices = (cutoff: Date, signal: AbortSignal) => Promise<number>

export function createLoopStore(
  db: Kysely<Database>,
  terms: LeaseTerms,
  prunePrices: PrunePrices,
): LoopStore {
  return {
    acquire: (now, nextTickAt) => acquireLease(db, terms, now, nextTickAt),
    release: (now) => releaseLease(db, terms.holder, now),
    async lastSuccessfulSlot() {
      const slot = await lastSuccessfulSlot(db)
      return slot === undefined ? undefined : new Date(slot)
    },
    // Successful ticks record themselves inside their write transaction (see poller.ts).
    record: async (record) => {
      if (record.outcome === 'failed') await recordTick(db, { ...record, holder: terms.holder })
    },
    async prune({ pricesBefore, recordsBefore }, signal) {
      await pruneTickRecords(db, recordsBefore)
      return pricesBefore ? prunePrices(pricesBefore, signal) : 0
    },
  }
}
