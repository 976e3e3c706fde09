/**
 * The poll loop: a tick at once, then one at every interval measured from the first tick.
 * Each wake-up time is computed from the clock, not by chaining timers, so delays never add
 * up; a tick that outlasts the interval makes the loop skip the slots it missed instead of
 * running ticks back to back.
 *
 * @module
 */
import type { Clock, Logger, Sleep } from '../deps.js'
import { type CryptorgError, toCryptorgError, validationError } from '../errors.js'
import { formatDuration } from '../core/time.js'
import { type TickResult, describeTick } from './tick.js'

/** How often the daemon polls by default: CoinGecko refreshes about once a minute. */
export const DEFAULT_POLL_INTERVAL_MS = 5 * 60 * 1000
/** The shortest interval accepted. */
export const MIN_POLL_INTERVAL_MS = 1000
/** Below this interval the daemon warns that it polls faster than CoinGecko updates. */
export const RECOMMENDED_MIN_INTERVAL_MS = 60 * 1000

/** Options of the poll loop. */
export interface RunLoopOptions {
  /** @default DEFAULT_POLL_INTERVAL_MS */
  intervalMs?: number
  /** Aborting stops the loop once the current tick has finished. */
  signal?: AbortSignal
}

/** What a finished loop did. */
export interface LoopSummary {
  ticks: number
  failures: number
}

export interface LoopDeps {
  clock: Clock
  logger: Logger
  sleep: Sleep
  tick: () => Promise<TickResult>
}

/** Checks an interval against {@link MIN_POLL_INTERVAL_MS}. */
export function validateInterval(intervalMs: number): number {
  if (!Number.isSafeInteger(intervalMs) || intervalMs < MIN_POLL_INTERVAL_MS) {
    throw validationError('interval', `interval must be at least 1s, got ${intervalMs}ms`)
  }
  return intervalMs
}

/**
 * Runs ticks until `signal` aborts. A failed tick is logged and the loop goes on, except for a
 * storage failure: a broken database stops the loop with that error, so a supervisor can
 * restart the process.
 *
 * @throws CryptorgError `ERR_STORAGE`
 */
export async function runLoop(deps: LoopDeps, options: RunLoopOptions = {}): Promise<LoopSummary> {
  const { clock, logger, sleep } = deps
  const intervalMs = validateInterval(options.intervalMs ?? DEFAULT_POLL_INTERVAL_MS)
  const signal = options.signal
  const firstTickAt = clock.now().getTime()
  let slot = 0
  let ticks = 0
  let failures = 0

  while (!signal?.aborted) {
    const failure = await tickAndLog(deps)
    ticks += 1
    if (failure) {
      failures += 1
      if (failure.code === 'ERR_STORAGE') throw failure
    }
    if (signal?.aborted) break

    const now = clock.now().getTime()
    // The first slot due at or after now: a tick that took exactly one interval is followed
    // at once by the next, while slots that passed during a longer tick are skipped.
    const nextSlot = Math.max(slot + 1, Math.ceil((now - firstTickAt) / intervalMs))
    if (nextSlot > slot + 1) {
      logger.warn(`tick outlasted the interval; skipping ${nextSlot - slot - 1} tick(s)`, {
        interval_ms: intervalMs,
      })
    }
    slot = nextSlot
    let wakeAt = firstTickAt + slot * intervalMs

    const retryAfterMs = failure?.details['retryAfterMs']
    if (typeof retryAfterMs === 'number' && now + retryAfterMs > wakeAt) {
      // CoinGecko asked us to wait longer than one interval: resume at the first slot after it.
      slot = Math.ceil((now + retryAfterMs - firstTickAt) / intervalMs)
      wakeAt = firstTickAt + slot * intervalMs
      logger.warn(`rate limited; next tick in ${formatDuration(wakeAt - now)}`, {})
    }
    await sleep(Math.max(0, wakeAt - now), signal)
  }
  return { ticks, failures }
}

async function tickAndLog(deps: LoopDeps): Promise<CryptorgError | undefined> {
  try {
    const result = await deps.tick()
    deps.logger.info(describeTick(result), {
      symbols: result.symbols,
      organizations: result.organizations,
      rows: result.rows_written,
      duration_ms: result.duration_ms,
    })
    return undefined
  } catch (error) {
    const failure = toCryptorgError(error)
    deps.logger.error(`tick failed: ${failure.message}`, { code: failure.code })
    return failure
  }
}
