/**
 * The small interfaces the core depends on instead of globals, so tests and embedders can
 * substitute a fixed clock, a fake fetch or their own logger.
 *
 * @module
 */

/** Source of the current time. */
export interface Clock {
  now(): Date
}

/** Structured fields attached to a log event. */
export type LogFields = Readonly<Record<string, unknown>>

/** Receiver of log events. The library never writes to the console by itself. */
export interface Logger {
  debug(message: string, fields?: LogFields): void
  info(message: string, fields?: LogFields): void
  warn(message: string, fields?: LogFields): void
  error(message: string, fields?: LogFields): void
}

/** The subset of the global `fetch` that cryptorg uses. */
export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>

/** Waits `ms` milliseconds, or less when `signal` aborts first (it then resolves, not rejects). */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>

/** The wall clock. */
export const systemClock: Clock = Object.freeze({ now: () => new Date() })

/** A logger that drops everything: the library's default. */
export const silentLogger: Logger = Object.freeze({
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
})

/** Longest delay setTimeout accepts; a longer one fires after 1 ms instead. */
const MAX_TIMER_MS = 2 ** 31 - 1

/** A timer-based {@link Sleep} that wakes early on abort and accepts any length. */
export const realSleep: Sleep = async (ms, signal) => {
  let remaining = Math.max(0, ms)
  do {
    const step = Math.min(remaining, MAX_TIMER_MS)
    await sleepOnce(step, signal)
    remaining -= step
  } while (remaining > 0 && !signal?.aborted)
}

function sleepOnce(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve()
    const onAbort = () => {
      clearTimeout(timer)
      resolve()
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
