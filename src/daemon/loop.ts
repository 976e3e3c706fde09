/**
 * The poll loop. Ticks fall on wall-clock boundaries of the interval (every 5 minutes at :00,
 * :05, ...), each computed from the clock rather than by chaining timers, so nothing drifts.
 * Only the daemon holding the leader lease ticks; the others stand by and take over when its
 * lease expires. A tick is never overlapped: a late or missed slot gets one catch-up tick, not
 * a burst. Failures back off (Retry-After on 429, exponential on other upstream trouble, slowly
 * on a rejected API key) and the loop survives all of them except a broken database.
 *
 * @module
 */
import type { Clock, Logger, Sleep } from '../deps.js'
import { type CryptorgError, toCryptorgError, validationError } from '../errors.js'
import { formatDuration } from '../core/time.js'
import { TICK_RECORD_RETENTION_MS, type TickRecord } from './health.js'
import { type TickResult, describeTick } from './tick.js'

/** How often the daemon polls by default: CoinGecko refreshes about once a minute. */
export const DEFAULT_POLL_INTERVAL_MS = 5 * 60 * 1000
/** The shortest interval accepted. */
export const MIN_POLL_INTERVAL_MS = 1000
/** The longest interval accepted: a daily price is the coarsest useful history. */
export const MAX_POLL_INTERVAL_MS = 24 * 60 * 60 * 1000
/** No Retry-After makes the daemon wait longer than this; a larger value is a server bug. */
export const MAX_RETRY_AFTER_MS = 24 * 60 * 60 * 1000
/** Below this interval the daemon warns that it polls faster than CoinGecko updates. */
export const RECOMMENDED_MIN_INTERVAL_MS = 60 * 1000
/** How long a CoinGecko request in flight may go on after a shutdown signal. */
export const DEFAULT_SHUTDOWN_GRACE_MS = 3000
/** After CoinGecko rejects the API key, the next attempt waits at least this long. */
export const KEY_ERROR_RETRY_MS = 15 * 60 * 1000
/** Without Retry-After, a 429 waits at least this long, doubling with each repeat. */
export const RATE_LIMIT_BACKOFF_MS = 60 * 1000
/** How often retention pruning runs. */
export const PRUNE_EVERY_MS = 24 * 60 * 60 * 1000

/** Options of the poll loop. */
export interface RunLoopOptions {
  /** @default DEFAULT_POLL_INTERVAL_MS */
  intervalMs?: number
  /** Aborting stops the loop once the current tick has finished or its grace has run out. */
  signal?: AbortSignal
  /**
   * Each slot starts up to this much later, at random, so a fleet does not hit CoinGecko at
   * the same second. Must be shorter than the interval. @default 0
   */
  jitterMs?: number
  /** When set, prices older than this are pruned once a day, in small batches. */
  retentionMs?: number
  /** @default DEFAULT_SHUTDOWN_GRACE_MS */
  shutdownGraceMs?: number
}

/** What a finished loop did. */
export interface LoopSummary {
  ticks: number
  failures: number
}

/** Where the loop keeps its lease and its tick records; see src/daemon/loop-store.ts. */
export interface LoopStore {
  /** Takes or renews the leader lease; true when this daemon leads. */
  acquire(now: Date, nextTickAt: Date | null): Promise<boolean>
  release(now: Date): Promise<void>
  lastSuccessfulSlot(): Promise<Date | undefined>
  /** Records a finished tick; a store may leave out successes it records elsewhere. */
  record(record: Omit<TickRecord, 'holder'>): Promise<void>
  /** Prunes old tick records, and prices when `pricesBefore` is set; returns prices deleted. */
  prune(
    cutoffs: { pricesBefore: Date | undefined; recordsBefore: Date },
    signal: AbortSignal,
  ): Promise<number>
}

export interface LoopDeps {
  clock: Clock
  logger: Logger
  sleep: Sleep
  /** A number in [0, 1), for jitter. */
  random: () => number
  store: LoopStore
  /** Runs the tick of `slot`; must re-check the lease inside its write transaction. */
  tick: (slot: Date, signal: AbortSignal) => Promise<TickResult>
}

/** Checks an interval against {@link MIN_POLL_INTERVAL_MS}. */
export function validateInterval(intervalMs: number): number {
  if (
    !Number.isSafeInteger(intervalMs) ||
    intervalMs < MIN_POLL_INTERVAL_MS ||
    intervalMs > MAX_POLL_INTERVAL_MS
  ) {
    throw validationError(
      'interval',
      `interval must be from 1s to 1d, got ${describeMs(intervalMs)}`,
    )
  }
  return intervalMs
}

/** Prints a rejected duration exactly: rounding 86400001 ms to "1d" would hide the fault. */
function describeMs(ms: number): string {
  return Number.isSafeInteger(ms) && ms >= 0 && ms % 1000 === 0 ? formatDuration(ms) : `${ms}ms`
}

/**
 * How often the leader renews its lease: a third of the lease's life, so two renewals may fail
 * before a standby takes over. The lease lives at most one interval and standbys look every
 * renewal period, so a takeover comes within four renewal periods: at most 40 s, or 4/3 of
 * an interval when that is shorter. The new leader ticks the slot current at takeover; with
 * intervals of 40 s and more that is the slot the old leader missed, below that it may be the
 * next one (the missed slot stays empty rather than get a later price under its time).
 */
export function leaseRenewalMs(intervalMs: number): number {
  return Math.min(10_000, Math.max(250, Math.floor(intervalMs / 3)))
}

/** How long a lease lives without renewal. */
export function leaseTtlMs(intervalMs: number): number {
  return 3 * leaseRenewalMs(intervalMs)
}

/** The wait before retrying after the `failures`-th failure in a row. */
export function retryDelayMs(failure: CryptorgError, failures: number, intervalMs: number): number {
  const doubling = 2 ** Math.min(failures - 1, 20)
  if (failure.code === 'ERR_RATE_LIMITED') {
    const retryAfterMs = failure.details['retryAfterMs']
    if (typeof retryAfterMs === 'number') {
      return Math.min(MAX_RETRY_AFTER_MS, Math.max(1000, retryAfterMs))
    }
    return Math.min(KEY_ERROR_RETRY_MS, RATE_LIMIT_BACKOFF_MS * doubling)
  }
  // Retrying a rejected key changes nothing until someone fixes the setting: stay quiet.
  if (failure.details['keyProblem'] === true) return Math.max(intervalMs, KEY_ERROR_RETRY_MS)
  const baseMs = Math.min(10_000, Math.max(1000, Math.floor(intervalMs / 30)))
  const capMs = Math.max(intervalMs, 30_000)
  return Math.min(capMs, baseMs * doubling)
}

/**
 * Runs ticks until `signal` aborts, then gives up the lease. A failed tick is logged, recorded
 * and retried after a back-off; a storage failure stops the loop with that error, so a
 * supervisor can restart the process.
 *
 * @throws CryptorgError `ERR_VALIDATION` for bad options, `ERR_STORAGE` when the database breaks.
 */
export async function runLoop(deps: LoopDeps, options: RunLoopOptions = {}): Promise<LoopSummary> {
  const intervalMs = validateInterval(options.intervalMs ?? DEFAULT_POLL_INTERVAL_MS)
  const jitterMs = options.jitterMs ?? 0
  if (!Number.isSafeInteger(jitterMs) || jitterMs < 0 || jitterMs >= intervalMs) {
    throw validationError('jitter', 'jitter must be at least 0 and shorter than the interval')
  }
  const loop = new PollLoop(deps, { ...options, intervalMs, jitterMs })
  return loop.run()
}

type ResolvedOptions = RunLoopOptions & { intervalMs: number; jitterMs: number }

class PollLoop {
  private leader = false
  private standbyLogged = false
  private lastOkSlot: number | undefined
  private failuresInRow = 0
  private retryAt: number | undefined
  private nextPruneAt: number
  private jitter = { slot: Number.NaN, ms: 0 }
  private readonly summary: LoopSummary = { ticks: 0, failures: 0 }
  private readonly signal: AbortSignal

  constructor(
    private readonly deps: LoopDeps,
    private readonly options: ResolvedOptions,
  ) {
    this.signal = options.signal ?? new AbortController().signal
    this.nextPruneAt = deps.clock.now().getTime()
  }

  async run(): Promise<LoopSummary> {
    const { clock, sleep } = this.deps
    try {
      while (!this.signal.aborted) {
        const now = clock.now().getTime()
        if (!(await this.holdLease(now))) {
          await sleep(leaseRenewalMs(this.options.intervalMs), this.signal)
          continue
        }
        const due = this.dueAt(now)
        if (now < due) {
          await sleep(Math.min(due - now, leaseRenewalMs(this.options.intervalMs)), this.signal)
          continue
        }
        await this.attempt(this.slotOf(now))
        if (now >= this.nextPruneAt && !this.signal.aborted) await this.prune(now)
      }
    } finally {
      if (this.leader) await this.deps.store.release(clock.now()).catch(() => {})
    }
    return { ...this.summary }
  }

  private slotOf(time: number): number {
    return time - (time % this.options.intervalMs)
  }

  /** When the next tick should start, given what has been done so far. */
  private dueAt(now: number): number {
    if (this.retryAt !== undefined) return this.retryAt
    const slot = this.slotOf(now)
    const target = this.lastOkSlot === slot ? slot + this.options.intervalMs : slot
    return target + this.jitterFor(target)
  }

  private jitterFor(slot: number): number {
    if (this.jitter.slot !== slot) {
      this.jitter = { slot, ms: Math.floor(this.deps.random() * this.options.jitterMs) }
    }
    return this.jitter.ms
  }

  private async holdLease(now: number): Promise<boolean> {
    const { store, logger } = this.deps
    const wasLeader = this.leader
    this.leader = await store.acquire(new Date(now), new Date(this.dueAt(now)))
    if (this.leader && !wasLeader) {
      // Another daemon may have ticked while this one stood by, and a retry planned before
      // then is out of date.
      this.lastOkSlot = (await store.lastSuccessfulSlot())?.getTime()
      this.retryAt = undefined
      this.failuresInRow = 0
      this.standbyLogged = false
      logger.info('this daemon holds the leader lease and writes the ticks', {})
    } else if (!this.leader && (wasLeader || !this.standbyLogged)) {
      this.standbyLogged = true
      logger.info('another daemon holds the leader lease; standing by', {})
    }
    return this.leader
  }

  private async attempt(slot: number): Promise<void> {
    const { clock, logger, store } = this.deps
    const startedAt = clock.now()
    const grace = graceSignal(
      this.signal,
      this.options.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS,
    )
    try {
      const result = await this.deps.tick(new Date(slot), grace.signal)
      this.summary.ticks += 1
      this.lastOkSlot = slot
      this.failuresInRow = 0
      this.retryAt = undefined
      logger.info(describeTick(result), {
        slot: result.started_at,
        symbols: result.symbols,
        organizations: result.organizations,
        rows: result.rows_written,
        duration_ms: result.duration_ms,
      })
      await store.record({
        slotAt: new Date(slot),
        startedAt,
        finishedAt: clock.now(),
        outcome: 'ok',
        rowsWritten: result.rows_written,
      })
    } catch (error) {
      await this.handleFailure(toCryptorgError(error), slot, startedAt)
    } finally {
      grace.dispose()
    }
  }

  private async handleFailure(failure: CryptorgError, slot: number, startedAt: Date) {
    const { clock, logger, store } = this.deps
    if (failure.details['leaseLost'] === true) {
      logger.warn(`${failure.message}; standing by`, {})
      this.leader = false
      return
    }
    if (this.signal.aborted && failure.details['cancelled'] === true) {
      logger.warn('shutdown cut the tick in flight short; nothing was written', {})
      return
    }
    this.summary.ticks += 1
    this.summary.failures += 1
    if (failure.code === 'ERR_STORAGE') {
      logger.error(`tick failed: ${failure.message}; stopping`, { code: failure.code })
      throw failure
    }

    this.failuresInRow += 1
    const now = clock.now().getTime()
    const delayMs = retryDelayMs(failure, this.failuresInRow, this.options.intervalMs)
    this.retryAt = now + delayMs
    logger.error(`tick failed: ${failure.message}; next attempt in ${formatDuration(delayMs)}`, {
      code: failure.code,
      failures_in_row: this.failuresInRow,
    })
    await store.record({
      slotAt: new Date(slot),
      startedAt,
      finishedAt: new Date(now),
      outcome: 'failed',
      rowsWritten: 0,
      errorCode: failure.code,
      error: failure.message,
    })
  }

  private async prune(now: number): Promise<void> {
    const { retentionMs } = this.options
    this.nextPruneAt = now + PRUNE_EVERY_MS
    const cutoff = retentionMs === undefined ? undefined : new Date(now - retentionMs)
    try {
      const recordsBefore = new Date(now - TICK_RECORD_RETENTION_MS)
      const deleted = await this.deps.store.prune(
        { pricesBefore: cutoff, recordsBefore },
        this.signal,
      )
      if (cutoff) {
        this.deps.logger.info(`pruned ${deleted} price(s) older than ${cutoff.toISOString()}`, {
          deleted,
        })
      }
    } catch (error) {
      const failure = toCryptorgError(error)
      if (failure.code === 'ERR_STORAGE') throw failure
      this.deps.logger.error(`pruning failed: ${failure.message}`, { code: failure.code })
    }
  }
}

/**
 * A signal for the tick in flight: it aborts `graceMs` after the loop's own signal, so a
 * shutdown lets a nearly finished request complete but never waits for a hung one.
 */
function graceSignal(parent: AbortSignal, graceMs: number) {
  const controller = new AbortController()
  let timer: ReturnType<typeof setTimeout> | undefined
  const onAbort = () => {
    timer = setTimeout(() => controller.abort(), graceMs)
    timer.unref?.()
  }
  if (parent.aborted) onAbort()
  else parent.addEventListener('abort', onAbort, { once: true })
  return {
    signal: controller.signal,
    dispose() {
      clearTimeout(timer)
      parent.removeEventListener('abort', onAbort)
    },
  }
}
