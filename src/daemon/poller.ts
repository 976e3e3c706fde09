/**
 * The poller as the library exposes it: one tick, the daemon loop, and its health.
 *
 * @module
 */
import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'

import type { CoinGeckoClient } from '../coingecko/client.js'
import type { CoreContext } from '../core/context.js'
import type { PriceService } from '../core/prices.js'
import type { Sleep } from '../deps.js'
import { type DaemonStatus, readDaemonStatus, recordTick } from './health.js'
import { toCryptorgError } from '../errors.js'
import { guardStorage } from '../db/storage-errors.js'
import { acquireLease } from './lease.js'
import { createLoopStore } from './loop-store.js'
import {
  DEFAULT_POLL_INTERVAL_MS,
  type LoopSummary,
  type RunLoopOptions,
  leaseTtlMs,
  runLoop,
  validateInterval,
} from './loop.js'
import { type TickResult, runTick } from './tick.js'

/** The poller: one tick, a loop of them, and the loop's health. */
export interface Poller {
  /**
   * Fetches the tracked coins once and stores a row per organization and usable quote, in one
   * transaction, timestamped now. It does not take the leader lease.
   *
   * @throws CryptorgError `ERR_UPSTREAM`, `ERR_RATE_LIMITED` or `ERR_STORAGE`; nothing is
   *   written then.
   */
  tick(signal?: AbortSignal): Promise<TickResult>
  /**
   * Runs the daemon loop until `options.signal` aborts: ticks on interval boundaries while this
   * process holds the leader lease, standing by otherwise. Logs one line per tick.
   *
   * @throws CryptorgError `ERR_VALIDATION` for bad options, `ERR_STORAGE` when the database
   *   breaks.
   */
  run(options?: RunLoopOptions): Promise<LoopSummary>
  /** The leader, the last success and failure, and whether the daemon is healthy. */
  status(): Promise<DaemonStatus>
}

export interface PollerDeps {
  client: CoinGeckoClient
  prices: Pick<PriceService, 'prune'>
  sleep: Sleep
  random: () => number
  /** Identifies this process in the leader lease. @default host:pid:random */
  daemonId?: string
}

export function createPoller(context: CoreContext, deps: PollerDeps): Poller {
  const { db, clock, logger } = context
  const holder = deps.daemonId ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`

  return {
    async tick(signal) {
      // Recorded like the loop's ticks, so `daemon status` sees a cron job's `daemon --once`.
      const record = (startedAt: Date, outcome: 'ok' | 'failed', rowsWritten: number) => ({
        holder: `once:${holder}`,
        slotAt: startedAt,
        startedAt,
        finishedAt: clock.now(),
        outcome,
        rowsWritten,
      })
      try {
        return await runTick(context, deps.client, {
          ...(signal && { signal }),
          onWritten: (trx, rows, startedAt) => recordTick(trx, record(startedAt, 'ok', rows)),
        })
      } catch (error) {
        const failure = toCryptorgError(error)
        if (failure.code !== 'ERR_STORAGE') {
          const failed = { ...record(clock.now(), 'failed', 0), errorCode: failure.code }
          await recordTick(db, { ...failed, error: failure.message }).catch((cause: unknown) =>
            logger.warn('could not record the failed tick', { error: String(cause) }),
          )
        }
        throw error
      }
    },

    run(options = {}) {
      const intervalMs = validateInterval(options.intervalMs ?? DEFAULT_POLL_INTERVAL_MS)
      const terms = { holder, intervalMs, ttlMs: leaseTtlMs(intervalMs) }
      const prunePrices = async (cutoff: Date, signal: AbortSignal) =>
        (await deps.prices.prune({ olderThan: cutoff, signal })).deleted
      // Database failures anywhere in the loop must surface as ERR_STORAGE: that is what
      // stops the loop so that a supervisor can restart the process.
      const store = guardStorage(createLoopStore(db, terms, prunePrices))
      const { tick } = guardStorage({
        tick: (slot: Date, signal: AbortSignal) => {
          const startedAt = clock.now()
          return runTick(context, deps.client, {
            timestamp: slot,
            signal,
            // The lease is checked again where it matters: inside the write transaction.
            fence: (trx) => acquireLease(trx, terms, clock.now()),
            // A success is recorded with its rows, so a kill can never keep one without the
            // other; the loop store records only failures.
            onWritten: (trx, rowsWritten) =>
              recordTick(trx, {
                holder,
                slotAt: slot,
                startedAt,
                finishedAt: clock.now(),
                outcome: 'ok',
                rowsWritten,
              }),
          })
        },
      })
      return runLoop(
        { clock, logger, sleep: deps.sleep, random: deps.random, store, tick },
        options,
      )
    },

    status: () => readDaemonStatus(db, clock.now()),
  }
}
