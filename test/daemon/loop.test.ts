import { describe, expect, it } from 'vitest'

import { upstreamHttpError } from '../../src/coingecko/errors.js'
import type { TickRecord } from '../../src/daemon/health.js'
import {
  DEFAULT_POLL_INTERVAL_MS,
  KEY_ERROR_RETRY_MS,
  type LoopDeps,
  type LoopStore,
  type LoopSummary,
  type RunLoopOptions,
  leaseRenewalMs,
  leaseTtlMs,
  retryDelayMs,
  runLoop,
  validateInterval,
} from '../../src/daemon/loop.js'
import type { TickResult } from '../../src/daemon/tick.js'
import { CryptorgError } from '../../src/errors.js'
import { realSleep } from '../../src/index.js'
import { validationFailure } from '../helpers/errors.js'
import { type FakeClock, fakeClock } from '../helpers/fake-clock.js'
import { readFixture } from '../helpers/mock-coingecko.js'
import { recordingLogger } from '../helpers/recording-logger.js'

const SECOND = 1000
const MINUTE = 60 * SECOND
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR
const DATE = '2024-09-17'

/** Epoch ms of a time of day on {@link DATE}, such as `12:05:00`. */
const T = (hms: string) => Date.parse(`${DATE}T${hms}Z`)
/** The time of day of epoch ms, such as `12:05:00` (or `12:05:00.250` with milliseconds). */
const hms = (ms: number) =>
  new Date(ms)
    .toISOString()
    .slice(11, 23)
    .replace(/\.000$/, '')

// Errors shaped exactly as the CoinGecko client builds them.
const rateLimited = (retryAfterMs?: number) => upstreamHttpError(429, '', retryAfterMs)
const badKey = () => upstreamHttpError(401, readFixture('error-401-bad-key'), undefined)
const keyOnWrongHost = () =>
  upstreamHttpError(400, readFixture('error-400-pro-key-on-public-host'), undefined)
const serverError = () => upstreamHttpError(503, '<html>Service Unavailable</html>', undefined)
const timeout = () =>
  new CryptorgError('ERR_UPSTREAM', 'CoinGecko did not answer within 10s', {
    details: { timeout: true },
  })
const networkError = () =>
  new CryptorgError('ERR_UPSTREAM', 'could not reach CoinGecko at 127.0.0.1:9: ECONNREFUSED')
const notJson = () =>
  new CryptorgError('ERR_UPSTREAM', 'CoinGecko sent a body that is not a JSON object (text/html)')
const leaseLost = () =>
  new CryptorgError(
    'ERR_CONFLICT',
    'another daemon holds the leader lease; this tick was not written',
    { details: { leaseLost: true } },
  )
const brokenDisk = () =>
  new CryptorgError('ERR_STORAGE', 'could not store the prices: disk I/O error')

/** What the fake tick does on one call. */
interface Step {
  /** Fake time the tick takes. */
  ms?: number
  /** Thrown after `ms`. */
  fail?: unknown
  /** Rows the tick reports as written. @default 4 */
  rows?: number
  /** Aborts the loop's signal as the tick starts (a shutdown during the tick). */
  abort?: boolean
}

type StoredRecord = Omit<TickRecord, 'holder'>

/** An in-memory {@link LoopStore} whose lease and history the test decides. */
class FakeStore implements LoopStore {
  readonly acquires: { at: number; nextTickAt: number | null; result: boolean }[] = []
  readonly releases: number[] = []
  readonly records: StoredRecord[] = []
  readonly prunes: { at: number; pricesBefore: number | undefined; recordsBefore: number }[] = []
  /** Whether this daemon leads at a moment. */
  leader: (now: number) => boolean = () => true
  /** The newest slot another daemon completed, as known at a moment. */
  othersLastOk: (now: number) => number | undefined = () => undefined
  /** Prices `prune` reports as deleted. */
  pruned = 0
  failAcquire: unknown
  failRecord: unknown
  failPrune: unknown

  constructor(private readonly clock: FakeClock) {}

  async acquire(now: Date, nextTickAt: Date | null) {
    if (this.failAcquire !== undefined) throw this.failAcquire
    const result = this.leader(now.getTime())
    this.acquires.push({ at: now.getTime(), nextTickAt: nextTickAt?.getTime() ?? null, result })
    return result
  }

  async release(now: Date) {
    this.releases.push(now.getTime())
  }

  async lastSuccessfulSlot() {
    const slots = this.records.filter((r) => r.outcome === 'ok').map((r) => r.slotAt.getTime())
    const others = this.othersLastOk(this.clock.ms())
    if (others !== undefined) slots.push(others)
    return slots.length === 0 ? undefined : new Date(Math.max(...slots))
  }

  async record(record: StoredRecord) {
    if (this.failRecord !== undefined) throw this.failRecord
    this.records.push(record)
  }

  async prune(cutoffs: { pricesBefore: Date | undefined; recordsBefore: Date }) {
    if (this.failPrune !== undefined) throw this.failPrune
    this.prunes.push({
      at: this.clock.ms(),
      pricesBefore: cutoffs.pricesBefore?.getTime(),
      recordsBefore: cutoffs.recordsBefore.getTime(),
    })
    return this.pruned
  }
}

interface HarnessOptions {
  /** Where the clock starts: a time of day on {@link DATE}. */
  start: string
  /** The loop is aborted when the clock reaches this time of day (a sleep is woken early). */
  until?: string
  /** The same as epoch ms, for runs longer than a day. */
  untilMs?: number
  intervalMs?: number
  /** One per tick call; later calls succeed at once. */
  steps?: Step[]
  jitterMs?: number
  retentionMs?: number
  /** Values handed out by `random`, in turn. @default always 0 */
  random?: number[]
}

/**
 * Builds a loop on a fake clock, a fake sleep that moves it (and is woken early by the abort),
 * a fake store and a scripted tick. Records when each tick started, its slot and every wait.
 */
function harness(options: HarnessOptions) {
  const clock = fakeClock(new Date(T(options.start)))
  const controller = new AbortController()
  const logger = recordingLogger()
  const store = new FakeStore(clock)
  const untilMs = options.untilMs ?? (options.until ? T(options.until) : undefined)
  const starts: number[] = []
  const slots: number[] = []
  const sleeps: number[] = []
  let inFlight = 0
  let maxInFlight = 0
  let randomCalls = 0
  /** Runs before each sleep; may move the clock (the machine was suspended) or abort. */
  let beforeSleep: (ms: number) => void = () => {}

  const tick = async (slot: Date): Promise<TickResult> => {
    const step = options.steps?.[starts.length] ?? {}
    starts.push(clock.ms())
    slots.push(slot.getTime())
    if (starts.length > 10_000) throw new Error('runaway loop: too many ticks')
    if (step.abort) controller.abort()
    inFlight += 1
    maxInFlight = Math.max(maxInFlight, inFlight)
    try {
      // A real tick awaits I/O: let anything else that might run do so.
      await new Promise((resolve) => setImmediate(resolve))
      clock.advance(step.ms ?? 0)
      if (step.fail !== undefined) throw step.fail
      return {
        started_at: slot.toISOString(),
        duration_ms: step.ms ?? 0,
        organizations: 2,
        symbols: ['BTC', 'ETH'],
        rows_written: step.rows ?? 4,
        skipped: [],
      }
    } finally {
      inFlight -= 1
    }
  }

  const sleep = async (ms: number, signal?: AbortSignal) => {
    sleeps.push(ms)
    if (sleeps.length > 100_000) throw new Error('runaway loop: too many sleeps')
    if (signal?.aborted) return
    beforeSleep(ms)
    if (signal?.aborted) return
    const wake = clock.ms() + ms
    if (untilMs !== undefined && wake >= untilMs) {
      // Woken early by the abort, as realSleep is.
      clock.set(new Date(Math.max(clock.ms(), untilMs)))
      controller.abort()
      return
    }
    clock.set(new Date(wake))
  }

  const random = () => {
    const value = options.random?.[randomCalls] ?? 0
    randomCalls += 1
    return value
  }

  const deps: LoopDeps = { clock, logger, sleep, random, store, tick }
  const loopOptions: RunLoopOptions = {
    signal: controller.signal,
    ...(options.intervalMs !== undefined && { intervalMs: options.intervalMs }),
    ...(options.jitterMs !== undefined && { jitterMs: options.jitterMs }),
    ...(options.retentionMs !== undefined && { retentionMs: options.retentionMs }),
  }

  return {
    clock,
    controller,
    logger,
    store,
    deps,
    sleeps,
    /** Tick start times as times of day. */
    starts: () => starts.map(hms),
    /** Tick slots as times of day. */
    slots: () => slots.map(hms),
    startsMs: starts,
    maxInFlight: () => maxInFlight,
    randomCalls: () => randomCalls,
    onSleep(hook: (ms: number) => void) {
      beforeSleep = hook
    },
    run: (): Promise<LoopSummary> => runLoop(deps, loopOptions),
  }
}

const errorLines = (h: ReturnType<typeof harness>) => h.logger.messages('error')

describe('runLoop: schedule', () => {
  it('ticks the current slot at once, then on each boundary, when started mid-slot', async () => {
    const h = harness({ start: '12:03:20', until: '12:16:00' })
    expect(await h.run()).toEqual({ ticks: 4, failures: 0 })
    expect(h.starts()).toEqual(['12:03:20', '12:05:00', '12:10:00', '12:15:00'])
    expect(h.slots()).toEqual(['12:00:00', '12:05:00', '12:10:00', '12:15:00'])
  })

  it('polls every five minutes when no interval is given', async () => {
    expect(DEFAULT_POLL_INTERVAL_MS).toBe(5 * MINUTE)
    const h = harness({ start: '12:00:00', until: '12:11:00', steps: [{ ms: 4 * SECOND }] })
    await h.run()
    expect(h.starts()).toEqual(['12:00:00', '12:05:00', '12:10:00'])
  })

  it.each([
    [SECOND, '12:00:00.400', '12:00:00', ['12:00:01', '12:00:02']],
    [MINUTE, '12:00:59', '12:00:00', ['12:01:00', '12:02:00']],
    [15 * MINUTE, '12:14:00', '12:00:00', ['12:15:00', '12:30:00']],
    [HOUR, '12:59:59', '12:00:00', ['13:00:00', '14:00:00']],
  ])(
    'aligns ticks to boundaries of a %ims interval when started at %s',
    async (ms, start, firstSlot, next) => {
      const h = harness({ start, intervalMs: ms })
      h.onSleep(() => {
        if (h.startsMs.length === 3) h.controller.abort()
      })
      await h.run()
      expect(h.starts()).toEqual([start, ...next])
      expect(h.slots()).toEqual([firstSlot, ...next])
    },
  )

  it('keeps ticks on the boundaries over an hour of ticks of varying length', async () => {
    const durations = Array.from({ length: 60 }, (_, i) => (i * 7919) % MINUTE)
    const h = harness({
      start: '12:00:00',
      until: '13:00:00',
      intervalMs: MINUTE,
      steps: durations.map((ms) => ({ ms })),
    })
    expect(await h.run()).toEqual({ ticks: 60, failures: 0 })
    expect(h.startsMs).toEqual(durations.map((_, i) => T('12:00:00') + i * MINUTE))
    expect(h.sleeps.every((ms) => ms > 0 && ms <= leaseRenewalMs(MINUTE))).toBe(true)
  })

  it('runs one catch-up tick without overlap after a tick slower than the interval', async () => {
    const h = harness({
      start: '12:00:00',
      until: '12:21:00',
      steps: [{}, { ms: 12 * MINUTE }, { ms: 30 * SECOND }],
    })
    expect(await h.run()).toEqual({ ticks: 4, failures: 0 })
    expect(h.starts()).toEqual(['12:00:00', '12:05:00', '12:17:00', '12:20:00'])
    expect(h.slots()).toEqual(['12:00:00', '12:05:00', '12:15:00', '12:20:00'])
    expect(h.maxInFlight()).toBe(1)
  })

  it('skips no slot and adds none when a tick lasts exactly one interval', async () => {
    const h = harness({ start: '12:00:00', until: '12:11:00', steps: [{ ms: 5 * MINUTE }] })
    await h.run()
    expect(h.starts()).toEqual(['12:00:00', '12:05:00', '12:10:00'])
    expect(h.slots()).toEqual(['12:00:00', '12:05:00', '12:10:00'])
  })

  it('runs exactly one catch-up tick after the machine slept for three hours', async () => {
    const h = harness({ start: '12:00:00', until: '15:11:00' })
    let suspended = false
    h.onSleep(() => {
      if (h.startsMs.length === 2 && !suspended) {
        suspended = true
        h.clock.advance(3 * HOUR)
      }
    })
    expect(await h.run()).toEqual({ ticks: 4, failures: 0 })
    expect(h.starts()).toEqual(['12:00:00', '12:05:00', '15:05:10', '15:10:00'])
    expect(h.slots()).toEqual(['12:00:00', '12:05:00', '15:05:00', '15:10:00'])
  })

  it.each([
    ['12:03:20', 'no slot has succeeded', undefined],
    ['12:03:20', 'only the previous slot succeeded', '11:55:00'],
    ['12:05:00', 'the current slot already succeeded', '12:00:00'],
  ])('ticks first at %s when started at 12:03:20 and %s', async (firstTick, _, lastOk) => {
    const h = harness({ start: '12:03:20', until: '12:06:00' })
    h.store.othersLastOk = () => (lastOk === undefined ? undefined : T(lastOk))
    await h.run()
    expect(h.starts()[0]).toBe(firstTick)
    expect(h.starts()).toContain('12:05:00')
  })

  it('delays each slot by floor(random * jitter), keeping slots on the boundaries', async () => {
    const h = harness({
      start: '12:00:00',
      until: '12:14:00',
      jitterMs: MINUTE,
      random: [0.5, 0.25, 0.9999, 0.1],
    })
    await h.run()
    expect(h.starts()).toEqual(['12:00:30', '12:05:15', '12:10:59.994'])
    expect(h.slots()).toEqual(['12:00:00', '12:05:00', '12:10:00'])
    // Drawn once per slot (12:00 to 12:15), not once per wait.
    expect(h.randomCalls()).toBe(4)
  })

  it('ticks at once when started later in the slot than its jitter', async () => {
    const h = harness({ start: '12:03:20', until: '12:04:00', jitterMs: MINUTE, random: [0.5] })
    await h.run()
    expect(h.starts()).toEqual(['12:03:20'])
  })

  it.each([
    ['equal to the interval', MINUTE],
    ['longer than the interval', MINUTE + 1],
    ['negative', -1],
    ['fractional', 1.5],
    ['not a number', Number.NaN],
  ])('rejects a jitter %s with ERR_VALIDATION', async (_, jitterMs) => {
    const h = harness({ start: '12:00:00', until: '12:10:00', intervalMs: MINUTE, jitterMs })
    await expect(h.run()).rejects.toMatchObject({
      code: 'ERR_VALIDATION',
      details: { field: 'jitter' },
    })
    expect(h.starts()).toEqual([])
    expect(h.store.acquires).toEqual([])
  })

  it.each([999, 0, -MINUTE, 1500.5])('rejects a %sms interval with ERR_VALIDATION', async (ms) => {
    const h = harness({ start: '12:00:00', until: '12:10:00', intervalMs: ms })
    await expect(h.run()).rejects.toMatchObject({ code: 'ERR_VALIDATION' })
    expect(h.starts()).toEqual([])
  })

  it('tells the store when the next tick is due whenever it renews the lease', async () => {
    const h = harness({ start: '12:03:20', until: '12:05:30' })
    await h.run()
    const afterFirstTick = h.store.acquires.filter((a) => a.at > T('12:03:20'))
    expect(afterFirstTick.length).toBeGreaterThan(5)
    for (const a of afterFirstTick.filter((a) => a.at < T('12:05:00'))) {
      expect(a.nextTickAt).toBe(T('12:05:00'))
    }
    for (const a of afterFirstTick.filter((a) => a.at > T('12:05:00'))) {
      expect(a.nextTickAt).toBe(T('12:10:00'))
    }
  })
})

describe('runLoop: failures and back-off', () => {
  it('waits at least Retry-After after a 429, even past the next boundary', async () => {
    const h = harness({
      start: '12:00:00',
      until: '12:11:00',
      steps: [{ ms: 2 * SECOND, fail: rateLimited(7 * MINUTE) }],
    })
    expect(await h.run()).toEqual({ ticks: 3, failures: 1 })
    expect(h.starts()).toEqual(['12:00:00', '12:07:02', '12:10:00'])
    expect(h.slots()).toEqual(['12:00:00', '12:05:00', '12:10:00'])
    expect(errorLines(h)).toEqual([
      'tick failed: CoinGecko rate limit reached; retry after 420s; next attempt in 7m',
    ])
  })

  it.each([
    [0, '12:00:01'],
    [400, '12:00:01'],
    [1500, '12:00:01.500'],
    [90 * SECOND, '12:01:30'],
  ])('retries a 429 with Retry-After %ims at %s', async (retryAfterMs, retry) => {
    const h = harness({
      start: '12:00:00',
      until: '12:04:00',
      steps: [{ fail: rateLimited(retryAfterMs) }],
    })
    await h.run()
    expect(h.starts().slice(0, 2)).toEqual(['12:00:00', retry])
  })

  it('backs off from 60s, doubling up to 15 min, on 429s without Retry-After', async () => {
    const h = harness({
      start: '12:00:00',
      until: '12:51:00',
      steps: Array.from({ length: 6 }, () => ({ fail: rateLimited() })),
    })
    expect(await h.run()).toEqual({ ticks: 8, failures: 6 })
    expect(h.starts()).toEqual([
      '12:00:00',
      '12:01:00',
      '12:03:00',
      '12:07:00',
      '12:15:00',
      '12:30:00',
      '12:45:00',
      '12:50:00',
    ])
  })

  it.each([
    ['HTTP 503', serverError],
    ['a timeout', timeout],
    ['a network error', networkError],
    ['a body that is not JSON', notJson],
    ['a bug in the tick', () => new TypeError('quotes is not iterable')],
  ])(
    'backs off exponentially up to a cap on %s, then returns to the boundaries',
    async (_, fail) => {
      const h = harness({
        start: '12:00:00',
        until: '12:06:30',
        intervalMs: MINUTE,
        steps: [
          ...Array.from({ length: 7 }, () => ({ fail: fail() })),
          {},
          {},
          {},
          { fail: fail() },
        ],
      })
      expect(await h.run()).toEqual({ ticks: 12, failures: 8 })
      expect(h.starts()).toEqual([
        // 2s, 4s, 8s, 16s, 32s, then capped at one interval
        '12:00:00',
        '12:00:02',
        '12:00:06',
        '12:00:14',
        '12:00:30',
        '12:01:02',
        '12:02:02',
        // success: back to the boundaries
        '12:03:02',
        '12:04:00',
        '12:05:00',
        '12:06:00',
        // the failure count starts again after a success
        '12:06:02',
      ])
      expect(h.slots().slice(7, 10)).toEqual(['12:03:00', '12:04:00', '12:05:00'])
      expect(errorLines(h)).toHaveLength(8)
    },
  )

  it.each([
    ['a rejected key (401)', badKey],
    ['a key sent to the wrong plan host', keyOnWrongHost],
  ])('retries %s only every 15 min, logging one line naming the setting', async (_, fail) => {
    const failures = Array.from({ length: 4 }, () => ({ fail: fail() }))
    const h = harness({ start: '12:00:00', until: '13:06:00', steps: failures })
    expect(await h.run()).toEqual({ ticks: 6, failures: 4 })
    expect(h.starts()).toEqual([
      '12:00:00',
      '12:15:00',
      '12:30:00',
      '12:45:00',
      '13:00:00',
      '13:05:00',
    ])
    const lines = errorLines(h)
    expect(lines).toHaveLength(4)
    for (const line of lines) {
      expect(line).toContain('COINGECKO_API_KEY')
      expect(line).toMatch(/^tick failed: CoinGecko refused the API key .*; next attempt in 15m$/)
    }
  })

  it.each([
    [MINUTE, 15 * MINUTE],
    [5 * MINUTE, 15 * MINUTE],
    [HOUR, HOUR],
  ])('waits after a rejected key with a %ims interval %ims', async (intervalMs, wait) => {
    const h = harness({ start: '12:00:00', intervalMs, steps: [{ fail: badKey() }] })
    h.onSleep(() => {
      if (h.startsMs.length === 2) h.controller.abort()
    })
    await h.run()
    expect(h.startsMs[1]! - h.startsMs[0]!).toBe(wait)
    expect(h.store.records.map((r) => r.outcome)).toEqual(['failed', 'ok'])
  })

  it('survives a long run of mixed failures and keeps ticking', async () => {
    const kinds = [serverError, timeout, networkError, notJson, rateLimited, () => new Error('x')]
    const steps = Array.from({ length: 40 }, (_, i) =>
      i % 3 === 2 ? {} : { fail: kinds[i % 6]!() },
    )
    const h = harness({
      start: '12:00:00',
      untilMs: T('12:00:00') + 2 * DAY,
      intervalMs: MINUTE,
      steps,
    })
    const summary = await h.run()
    expect(h.startsMs.length).toBeGreaterThan(40)
    expect(summary.failures).toBe(steps.filter((s) => s.fail).length)
    expect(h.clock.ms()).toBe(T('12:00:00') + 2 * DAY)
  })

  it('treats a cancelled request as a failure when no shutdown is under way', async () => {
    const cancelled = new CryptorgError('ERR_UPSTREAM', 'CoinGecko request was cancelled', {
      details: { cancelled: true },
    })
    const h = harness({ start: '12:00:00', until: '12:01:00', steps: [{ fail: cancelled }] })
    expect(await h.run()).toEqual({ ticks: 2, failures: 1 })
    expect(h.starts()).toEqual(['12:00:00', '12:00:10'])
    expect(h.store.records.map((r) => r.outcome)).toEqual(['failed', 'ok'])
  })

  it('stops by rejecting with the error when a tick meets a broken database', async () => {
    const broken = brokenDisk()
    const h = harness({ start: '12:00:00', until: '12:30:00', steps: [{}, { fail: broken }] })
    await expect(h.run()).rejects.toBe(broken)
    expect(h.starts()).toEqual(['12:00:00', '12:05:00'])
    expect(errorLines(h)).toEqual([
      'tick failed: could not store the prices: disk I/O error; stopping',
    ])
    expect(h.store.releases).toEqual([T('12:05:00')])
  })

  it('stops by rejecting when the store cannot record a tick', async () => {
    const broken = brokenDisk()
    const h = harness({ start: '12:00:00', until: '12:30:00' })
    h.store.failRecord = broken
    await expect(h.run()).rejects.toBe(broken)
    expect(h.starts()).toEqual(['12:00:00'])
  })

  it('stops by rejecting when the store cannot take the lease', async () => {
    const broken = brokenDisk()
    const h = harness({ start: '12:00:00', until: '12:30:00' })
    h.onSleep(() => {
      h.store.failAcquire = broken
    })
    await expect(h.run()).rejects.toBe(broken)
    expect(h.starts()).toEqual(['12:00:00'])
  })

  it('records every tick outcome with its slot, times, rows and error', async () => {
    const h = harness({
      start: '12:00:00',
      until: '12:06:00',
      steps: [{ ms: 1500, rows: 6 }, { ms: 250, fail: serverError() }, { fail: new Error('odd') }],
    })
    await h.run()
    expect(h.store.records).toEqual([
      {
        slotAt: new Date(T('12:00:00')),
        startedAt: new Date(T('12:00:00')),
        finishedAt: new Date(T('12:00:01.500')),
        outcome: 'ok',
        rowsWritten: 6,
      },
      {
        slotAt: new Date(T('12:05:00')),
        startedAt: new Date(T('12:05:00')),
        finishedAt: new Date(T('12:05:00.250')),
        outcome: 'failed',
        rowsWritten: 0,
        errorCode: 'ERR_UPSTREAM',
        error: 'CoinGecko answered HTTP 503',
      },
      {
        slotAt: new Date(T('12:05:00')),
        startedAt: new Date(T('12:05:10.250')),
        finishedAt: new Date(T('12:05:10.250')),
        outcome: 'failed',
        rowsWritten: 0,
        errorCode: 'ERR_INTERNAL',
        error: 'unexpected error: odd',
      },
      {
        slotAt: new Date(T('12:05:00')),
        startedAt: new Date(T('12:05:30.250')),
        finishedAt: new Date(T('12:05:30.250')),
        outcome: 'ok',
        rowsWritten: 4,
      },
    ])
  })

  it('logs one info line per successful tick', async () => {
    const h = harness({ start: '12:00:00', until: '12:06:00', steps: [{ ms: 1500 }, { rows: 1 }] })
    await h.run()
    const stored = h.logger.messages('info').filter((m) => m.startsWith('stored'))
    expect(stored).toEqual([
      'stored 4 prices (BTC, ETH for 2 organizations) in 1.5s',
      'stored 1 price (BTC, ETH for 2 organizations) in 0ms',
    ])
  })
})

describe('retryDelayMs', () => {
  const upstream = serverError()

  it.each([
    // interval, failures in a row, wait
    [SECOND, 1, 1000],
    [SECOND, 2, 2000],
    [SECOND, 5, 16_000],
    [SECOND, 6, 30_000],
    [SECOND, 100, 30_000],
    [MINUTE, 1, 2000],
    [MINUTE, 5, 32_000],
    [MINUTE, 6, 60_000],
    [5 * MINUTE, 1, 10_000],
    [5 * MINUTE, 2, 20_000],
    [5 * MINUTE, 5, 160_000],
    [5 * MINUTE, 6, 300_000],
    [5 * MINUTE, 50, 300_000],
    [HOUR, 1, 10_000],
    [HOUR, 9, 2_560_000],
    [HOUR, 10, 3_600_000],
    [HOUR, 1000, 3_600_000],
  ])('waits after HTTP 5xx with a %ims interval and %i failures %ims', (interval, n, wait) => {
    expect(retryDelayMs(upstream, n, interval)).toBe(wait)
  })

  it.each([
    [1, 60_000],
    [2, 120_000],
    [3, 240_000],
    [4, 480_000],
    [5, 900_000],
    [30, 900_000],
  ])('waits after a 429 without Retry-After and %i failures %ims', (n, wait) => {
    expect(retryDelayMs(rateLimited(), n, MINUTE)).toBe(wait)
    expect(retryDelayMs(rateLimited(), n, HOUR)).toBe(wait)
  })

  it.each([
    [0, 1000],
    [999, 1000],
    [5000, 5000],
    [2 * HOUR, 2 * HOUR],
  ])('waits after a 429 with Retry-After %ims %ims whatever the failures', (after, wait) => {
    for (const n of [1, 2, 10]) expect(retryDelayMs(rateLimited(after), n, MINUTE)).toBe(wait)
  })

  it.each([
    [SECOND, KEY_ERROR_RETRY_MS],
    [5 * MINUTE, KEY_ERROR_RETRY_MS],
    [15 * MINUTE, KEY_ERROR_RETRY_MS],
    [HOUR, HOUR],
  ])('waits after a rejected key with a %ims interval %ims', (interval, wait) => {
    expect(KEY_ERROR_RETRY_MS).toBe(15 * MINUTE)
    for (const n of [1, 3, 40]) expect(retryDelayMs(badKey(), n, interval)).toBe(wait)
  })
})

describe('runLoop: leader lease', () => {
  it.each([
    [10_000, 5 * MINUTE],
    [666, 2 * SECOND],
  ])(
    'stands by without ticking, polling every %ims, while another leads (%ims interval)',
    async (poll, intervalMs) => {
      const h = harness({ start: '12:00:00', until: '12:01:00', intervalMs })
      h.store.leader = () => false
      expect(await h.run()).toEqual({ ticks: 0, failures: 0 })
      expect(h.starts()).toEqual([])
      expect(h.sleeps.slice(0, -1).every((ms) => ms === poll)).toBe(true)
      expect(h.sleeps.length).toBe(Math.ceil(MINUTE / poll))
      expect(h.store.releases).toEqual([])
      expect(h.logger.messages('info')).toEqual([
        'another daemon holds the leader lease; standing by',
      ])
    },
  )

  it('takes over without re-ticking the slot the previous leader completed', async () => {
    const h = harness({ start: '12:00:40', until: '12:11:00' })
    h.store.leader = (now) => now >= T('12:02:30')
    h.store.othersLastOk = () => T('12:00:00')
    expect(await h.run()).toEqual({ ticks: 2, failures: 0 })
    expect(h.starts()).toEqual(['12:05:00', '12:10:00'])
    expect(h.logger.messages('info')).toContain(
      'this daemon holds the leader lease and writes the ticks',
    )
  })

  it('drops a retry planned before losing the lease when it takes the lease back', async () => {
    const h = harness({
      start: '12:00:00',
      until: '12:11:00',
      steps: [{ fail: serverError() }],
    })
    // Loses the lease right after the failed tick; the other daemon does 12:00 and 12:05.
    h.store.leader = (now) => now === T('12:00:00') || now >= T('12:07:01')
    h.store.othersLastOk = (now) => (now >= T('12:07:00') ? T('12:05:00') : undefined)
    await h.run()
    expect(h.starts()).toEqual(['12:00:00', '12:10:00'])
    expect(h.slots()).toEqual(['12:00:00', '12:10:00'])
  })

  it('ticks at once on taking over when the previous leader missed the slot', async () => {
    const h = harness({ start: '12:00:40', until: '12:06:00' })
    h.store.leader = (now) => now >= T('12:02:30')
    h.store.othersLastOk = () => T('11:55:00')
    await h.run()
    expect(h.starts()).toEqual(['12:02:30', '12:05:00'])
    expect(h.slots()).toEqual(['12:00:00', '12:05:00'])
  })

  it('stands by without counting a failure when the lease is lost mid-tick', async () => {
    const h = harness({
      start: '12:00:00',
      until: '12:21:00',
      steps: [{}, { ms: 3 * SECOND, fail: leaseLost() }],
    })
    h.store.leader = (now) => now <= T('12:05:00') || now >= T('12:17:00')
    h.store.othersLastOk = (now) => (now >= T('12:15:00') ? T('12:15:00') : undefined)
    expect(await h.run()).toEqual({ ticks: 2, failures: 0 })
    expect(h.starts()).toEqual(['12:00:00', '12:05:00', '12:20:00'])
    expect(h.store.records.map((r) => [hms(r.slotAt.getTime()), r.outcome])).toEqual([
      ['12:00:00', 'ok'],
      ['12:20:00', 'ok'],
    ])
    expect(h.logger.messages('warn')).toEqual([
      'another daemon holds the leader lease; this tick was not written; standing by',
    ])
    expect(errorLines(h)).toEqual([])
    // While another daemon leads, only the lease is polled.
    const standby = h.store.acquires.filter((a) => a.at > T('12:05:00') && a.at < T('12:17:00'))
    expect(standby.every((a) => !a.result)).toBe(true)
    expect(standby.length).toBe(72)
  })

  it.each([
    // interval, renewal, ttl
    [1000, 333, 999],
    [2000, 666, 1998],
    [3000, 1000, 3000],
    [30_000, 10_000, 30_000],
    [MINUTE, 10_000, 30_000],
    [5 * MINUTE, 10_000, 30_000],
    [HOUR, 10_000, 30_000],
  ])('renews the lease of a %ims interval every %ims and lets it live %ims', (ms, renew, ttl) => {
    expect(leaseRenewalMs(ms)).toBe(renew)
    expect(leaseTtlMs(ms)).toBe(ttl)
    // Two renewals may fail before the lease lapses.
    expect(ttl).toBeGreaterThanOrEqual(3 * renew)
  })

  it.each([2 * SECOND, MINUTE, 5 * MINUTE, HOUR])(
    'lets a lease of a %ims interval lapse within one interval of its last renewal',
    (ms) => {
      expect(leaseTtlMs(ms)).toBeLessThanOrEqual(ms)
    },
  )

  it.each([MINUTE, 5 * MINUTE, HOUR])(
    'takes over from a dead leader within one %ims interval, whatever its polling phase',
    async (intervalMs) => {
      // The leader renewed at 12:00:00 and died; the standby polls just out of phase.
      const renewedAt = T('12:00:00')
      const start = renewedAt + leaseRenewalMs(intervalMs) - 1
      const h = harness({ start: hms(start), intervalMs })
      h.store.leader = (now) => now >= renewedAt + leaseTtlMs(intervalMs)
      h.onSleep(() => {
        if (h.startsMs.length > 0) h.controller.abort()
      })
      await h.run()
      expect(h.startsMs).toHaveLength(1)
      expect(h.startsMs[0]! - renewedAt).toBeLessThanOrEqual(intervalMs)
    },
  )
})

describe('runLoop: shutdown', () => {
  it('ends when aborted during a sleep and releases the lease once at that time', async () => {
    const h = harness({ start: '12:00:00', until: '12:07:30' })
    expect(await h.run()).toEqual({ ticks: 2, failures: 0 })
    expect(h.starts()).toEqual(['12:00:00', '12:05:00'])
    expect(h.store.releases).toEqual([T('12:07:30')])
  })

  it('ends after the tick in flight when aborted during it', async () => {
    const h = harness({ start: '12:00:00', steps: [{}, { ms: 20 * SECOND, abort: true }] })
    expect(await h.run()).toEqual({ ticks: 2, failures: 0 })
    expect(h.starts()).toEqual(['12:00:00', '12:05:00'])
    expect(h.store.records.map((r) => r.outcome)).toEqual(['ok', 'ok'])
    expect(h.store.releases).toEqual([T('12:05:20')])
  })

  it('does nothing when the signal is already aborted', async () => {
    const h = harness({ start: '12:00:00' })
    h.controller.abort()
    expect(await h.run()).toEqual({ ticks: 0, failures: 0 })
    expect(h.store.acquires).toEqual([])
    expect(h.store.releases).toEqual([])
  })

  it('releases no lease it does not hold at shutdown', async () => {
    const h = harness({ start: '12:00:00', until: '12:00:45' })
    h.store.leader = () => false
    await h.run()
    expect(h.store.releases).toEqual([])
  })

  it('aborts the tick in flight only after the shutdown grace', async () => {
    const clock = fakeClock(new Date(T('12:00:00')))
    const store = new FakeStore(clock)
    const logger = recordingLogger()
    const controller = new AbortController()
    let tickSignal: AbortSignal | undefined
    let started: () => void = () => {}
    const tickStarted = new Promise<void>((resolve) => (started = resolve))
    const tick = (_slot: Date, signal: AbortSignal) =>
      new Promise<TickResult>((_resolve, reject) => {
        tickSignal = signal
        started()
        signal.addEventListener('abort', () =>
          reject(
            new CryptorgError('ERR_UPSTREAM', 'CoinGecko request was cancelled', {
              details: { cancelled: true },
            }),
          ),
        )
      })
    const run = runLoop(
      { clock, logger, sleep: realSleep, random: () => 0, store, tick },
      { intervalMs: MINUTE, signal: controller.signal, shutdownGraceMs: 50 },
    )
    await tickStarted
    const abortedAt = performance.now()
    controller.abort()
    expect(tickSignal?.aborted).toBe(false)
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect(tickSignal?.aborted).toBe(false)
    // A tick cut short by the shutdown is not a failed tick.
    expect(await run).toEqual({ ticks: 0, failures: 0 })
    expect(tickSignal?.aborted).toBe(true)
    expect(performance.now() - abortedAt).toBeGreaterThanOrEqual(45)
    expect(store.records).toEqual([])
    expect(store.releases).toHaveLength(1)
    expect(logger.messages('warn')).toEqual([
      'shutdown cut the tick in flight short; nothing was written',
    ])
  })

  it('lets a tick that finishes within the grace complete and be recorded', async () => {
    const clock = fakeClock(new Date(T('12:00:00')))
    const store = new FakeStore(clock)
    const controller = new AbortController()
    let tickSignal: AbortSignal | undefined
    const tick = async (slot: Date, signal: AbortSignal): Promise<TickResult> => {
      tickSignal = signal
      controller.abort()
      await new Promise((resolve) => setTimeout(resolve, 20))
      const result = { started_at: slot.toISOString(), duration_ms: 20, organizations: 1 }
      return { ...result, symbols: ['BTC'], rows_written: 1, skipped: [] }
    }
    const startedAt = performance.now()
    const summary = await runLoop(
      { clock, logger: recordingLogger(), sleep: realSleep, random: () => 0, store, tick },
      { intervalMs: MINUTE, signal: controller.signal, shutdownGraceMs: 5000 },
    )
    expect(summary).toEqual({ ticks: 1, failures: 0 })
    expect(tickSignal?.aborted).toBe(false)
    expect(store.records.map((r) => r.outcome)).toEqual(['ok'])
    expect(performance.now() - startedAt).toBeLessThan(2000)
  })
})

describe('runLoop: pruning', () => {
  it.each([
    ['with a retention', 7 * DAY],
    ['without a retention', undefined],
  ])('prunes after the first tick and then once a day %s', async (_, retentionMs) => {
    const start = T('12:00:00')
    const h = harness({
      start: '12:00:00',
      untilMs: start + DAY + 90 * MINUTE,
      intervalMs: HOUR,
      ...(retentionMs !== undefined && { retentionMs }),
    })
    await h.run()
    expect(h.startsMs).toHaveLength(26)
    expect(h.store.prunes).toEqual(
      [start, start + DAY].map((at) => ({
        at,
        recordsBefore: at - 30 * DAY,
        pricesBefore: retentionMs === undefined ? undefined : at - retentionMs,
      })),
    )
  })

  it('logs how many prices the retention pruned', async () => {
    const h = harness({ start: '12:00:00', until: '12:01:00', retentionMs: 7 * DAY })
    h.store.pruned = 5
    await h.run()
    expect(h.logger.messages('info')).toContain(
      'pruned 5 price(s) older than 2024-09-10T12:00:00.000Z',
    )
  })

  it('logs a failed pruning and keeps ticking', async () => {
    const h = harness({ start: '12:00:00', until: '12:11:00', retentionMs: 7 * DAY })
    h.store.failPrune = new CryptorgError('ERR_VALIDATION', 'bad cutoff')
    expect(await h.run()).toEqual({ ticks: 3, failures: 0 })
    expect(errorLines(h)).toEqual(['pruning failed: bad cutoff'])
  })

  it('stops by rejecting when pruning meets a broken database', async () => {
    const h = harness({ start: '12:00:00', until: '12:11:00', retentionMs: 7 * DAY })
    const broken = brokenDisk()
    h.store.failPrune = broken
    await expect(h.run()).rejects.toBe(broken)
    expect(h.starts()).toEqual(['12:00:00'])
  })
})

describe('validateInterval', () => {
  it.each([SECOND, MINUTE, HOUR, DAY])('accepts a %ims interval', (ms) => {
    expect(validateInterval(ms)).toBe(ms)
  })

  it.each([
    [DAY + 1, '86400001ms'],
    [25 * DAY, '25d'],
    [2 ** 31, '2147483648ms'],
  ])('refuses a %ims interval, longer than a day, with ERR_VALIDATION', (ms, shown) => {
    const error = validationFailure(() => validateInterval(ms))
    expect(error.message).toBe(`interval must be from 1s to 1d, got ${shown}`)
    expect(error.details).toEqual({ field: 'interval' })
  })

  it('makes runLoop refuse an interval longer than a day before ticking', async () => {
    const h = harness({ start: '12:00:00', until: '12:10:00', intervalMs: 25 * DAY })
    await expect(h.run()).rejects.toMatchObject({ code: 'ERR_VALIDATION' })
    expect(h.starts()).toEqual([])
  })
})

describe('retryDelayMs: Retry-After cap', () => {
  it.each([
    [DAY, DAY],
    [DAY + 1, DAY],
    [999_999_999 * SECOND, DAY],
  ])('waits at most a day after a 429 with Retry-After %ims', (after, wait) => {
    for (const n of [1, 2, 10]) expect(retryDelayMs(rateLimited(after), n, MINUTE)).toBe(wait)
  })

  it('retries a day later when a 429 asks for 999999999 seconds', async () => {
    const start = T('12:00:00')
    const h = harness({
      start: '12:00:00',
      untilMs: start + DAY + 2 * MINUTE,
      steps: [{ fail: rateLimited(999_999_999 * SECOND) }],
    })
    await h.run()
    expect(h.startsMs.slice(0, 2)).toEqual([start, start + DAY])
    expect(errorLines(h)[0]).toMatch(/; next attempt in 1d$/)
  })
})

describe('realSleep', () => {
  it('stays asleep for a delay beyond 2^31-1 ms and wakes when the signal aborts', async () => {
    const controller = new AbortController()
    let woke = false
    const sleeping = realSleep(2 ** 31 + 5000, controller.signal).then(() => {
      woke = true
    })
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(woke).toBe(false)
    controller.abort()
    await sleeping
    expect(woke).toBe(true)
  })
})
