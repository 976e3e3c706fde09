import { join } from 'node:path'

import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'

import { acquireLease } from '../../src/daemon/lease.js'
import type { LoopSummary } from '../../src/daemon/loop.js'
import { connect } from '../../src/db/connect.js'
import { parseDatabaseLocation } from '../../src/db/location.js'
import {
  type Cryptorg,
  type DaemonStatus,
  type OpenOptions,
  type Sleep,
  open,
} from '../../src/index.js'
import { testLocation } from '../helpers/backend.js'
import { MISSING_TABLE, alterBehindTheBack, queryRows } from '../helpers/db-rows.js'
import { type FakeClock, fakeClock, fakeSleep } from '../helpers/fake-clock.js'
import { type MockCoinGecko, startMockCoinGecko } from '../helpers/mock-coingecko.js'
import { tempDir } from '../helpers/open-test-db.js'
import { type RecordingLogger, recordingLogger } from '../helpers/recording-logger.js'

const MINUTE = 60_000
const ORGS = ['Acme', 'Globex', 'Initech']
const SYMBOLS = ['BTC', 'ETH']
const T = (hms: string) => Date.parse(`2024-09-17T${hms}Z`)
const stored = (hms: string) => new Date(T(hms)).toISOString()

let mock: MockCoinGecko
let dir: ReturnType<typeof tempDir>
let databasePath: string
let clock: FakeClock
const opened: Cryptorg[] = []

beforeAll(async () => {
  mock = await startMockCoinGecko()
})

afterAll(async () => {
  await mock.close()
})

beforeEach(() => {
  mock.reset()
  dir = tempDir('cryptorg-poller-')
  databasePath = join(dir.path, 'prices.db')
  clock = fakeClock('2024-09-17T12:00:00.000Z')
})

afterEach(async () => {
  await Promise.all(opened.splice(0).map((c) => c.close()))
  dir.remove()
})

async function openDaemon(
  daemonId: string,
  options: Partial<OpenOptions> = {},
): Promise<Cryptorg & { logger: RecordingLogger }> {
  const logger = recordingLogger()
  const c = await open({
    databasePath,
    clock,
    logger,
    random: () => 0,
    daemonId,
    ...options,
    coingecko: { baseUrl: mock.url, ...options.coingecko },
  })
  opened.push(c)
  return { ...c, logger }
}

async function createOrgs(c: Cryptorg) {
  for (const name of ORGS) await c.system.orgs.create(name)
}

/** Reads the database file directly, as a second process would. */
function query<T>(sql: string): Promise<T[]> {
  return queryRows<T>(databasePath, sql)
}

/** Rows per tick timestamp, and how many distinct (org, symbol) pairs each has. */
const rowsPerSlot = () =>
  query<{ timestamp: string; rows: number; pairs: number }>(
    `select timestamp, count(*) as rows, count(distinct org_id || '/' || symbol) as pairs
       from crypto_prices group by timestamp order by timestamp`,
  )

const complete = (...slots: string[]) =>
  slots.map((slot) => ({
    timestamp: stored(slot),
    rows: ORGS.length * SYMBOLS.length,
    pairs: ORGS.length * SYMBOLS.length,
  }))

const tickRecords = () =>
  query<{
    holder: string
    slot_at: string
    started_at: string
    outcome: string
    rows_written: number
    error_code: string | null
  }>(
    `select holder, slot_at, started_at, outcome, rows_written, error_code
       from daemon_ticks order by id`,
  )

/** A fake sleep that moves the clock and aborts `controller` once the clock reaches `until`. */
function sleepUntil(until: string, controller: AbortController): Sleep {
  const sleep = fakeSleep(clock)
  return async (ms, signal) => {
    if (clock.ms() + ms >= T(until)) {
      clock.set(new Date(T(until)))
      controller.abort()
      return
    }
    await sleep(ms, signal)
  }
}

/**
 * Several daemon loops on one fake clock. Time moves only once every loop is asleep, to the
 * earliest wake-up (or scheduled event), so loops interleave as they would in real time while
 * each tick's database and HTTP work really runs.
 */
function sharedTime() {
  type Sleeper = { at: number; seq: number; wake: () => void }
  const sleepers: Sleeper[] = []
  const events: { at: number; action: () => void }[] = []
  const hung = new Set<string>()
  let awake = 0
  let seq = 0
  let scheduled = false

  const advance = () => {
    scheduled = false
    if (awake > 0 || (sleepers.length === 0 && events.length === 0)) return
    sleepers.sort((a, b) => a.at - b.at || a.seq - b.seq)
    events.sort((a, b) => a.at - b.at)
    const next = sleepers[0]
    const event = events[0]
    if (event && (!next || event.at <= next.at)) {
      events.shift()
      clock.set(new Date(Math.max(clock.ms(), event.at)))
      event.action()
    } else if (next) {
      sleepers.shift()
      clock.set(new Date(Math.max(clock.ms(), next.at)))
      awake += 1
      next.wake()
    }
    schedule()
  }
  const schedule = () => {
    if (scheduled) return
    scheduled = true
    setImmediate(advance)
  }

  return {
    /** The sleep of the loop called `name`. */
    sleeper(name: string): Sleep {
      return (ms, signal) =>
        new Promise<void>((resolve) => {
          awake -= 1
          schedule()
          // A hung process: it never wakes up, and never releases its lease.
          if (hung.has(name)) return
          if (signal?.aborted) {
            awake += 1
            return resolve()
          }
          const entry: Sleeper = {
            at: clock.ms() + ms,
            seq: seq++,
            wake: () => {
              signal?.removeEventListener('abort', onAbort)
              resolve()
            },
          }
          const onAbort = () => {
            sleepers.splice(sleepers.indexOf(entry), 1)
            awake += 1
            resolve()
          }
          signal?.addEventListener('abort', onAbort, { once: true })
          sleepers.push(entry)
        })
    },
    /** Runs a loop; time waits for it whenever it is not asleep. */
    async run<T>(loop: () => Promise<T>): Promise<T> {
      awake += 1
      try {
        return await loop()
      } finally {
        awake -= 1
        schedule()
      }
    },
    /** Runs `action` when the clock reaches `time` of day. */
    at(time: string, action: () => void) {
      events.push({ at: T(time), action })
    },
    /** From now on, the loop `name` hangs in its next sleep. */
    hang(name: string) {
      hung.add(name)
    },
  }
}

describe('poller.run', () => {
  it('writes a complete set of rows per boundary and leaves a healthy status', async () => {
    clock.set('2024-09-17T12:00:20.000Z')
    const controller = new AbortController()
    const c = await openDaemon('a', { sleep: sleepUntil('12:03:30', controller) })
    await createOrgs(c)

    const summary = await c.poller.run({ intervalMs: MINUTE, signal: controller.signal })

    expect(summary).toEqual({ ticks: 4, failures: 0 })
    expect(mock.requests).toHaveLength(4)
    expect(await rowsPerSlot()).toEqual(complete('12:00:00', '12:01:00', '12:02:00', '12:03:00'))
    expect((await tickRecords()).map((r) => [r.slot_at, r.started_at, r.rows_written])).toEqual([
      [stored('12:00:00'), stored('12:00:20'), 6],
      [stored('12:01:00'), stored('12:01:00'), 6],
      [stored('12:02:00'), stored('12:02:00'), 6],
      [stored('12:03:00'), stored('12:03:00'), 6],
    ])
    expect(await c.poller.status()).toEqual({
      checked_at: '2024-09-17T12:03:30Z',
      healthy: true,
      problem: null,
      interval_ms: MINUTE,
      leader: {
        holder: 'a',
        acquired_at: '2024-09-17T12:00:20Z',
        renewed_at: '2024-09-17T12:03:20Z',
        expires_at: '2024-09-17T12:03:30Z',
        active: false,
      },
      next_tick_at: null,
      last_success: {
        slot_at: '2024-09-17T12:03:00Z',
        finished_at: '2024-09-17T12:03:00Z',
        rows_written: 6,
      },
      last_failure: null,
      tick_counts: { ok: 4, failed: 0 },
    })
  })

  it('shows an active leader and the next tick due while the loop runs', async () => {
    const controller = new AbortController()
    const base = sleepUntil('12:01:30', controller)
    const during: DaemonStatus[] = []
    const sleep: Sleep = async (ms, signal) => {
      // Read by another connection, as `cryptorg daemon status` would.
      if (during.length === 0) during.push(await probe.poller.status())
      await base(ms, signal)
    }
    const c = await openDaemon('a', { sleep })
    const probe = await openDaemon('probe')
    await createOrgs(c)

    await c.poller.run({ intervalMs: MINUTE, signal: controller.signal })

    expect(during).toEqual([
      {
        checked_at: '2024-09-17T12:00:00Z',
        healthy: true,
        problem: null,
        interval_ms: MINUTE,
        leader: {
          holder: 'a',
          acquired_at: '2024-09-17T12:00:00Z',
          renewed_at: '2024-09-17T12:00:00Z',
          expires_at: '2024-09-17T12:00:30Z',
          active: true,
        },
        next_tick_at: '2024-09-17T12:01:00Z',
        last_success: {
          slot_at: '2024-09-17T12:00:00Z',
          finished_at: '2024-09-17T12:00:00Z',
          rows_written: 6,
        },
        last_failure: null,
        tick_counts: { ok: 1, failed: 0 },
      },
    ])
  })

  it('survives every upstream failure from the real client, backs off and recovers', async () => {
    mock.enqueue(
      { status: 429, headers: { 'retry-after': '90' }, fixture: 'error-429' },
      { status: 500, body: 'Internal Server Error', contentType: 'text/plain' },
      { delayMs: 400, fixture: 'simple-price-usd' },
      { status: 200, body: '<html>maintenance</html>', contentType: 'text/html' },
      { status: 401, fixture: 'error-401-bad-key' },
    )
    const controller = new AbortController()
    const c = await openDaemon('a', {
      sleep: sleepUntil('12:17:30', controller),
      coingecko: { timeoutMs: 100 },
    })
    await createOrgs(c)

    const summary = await c.poller.run({ intervalMs: MINUTE, signal: controller.signal })

    expect(summary).toEqual({ ticks: 7, failures: 5 })
    expect((await tickRecords()).map((r) => [r.started_at, r.outcome, r.error_code])).toEqual([
      [stored('12:00:00'), 'failed', 'ERR_RATE_LIMITED'],
      // Retry-After: 90s
      [stored('12:01:30'), 'failed', 'ERR_UPSTREAM'],
      // then 4s (2nd failure in a row, interval/30 doubled), 8s and 16s
      [stored('12:01:34'), 'failed', 'ERR_UPSTREAM'],
      [stored('12:01:42'), 'failed', 'ERR_UPSTREAM'],
      // the key is refused: 15 minutes
      [stored('12:01:58'), 'failed', 'ERR_UPSTREAM'],
      [stored('12:16:58'), 'ok', null],
      [stored('12:17:00'), 'ok', null],
    ])
    const errors = c.logger.messages('error')
    expect(errors).toHaveLength(5)
    expect(errors[2]).toContain('did not answer within 100ms')
    expect(errors[3]).toContain('not a JSON object (text/html)')
    expect(errors[4]).toContain('COINGECKO_API_KEY')
    expect(errors[4]).toMatch(/next attempt in 15m$/)
    expect(await rowsPerSlot()).toEqual(complete('12:16:00', '12:17:00'))
    const status = await c.poller.status()
    expect(status).toMatchObject({ healthy: true, last_failure: { error_code: 'ERR_UPSTREAM' } })
    expect(status.last_failure?.error).toContain('COINGECKO_API_KEY')
  })

  it('stops with ERR_STORAGE when the database breaks under the tick', async () => {
    const controller = new AbortController()
    const c = await openDaemon('a', { sleep: fakeSleep(clock) })
    await createOrgs(c)
    mock.enqueue({ fixture: 'simple-price-usd' }, async () => {
      await alterBehindTheBack(databasePath, 'drop table crypto_prices')
      return { fixture: 'simple-price-usd' }
    })

    await expect(
      c.poller.run({ intervalMs: MINUTE, signal: controller.signal }),
    ).rejects.toMatchObject({ code: 'ERR_STORAGE' })
    expect(mock.requests).toHaveLength(2)
    expect(c.logger.messages('error')).toEqual([
      expect.stringMatching(/^tick failed: could not store the prices: .*; stopping$/),
    ])
  })

  it('stops with ERR_STORAGE when a table the tick reads first is gone', async () => {
    const controller = new AbortController()
    const c = await openDaemon('a', { sleep: fakeSleep(clock) })
    await createOrgs(c)
    mock.enqueue({ fixture: 'simple-price-usd' }, async () => {
      await alterBehindTheBack(
        databasePath,
        'alter table tracked_coins rename to tracked_coins_gone',
      )
      return { fixture: 'simple-price-usd' }
    })

    await expect(
      c.poller.run({ intervalMs: MINUTE, signal: controller.signal }),
    ).rejects.toMatchObject({
      code: 'ERR_STORAGE',
      message: expect.stringMatching(MISSING_TABLE('tracked_coins')),
    })
    expect(c.logger.messages('error')).toHaveLength(1)
  })
})

describe('poller.run with two daemons on one database', () => {
  it('lets only the lease holder tick while the other stands by', async () => {
    const time = sharedTime()
    const a = await openDaemon('a', { sleep: time.sleeper('a') })
    const b = await openDaemon('b', { sleep: time.sleeper('b') })
    await createOrgs(a)
    const controller = new AbortController()
    time.at('12:05:30', () => controller.abort())

    const summaries = await Promise.all(
      [a, b].map((c) =>
        time.run(() => c.poller.run({ intervalMs: MINUTE, signal: controller.signal })),
      ),
    )

    expect(summaries.map((s) => s.ticks).sort()).toEqual([0, 6])
    expect(summaries.every((s) => s.failures === 0)).toBe(true)
    expect(mock.requests).toHaveLength(6)
    expect(await rowsPerSlot()).toEqual(
      complete('12:00:00', '12:01:00', '12:02:00', '12:03:00', '12:04:00', '12:05:00'),
    )
    const holders = new Set((await tickRecords()).map((r) => r.holder))
    expect(holders.size).toBe(1)
    const [leader, standby] = summaries[0]!.ticks === 6 ? [a, b] : [b, a]
    expect(standby.logger.messages('info')).toContain(
      'another daemon holds the leader lease; standing by',
    )
    expect(leader.logger.messages('info')).toContain(
      'this daemon holds the leader lease and writes the ticks',
    )
  })

  it('hands over at the next boundary when the leader stops, re-ticking no slot', async () => {
    const time = sharedTime()
    const a = await openDaemon('a', { sleep: time.sleeper('a') })
    const b = await openDaemon('b', { sleep: time.sleeper('b') })
    await createOrgs(a)
    const stopA = new AbortController()
    const stopB = new AbortController()
    let runB: Promise<LoopSummary> | undefined
    time.at('12:00:05', () => {
      runB = time.run(() => b.poller.run({ intervalMs: MINUTE, signal: stopB.signal }))
    })
    time.at('12:02:30', () => stopA.abort())
    time.at('12:05:30', () => stopB.abort())

    const summaryA = await time.run(() =>
      a.poller.run({ intervalMs: MINUTE, signal: stopA.signal }),
    )
    const summaryB = await runB

    expect(summaryA).toEqual({ ticks: 3, failures: 0 })
    expect(summaryB).toEqual({ ticks: 3, failures: 0 })
    expect((await tickRecords()).map((r) => [r.holder, r.slot_at, r.started_at])).toEqual([
      ['a', stored('12:00:00'), stored('12:00:00')],
      ['a', stored('12:01:00'), stored('12:01:00')],
      ['a', stored('12:02:00'), stored('12:02:00')],
      ['b', stored('12:03:00'), stored('12:03:00')],
      ['b', stored('12:04:00'), stored('12:04:00')],
      ['b', stored('12:05:00'), stored('12:05:00')],
    ])
    expect(mock.requests).toHaveLength(6)
    expect(await rowsPerSlot()).toEqual(
      complete('12:00:00', '12:01:00', '12:02:00', '12:03:00', '12:04:00', '12:05:00'),
    )
  })

  it('takes over from a hung leader once its lease expires, within one interval', async () => {
    const time = sharedTime()
    const a = await openDaemon('a', { sleep: time.sleeper('a') })
    const b = await openDaemon('b', { sleep: time.sleeper('b') })
    await createOrgs(a)
    const stop = new AbortController()
    let runB: Promise<LoopSummary> | undefined
    time.at('12:00:05', () => {
      runB = time.run(() => b.poller.run({ intervalMs: MINUTE, signal: stop.signal }))
    })
    time.at('12:02:05', () => time.hang('a'))
    time.at('12:05:30', () => stop.abort())
    // a never returns: it hangs without releasing its lease.
    void time.run(() => a.poller.run({ intervalMs: MINUTE, signal: stop.signal }))
    await new Promise((resolve) => setImmediate(resolve))

    expect(await runBWhenStarted(() => runB)).toEqual({ ticks: 3, failures: 0 })
    expect((await tickRecords()).map((r) => [r.holder, r.slot_at])).toEqual([
      ['a', stored('12:00:00')],
      ['a', stored('12:01:00')],
      ['a', stored('12:02:00')],
      ['b', stored('12:03:00')],
      ['b', stored('12:04:00')],
      ['b', stored('12:05:00')],
    ])
    const status = await b.poller.status()
    expect(status.leader).toMatchObject({ holder: 'b', active: false })
  })

  it('writes nothing and counts no failure when the lease is taken mid-tick', async () => {
    const controller = new AbortController()
    const c = await openDaemon('a', { sleep: sleepUntil('12:02:30', controller) })
    await createOrgs(c)
    const thief = connect(parseDatabaseLocation(await testLocation(databasePath))).db
    try {
      mock.enqueue({ fixture: 'simple-price-usd' }, async () => {
        // While a's request is in flight, its lease lapses and b takes it.
        clock.set('2024-09-17T12:01:31.000Z')
        const terms = { holder: 'b', ttlMs: 30_000, intervalMs: MINUTE }
        expect(await acquireLease(thief, terms, clock.now())).toBe(true)
        return { fixture: 'simple-price-usd' }
      })

      const summary = await c.poller.run({ intervalMs: MINUTE, signal: controller.signal })

      expect(summary).toEqual({ ticks: 2, failures: 0 })
      expect(await rowsPerSlot()).toEqual(complete('12:00:00', '12:02:00'))
      expect((await tickRecords()).map((r) => [r.holder, r.slot_at, r.outcome])).toEqual([
        ['a', stored('12:00:00'), 'ok'],
        ['a', stored('12:02:00'), 'ok'],
      ])
      expect(c.logger.messages('warn')).toEqual([
        'another daemon holds the leader lease; this tick was not written; standing by',
      ])
      expect(c.logger.messages('error')).toEqual([])
    } finally {
      await thief.destroy()
    }
  })
})

describe('tick idempotency', () => {
  it('stores the rows of one timestamp once when the tick runs twice', async () => {
    const c = await openDaemon('a')
    await createOrgs(c)
    expect((await c.poller.tick()).rows_written).toBe(6)
    const again = await c.poller.tick()
    expect(again).toMatchObject({ organizations: 3, rows_written: 0, symbols: SYMBOLS })
    expect(await rowsPerSlot()).toEqual(complete('12:00:00'))
    expect(mock.requests).toHaveLength(2)
  })

  it('writes no second set of rows when a second leader ticks a written slot', async () => {
    const first = new AbortController()
    const a = await openDaemon('a', { sleep: sleepUntil('12:00:30', first) })
    await createOrgs(a)
    expect(await a.poller.run({ intervalMs: MINUTE, signal: first.signal })).toEqual({
      ticks: 1,
      failures: 0,
    })
    // The record of a's tick is lost, so b does not know the slot was written.
    await alterBehindTheBack(databasePath, 'delete from daemon_ticks')

    const second = new AbortController()
    const b = await openDaemon('b', { sleep: sleepUntil('12:00:50', second) })
    expect(await b.poller.run({ intervalMs: MINUTE, signal: second.signal })).toEqual({
      ticks: 1,
      failures: 0,
    })

    expect(mock.requests).toHaveLength(2)
    expect(await rowsPerSlot()).toEqual(complete('12:00:00'))
    expect((await tickRecords()).map((r) => [r.holder, r.slot_at, r.rows_written])).toEqual([
      ['b', stored('12:00:00'), 0],
    ])
    expect(b.logger.messages('info')).toContain(
      'stored 0 prices (BTC, ETH for 3 organizations) in 0ms',
    )
  })
})

/** Waits for a loop that an event starts later. */
async function runBWhenStarted<T>(get: () => Promise<T> | undefined): Promise<T> {
  for (;;) {
    const run = get()
    if (run) return run
    await new Promise((resolve) => setTimeout(resolve, 1))
  }
}

describe('poller.tick', () => {
  it('records a single tick, so that status sees `daemon --once` runs', async () => {
    const c = await openDaemon('cron')
    await createOrgs(c)

    await c.poller.tick()
    mock.enqueue({ status: 500, body: 'Internal Server Error', contentType: 'text/plain' })
    await expect(c.poller.tick()).rejects.toMatchObject({ code: 'ERR_UPSTREAM' })

    expect(await tickRecords()).toEqual([
      {
        holder: 'once:cron',
        slot_at: stored('12:00:00'),
        started_at: stored('12:00:00'),
        outcome: 'ok',
        rows_written: 6,
        error_code: null,
      },
      {
        holder: 'once:cron',
        slot_at: stored('12:00:00'),
        started_at: stored('12:00:00'),
        outcome: 'failed',
        rows_written: 0,
        error_code: 'ERR_UPSTREAM',
      },
    ])
    expect(await c.poller.status()).toMatchObject({
      healthy: true,
      last_success: { rows_written: 6 },
      tick_counts: { ok: 1, failed: 1 },
    })
  })
})
