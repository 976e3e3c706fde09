import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import {
  DEFAULT_POLL_INTERVAL_MS,
  MIN_POLL_INTERVAL_MS,
  type LoopDeps,
  runLoop,
  validateInterval,
} from '../../src/daemon/loop.js'
import type { TickResult } from '../../src/daemon/tick.js'
import { CryptorgError, open, realSleep } from '../../src/index.js'
import { type FakeClock, fakeClock, fakeSleep } from '../helpers/fake-clock.js'
import { type MockCoinGecko, startMockCoinGecko } from '../helpers/mock-coingecko.js'
import { recordingLogger } from '../helpers/recording-logger.js'

const T0 = Date.parse('2024-09-17T12:00:00.000Z')
const INTERVAL = 1000

/** What the fake tick does on one call: take `ms` of fake time, then succeed or throw. */
type Step = { ms?: number; fail?: unknown; abort?: boolean }

/**
 * Builds loop dependencies whose tick follows `steps` (one per call; the last step aborts the
 * loop unless it says otherwise) and records the fake time at which each tick started.
 */
function harness(steps: Step[], clock: FakeClock = fakeClock(new Date(T0))) {
  const controller = new AbortController()
  const logger = recordingLogger()
  const sleep = fakeSleep(clock)
  const starts: number[] = []
  const tick = async (): Promise<TickResult> => {
    const index = starts.length
    starts.push(clock.ms() - T0)
    const step = steps[index] ?? {}
    clock.advance(step.ms ?? 0)
    if (step.abort ?? index >= steps.length - 1) controller.abort()
    if (step.fail !== undefined) throw step.fail
    return {
      started_at: new Date(T0 + starts[index]!).toISOString(),
      duration_ms: step.ms ?? 0,
      organizations: 1,
      symbols: ['BTC'],
      rows_written: 1,
      skipped: [],
    }
  }
  const deps: LoopDeps = { clock, logger, sleep, tick }
  return {
    deps,
    starts,
    sleeps: sleep.calls,
    logger,
    run: (intervalMs = INTERVAL) => runLoop(deps, { intervalMs, signal: controller.signal }),
    runWithDefaults: () => runLoop(deps, { signal: controller.signal }),
  }
}

const EMPTY_TICK: TickResult = {
  started_at: '',
  duration_ms: 0,
  organizations: 0,
  symbols: [],
  rows_written: 0,
  skipped: [],
}

const rateLimited = (retryAfterMs: number) =>
  new CryptorgError('ERR_RATE_LIMITED', 'CoinGecko rate limit reached', {
    details: { status: 429, retryAfterMs },
  })

describe('runLoop', () => {
  it('ticks at once and then at every interval from the first tick', async () => {
    const h = harness([{}, {}, {}, {}])
    expect(await h.run()).toEqual({ ticks: 4, failures: 0 })
    expect(h.starts).toEqual([0, 1000, 2000, 3000])
  })

  it('does not drift when ticks take time', async () => {
    const h = harness([{ ms: 300 }, { ms: 450 }, { ms: 999 }, { ms: 1 }, {}])
    await h.run()
    expect(h.starts).toEqual([0, 1000, 2000, 3000, 4000])
    expect(h.sleeps).toEqual([700, 550, 1, 999])
  })

  it('ticks again at once, skipping nothing, when a tick takes exactly one interval', async () => {
    const h = harness([{ ms: 1000 }, { ms: 100 }, {}])
    await h.run()
    expect(h.starts).toEqual([0, 1000, 2000])
    expect(h.sleeps).toEqual([0, 900])
    expect(h.logger.messages('warn')).toEqual([])
  })

  it('skips missed slots rather than ticking back to back when a tick is too long', async () => {
    const h = harness([{ ms: 2500 }, { ms: 100 }, {}])
    await h.run()
    expect(h.starts).toEqual([0, 3000, 4000])
    expect(h.sleeps).toEqual([500, 900])
    expect(h.logger.messages('warn')).toEqual(['tick outlasted the interval; skipping 2 tick(s)'])
  })

  it('keeps the original schedule after skipping slots', async () => {
    const h = harness([{ ms: 100 }, { ms: 1800 }, { ms: 100 }, {}])
    await h.run()
    expect(h.starts).toEqual([0, 1000, 3000, 4000])
  })

  it('waits for the first slot after a Retry-After longer than the interval', async () => {
    const h = harness([{ ms: 100, fail: rateLimited(5500) }, { ms: 100 }, {}])
    expect(await h.run()).toEqual({ ticks: 3, failures: 1 })
    expect(h.starts).toEqual([0, 6000, 7000])
    expect(h.logger.messages('warn')).toContain('rate limited; next tick in 5.9s')
  })

  it('resumes exactly at Retry-After when it falls on a slot', async () => {
    const h = harness([{ fail: rateLimited(3000) }, {}])
    await h.run()
    expect(h.starts).toEqual([0, 3000])
  })

  it('keeps the normal schedule when Retry-After is shorter than the interval', async () => {
    const h = harness([{ ms: 100, fail: rateLimited(200) }, {}])
    await h.run()
    expect(h.starts).toEqual([0, 1000])
    expect(h.logger.messages('warn')).toEqual([])
  })

  it('keeps the normal schedule when a rate-limited failure has no Retry-After', async () => {
    const noDelay = new CryptorgError('ERR_RATE_LIMITED', 'CoinGecko rate limit reached', {
      details: { status: 429, retryAfterMs: undefined },
    })
    const h = harness([{ fail: noDelay }, {}])
    await h.run()
    expect(h.starts).toEqual([0, 1000])
  })

  it('logs failed ticks and carries on at the next interval', async () => {
    const h = harness([
      {},
      { ms: 50, fail: new CryptorgError('ERR_UPSTREAM', 'CoinGecko answered HTTP 500') },
      { fail: new Error('something odd') },
      {},
    ])
    expect(await h.run()).toEqual({ ticks: 4, failures: 2 })
    expect(h.starts).toEqual([0, 1000, 2000, 3000])
    expect(h.logger.events.filter((e) => e.level === 'error')).toEqual([
      {
        level: 'error',
        message: 'tick failed: CoinGecko answered HTTP 500',
        fields: { code: 'ERR_UPSTREAM' },
      },
      {
        level: 'error',
        message: 'tick failed: unexpected error: something odd',
        fields: { code: 'ERR_INTERNAL' },
      },
    ])
  })

  it('logs one info line describing each successful tick', async () => {
    const h = harness([{ ms: 1500 }, {}])
    await h.run(60_000)
    expect(h.logger.messages('info')).toEqual([
      'stored 1 price (BTC for 1 organization) in 1.5s',
      'stored 1 price (BTC for 1 organization) in 0ms',
    ])
  })

  it('stops by throwing the error when the storage fails', async () => {
    const broken = new CryptorgError('ERR_STORAGE', 'could not store the prices: disk I/O error')
    const h = harness([{}, { fail: broken }, {}, {}])
    await expect(h.run()).rejects.toBe(broken)
    expect(h.starts).toEqual([0, 1000])
    expect(h.sleeps).toEqual([1000])
  })

  it('ends after the current tick when the signal aborts during a tick', async () => {
    const h = harness([{}, { ms: 200, abort: true }, {}, {}])
    expect(await h.run()).toEqual({ ticks: 2, failures: 0 })
    expect(h.sleeps).toEqual([1000])
  })

  it('ends without another tick when the signal aborts during the sleep', async () => {
    const clock = fakeClock(new Date(T0))
    const controller = new AbortController()
    let ticks = 0
    const sleeps: number[] = []
    const summary = await runLoop(
      {
        clock,
        logger: recordingLogger(),
        tick: async () => {
          ticks += 1
          return { ...EMPTY_TICK }
        },
        sleep: async (ms, signal) => {
          sleeps.push(ms)
          if (sleeps.length === 3) {
            // Woken early by the abort, like realSleep.
            controller.abort()
            expect(signal?.aborted).toBe(true)
            clock.advance(10)
            return
          }
          clock.advance(ms)
        },
      },
      { intervalMs: 5000, signal: controller.signal },
    )
    expect(summary).toEqual({ ticks: 3, failures: 0 })
    expect(ticks).toBe(3)
  })

  it('runs no tick when the signal is already aborted', async () => {
    const h = harness([{}])
    const controller = new AbortController()
    controller.abort()
    const summary = await runLoop(h.deps, { intervalMs: INTERVAL, signal: controller.signal })
    expect(summary).toEqual({ ticks: 0, failures: 0 })
    expect(h.starts).toEqual([])
  })

  it('polls every five minutes by default', async () => {
    expect(DEFAULT_POLL_INTERVAL_MS).toBe(300_000)
    const h = harness([{ ms: 1000 }, {}])
    await h.runWithDefaults()
    expect(h.sleeps).toEqual([299_000])
    expect(h.starts).toEqual([0, 300_000])
  })

  it('returns ERR_VALIDATION without ticking when the interval is below one second', async () => {
    const h = harness([{}])
    await expect(h.run(999)).rejects.toMatchObject({ code: 'ERR_VALIDATION' })
    expect(h.starts).toEqual([])
  })
})

describe('validateInterval', () => {
  it.each([1000, 1001, 60_000, DEFAULT_POLL_INTERVAL_MS])('returns the valid interval %i', (ms) => {
    expect(validateInterval(ms)).toBe(ms)
  })

  it.each([999, 0, -1000, 1000.5, Number.NaN, Infinity])('rejects %d', (ms) => {
    expect(MIN_POLL_INTERVAL_MS).toBe(1000)
    expect(() => validateInterval(ms)).toThrow(
      expect.objectContaining({
        code: 'ERR_VALIDATION',
        message: `interval must be at least 1s, got ${ms}ms`,
        details: { field: 'interval' },
      }),
    )
  })
})

describe('realSleep', () => {
  it('resolves after the given time', async () => {
    const started = performance.now()
    await realSleep(30)
    expect(performance.now() - started).toBeGreaterThanOrEqual(25)
  })

  it('resolves early when the signal aborts', async () => {
    const controller = new AbortController()
    const started = performance.now()
    setTimeout(() => controller.abort(), 10)
    await realSleep(10_000, controller.signal)
    expect(performance.now() - started).toBeLessThan(5000)
  })

  it('resolves at once when the signal is already aborted', async () => {
    const started = performance.now()
    await realSleep(10_000, AbortSignal.abort())
    expect(performance.now() - started).toBeLessThan(5000)
  })
})

describe('poller.run', () => {
  let mock: MockCoinGecko

  beforeAll(async () => {
    mock = await startMockCoinGecko()
  })

  afterAll(async () => {
    await mock.close()
  })

  it('stores one set of prices per interval and keeps going after a failed tick', async () => {
    mock.reset()
    mock.enqueue({ fixture: 'simple-price-usd' }, { status: 500 }, { fixture: 'simple-price-usd' })
    const clock = fakeClock('2024-09-17T12:00:00.000Z')
    const controller = new AbortController()
    const sleep = fakeSleep(clock)
    const c = await open({
      databasePath: ':memory:',
      clock,
      coingecko: { baseUrl: mock.url },
      sleep: async (ms, signal) => {
        await sleep(ms, signal)
        if (sleep.calls.length === 3) controller.abort()
      },
    })
    try {
      await c.orgs.create('Acme')
      const summary = await c.poller.run({ intervalMs: 60_000, signal: controller.signal })
      expect(summary).toEqual({ ticks: 3, failures: 1 })
      expect(mock.requests).toHaveLength(3)
      const history = await c.prices.history('Acme', { symbol: 'BTC' })
      expect(history.map((p) => p.timestamp)).toEqual([
        '2024-09-17T12:02:00Z',
        '2024-09-17T12:00:00Z',
      ])
    } finally {
      await c.close()
    }
  })
})
