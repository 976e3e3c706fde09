import { readFileSync } from 'node:fs'

import { beforeEach, describe, expect, it } from 'vitest'

import type { Price } from '../../src/core/prices.js'
import type { TickResult } from '../../src/daemon/tick.js'
import type { FetchLike, Sleep } from '../../src/deps.js'
import { MISSING_TABLE, alterBehindTheBack } from '../helpers/db-rows.js'
import type { RunCliOptions } from '../helpers/cli.js'
import { type FakeClock, fakeClock } from '../helpers/fake-clock.js'
import { ISO_UTC, lines, useTempDatabase } from './support.js'

/** Loopback and a discard port: the fake fetch answers, nothing is ever contacted. */
const API_ROOT = 'http://127.0.0.1:9/api/v3'
const ENV = { CRYPTORG_COINGECKO_URL: API_ROOT }
const API_KEY = 'sk-secret-123'

function fixture(name: string): string {
  return readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8')
}

interface Answer {
  status?: number
  body: string
  headers?: Record<string, string>
}

interface FetchCall {
  url: URL
  headers: Headers
  /** The fake clock's time of the request, in epoch milliseconds. */
  at: number
}

type FakeFetch = FetchLike & {
  calls: FetchCall[]
  /** Requests beyond this many fail, so a loop that never sleeps cannot run forever. */
  limit: number
}

/**
 * A fetch that records each request and answers from `answers` (the last one repeats). It
 * refuses any URL outside {@link API_ROOT}, so a wrong base URL fails the test instead of
 * leaving the machine.
 */
function fakeFetch(...answers: (Answer | ((call: FetchCall) => Promise<Answer>))[]): FakeFetch {
  const calls: FetchCall[] = []
  const fetch: FetchLike = async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input))
    if (!url.href.startsWith(`${API_ROOT}/`)) throw new Error(`unexpected request to ${url.href}`)
    const headers = new Headers(input instanceof Request ? input.headers : undefined)
    new Headers(init?.headers).forEach((value, key) => headers.set(key, value))
    const call = { url, headers, at: clock.ms() }
    calls.push(call)
    if (calls.length > self.limit) throw new Error('fakeFetch: too many requests')
    const next = answers[Math.min(calls.length, answers.length) - 1]
    if (!next) throw new Error('fakeFetch has no answer')
    const answer = typeof next === 'function' ? await next(call) : next
    return new Response(answer.body, {
      status: answer.status ?? 200,
      headers: { 'content-type': 'application/json', ...answer.headers },
    })
  }
  const self = Object.assign(fetch, { calls, limit: Number.POSITIVE_INFINITY })
  return self
}

const USD = { body: fixture('simple-price-usd.json') }

const db = useTempDatabase()
let clock: FakeClock

beforeEach(async () => {
  clock = fakeClock('2024-09-17T12:00:00.000Z')
  await db.json(['org', 'create', 'Acme'], { clock })
  await db.json(['org', 'create', 'Globex'], { clock })
})

function daemon(argv: string[], fetch: FakeFetch, options: RunCliOptions = {}) {
  return db.cli(['daemon', ...argv], {
    clock,
    fetch,
    ...options,
    env: { ...ENV, ...options.env },
  })
}

const latest = (org: string) => db.json<Price[]>(['prices', 'latest', '--org', org])
const history = (org: string) => db.json<Price[]>(['prices', 'history', '--org', org])

/** Parses every stderr line as one JSON log object. */
function jsonLog(stderr: string): Record<string, unknown>[] {
  return lines(stderr).map((line) => JSON.parse(line) as Record<string, unknown>)
}

describe('daemon --once', () => {
  it('stores every tracked coin for every organization and prints a summary', async () => {
    const fetch = fakeFetch(USD)

    const result = await daemon(['--once'], fetch)

    expect(result.code).toBe(0)
    expect(result.stdout).toBe('stored 4 prices (BTC, ETH for 2 organizations) in 0ms\n')
    expect(result.stderr).toBe('')
    for (const org of ['Acme', 'Globex']) {
      const rows = await latest(org)
      expect(rows.map((p) => [p.symbol, p.price, p.currency, p.source, p.timestamp])).toEqual([
        ['BTC', '64213.0000000000', 'usd', 'coingecko', '2024-09-17T12:00:00Z'],
        ['ETH', '2318.4700000000', 'usd', 'coingecko', '2024-09-17T12:00:00Z'],
      ])
    }
  })

  it('shows the fetched prices in prices latest', async () => {
    await daemon(['--once'], fakeFetch(USD))

    const result = await db.cli(['prices', 'latest', '--org', 'Acme'])

    expect(result.stdout).toContain('BTC\t64213.0000000000\tusd\t')
    expect(result.stdout).toContain('ETH\t2318.4700000000\tusd\t')
  })

  it('asks for all tracked coins in one request to the configured API root', async () => {
    const fetch = fakeFetch(USD)

    await daemon(['--once'], fetch)

    expect(fetch.calls).toHaveLength(1)
    const { url, headers } = fetch.calls[0]!
    expect(url.pathname).toBe('/api/v3/simple/price')
    expect(url.searchParams.get('ids')).toBe('bitcoin,ethereum')
    expect(url.searchParams.get('vs_currencies')).toBe('usd')
    expect([...headers.keys()].filter((key) => key.startsWith('x-cg-'))).toEqual([])
  })

  it('adds one row per symbol and organization on each run', async () => {
    const fetch = fakeFetch(USD)
    await daemon(['--once'], fetch)
    clock.advance(60_000)

    const result = await daemon(['--once'], fetch)

    expect(result.code).toBe(0)
    for (const org of ['Acme', 'Globex']) {
      const rows = await history(org)
      expect(rows.map((p) => `${p.symbol}@${p.timestamp}`)).toEqual([
        'ETH@2024-09-17T12:01:00Z',
        'BTC@2024-09-17T12:01:00Z',
        'ETH@2024-09-17T12:00:00Z',
        'BTC@2024-09-17T12:00:00Z',
      ])
    }
  })

  it('prints the tick result as JSON with --json', async () => {
    const result = await daemon(['--once', '--json'], fakeFetch(USD))

    expect(result.code).toBe(0)
    const tick = JSON.parse(result.stdout) as TickResult
    expect(tick.started_at).toMatch(ISO_UTC)
    expect(new Date(tick.started_at).toISOString()).toBe('2024-09-17T12:00:00.000Z')
    expect(tick).toEqual({
      started_at: tick.started_at,
      duration_ms: 0,
      organizations: 2,
      symbols: ['BTC', 'ETH'],
      rows_written: 4,
      skipped: [],
    })
  })

  it('keeps every digit CoinGecko sends and fetches each tracked currency', async () => {
    await db.cli(['coins', 'track', 'ETH', '--id', 'ethereum', '--vs', 'eur'])
    const fetch = fakeFetch({ body: fixture('simple-price-multi-currency.json') })

    const result = await daemon(['--once'], fetch)

    expect(result.code).toBe(0)
    expect(fetch.calls[0]?.url.searchParams.get('vs_currencies')).toBe('usd,eur')
    expect((await latest('Acme')).map((p) => [p.symbol, p.price, p.currency])).toEqual([
      ['BTC', '64213.0817302715', 'usd'],
      ['ETH', '2085.9045511873', 'eur'],
    ])
  })

  it('stores no price and exits 0 when there is no organization', async () => {
    await db.cli(['org', 'delete', 'Acme', '--yes'])
    await db.cli(['org', 'delete', 'Globex', '--yes'])

    const result = await daemon(['--once'], fakeFetch(USD))

    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/^stored 0 prices \(.* for 0 organizations\) in 0ms\n$/)
    expect(await db.json(['org', 'list'])).toEqual([])
  })

  it('asks nothing and exits 0 with a warning when no coin is tracked', async () => {
    await db.cli(['coins', 'untrack', 'BTC'])
    await db.cli(['coins', 'untrack', 'ETH'])
    const fetch = fakeFetch(USD)

    const result = await daemon(['--once'], fetch)

    expect(result.code).toBe(0)
    expect(fetch.calls).toEqual([])
    expect(jsonLog(result.stderr)).toEqual([
      expect.objectContaining({ level: 'warn', msg: expect.stringContaining('no coins') }),
    ])
    expect(await history('Acme')).toEqual([])
  })
})

describe('daemon --once with a failing CoinGecko', () => {
  it('exits 5 mentioning the rate limit and writes nothing on 429 with Retry-After', async () => {
    const fetch = fakeFetch({
      status: 429,
      body: fixture('error-429.json'),
      headers: { 'retry-after': '30' },
    })

    const result = await daemon(['--once'], fetch)

    expect(result.code).toBe(5)
    expect(result.stdout).toBe('')
    expect(result.stderr).toBe('cryptorg: CoinGecko rate limit reached; retry after 30s\n')
    expect(await history('Acme')).toEqual([])
    expect(await history('Globex')).toEqual([])
  })

  it('reports the rate limit as ERR_RATE_LIMITED with --json', async () => {
    const fetch = fakeFetch({ status: 429, body: fixture('error-429.json') })

    const result = await daemon(['--once', '--json'], fetch)

    expect(result.code).toBe(5)
    expect(result.stdout).toBe('')
    expect(JSON.parse(result.stderr)).toEqual({
      error: { code: 'ERR_RATE_LIMITED', message: 'CoinGecko rate limit reached' },
    })
  })

  it('exits 5 naming the status and writes nothing on HTTP 500', async () => {
    const result = await daemon(['--once'], fakeFetch({ status: 500, body: '{}' }))

    expect(result.code).toBe(5)
    expect(result.stderr).toBe('cryptorg: CoinGecko answered HTTP 500\n')
    expect(await history('Acme')).toEqual([])
  })

  it('exits 5 and writes nothing when a 200 answer is an HTML page', async () => {
    const html = '<!DOCTYPE html><html><body>Just a moment...</body></html>'
    const headers = { 'content-type': 'text/html; charset=utf-8' }
    const fetch = fakeFetch({ body: html, headers })

    const result = await daemon(['--once'], fetch)

    expect(result.code).toBe(5)
    expect(result.stderr).toBe(
      'cryptorg: CoinGecko sent a body that is not a JSON object (text/html)\n',
    )
    expect(await history('Acme')).toEqual([])
  })

  it('exits 5 when an error answer is an HTML page', async () => {
    const fetch = fakeFetch({
      status: 503,
      body: '<html><body>Service Unavailable</body></html>',
      headers: { 'content-type': 'text/html' },
    })

    const result = await daemon(['--once'], fetch)

    expect(result.code).toBe(5)
    expect(result.stderr).toBe('cryptorg: CoinGecko answered HTTP 503\n')
  })

  it('exits 5 and writes nothing when CoinGecko knows none of the coins', async () => {
    const result = await daemon(
      ['--once'],
      fakeFetch({ body: fixture('simple-price-all-unknown.json') }),
    )

    expect(result.code).toBe(5)
    expect(result.stderr).toContain('cryptorg: CoinGecko sent no usable price')
    expect(result.stderr).toContain('BTC: CoinGecko does not know this coin id')
    expect(await history('Acme')).toEqual([])
  })

  it('exits 5 naming the host when the connection fails', async () => {
    const fetch = fakeFetch(async () => {
      throw new TypeError('fetch failed', {
        cause: Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }),
      })
    })

    const result = await daemon(['--once'], fetch)

    expect(result.code).toBe(5)
    const host = '127.0.0.1:9'
    expect(result.stderr).toBe(`cryptorg: could not reach CoinGecko at ${host}: ECONNREFUSED\n`)
  })

  it('exits 5 when CoinGecko does not answer within CRYPTORG_COINGECKO_TIMEOUT', async () => {
    const never: FetchLike = (_input, init) =>
      new Promise((_resolve, reject) => {
        const signal = init?.signal
        if (!signal) return reject(new Error('no abort signal was given to fetch'))
        signal.addEventListener('abort', () => reject(signal.reason), { once: true })
      })
    const fetch = Object.assign(never, { calls: [], limit: 1 })

    const result = await daemon(['--once'], fetch, {
      env: { CRYPTORG_COINGECKO_TIMEOUT: '100ms' },
    })

    expect(result.code).toBe(5)
    expect(result.stderr).toBe('cryptorg: CoinGecko did not answer within 100ms\n')
  })
})

describe('daemon --once with missing or odd quotes', () => {
  it('stores BTC, skips ETH with a warning and exits 0 when ETH is missing', async () => {
    const fetch = fakeFetch({ body: fixture('simple-price-null-values.json') })

    const result = await daemon(['--once'], fetch)

    expect(result.code).toBe(0)
    expect(result.stdout).toBe('stored 2 prices (BTC for 2 organizations) in 0ms; skipped ETH\n')
    expect(jsonLog(result.stderr)).toEqual([
      expect.objectContaining({
        level: 'warn',
        msg: 'ETH skipped: CoinGecko does not know this coin id',
        symbol: 'ETH',
      }),
    ])
    expect((await latest('Acme')).map((p) => [p.symbol, p.price])).toEqual([
      ['BTC', '64213.0000000000'],
    ])
  })

  it('lists the skipped coin and why in the --json tick result', async () => {
    const fetch = fakeFetch({ body: fixture('simple-price-null-values.json') })

    const result = await daemon(['--once', '--json'], fetch)

    expect(JSON.parse(result.stdout)).toMatchObject({
      symbols: ['BTC'],
      rows_written: 2,
      skipped: [{ symbol: 'ETH', coin_id: 'ethereum', currency: 'usd', problem: 'missing-coin' }],
    })
  })

  it('skips a coin whose price is null and stores the others', async () => {
    const body = JSON.stringify({ bitcoin: { usd: null }, ethereum: { usd: 2318.47 } })

    const result = await daemon(['--once'], fakeFetch({ body }))

    expect(result.code).toBe(0)
    expect(result.stderr).toContain('BTC skipped: CoinGecko sent a null price')
    expect((await latest('Acme')).map((p) => p.symbol)).toEqual(['ETH'])
  })

  it('stores a price sent in exponent notation and skips a coin without a price', async () => {
    await db.cli(['coins', 'untrack', 'ETH'])
    await db.cli(['coins', 'track', 'SLP', '--id', 'sleepy-sample-token'])
    await db.cli(['coins', 'track', 'DLS', '--id', 'delisted-sample-coin'])
    const fetch = fakeFetch({ body: fixture('simple-price-null-values.json') })

    const result = await daemon(['--once'], fetch)

    expect(result.code).toBe(0)
    expect((await latest('Acme')).map((p) => [p.symbol, p.price])).toEqual([
      ['BTC', '64213.0000000000'],
      ['SLP', '0.0000047300'],
    ])
    const log = jsonLog(result.stderr)
    expect(log).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        msg: expect.stringMatching(/^DLS skipped: .*no price/),
      }),
    )
    expect(log).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        msg: expect.stringMatching(/^SLP quote is stale: /),
      }),
    )
  })
})

describe('daemon environment', () => {
  it.each([
    ['COINGECKO_API_PLAN', { COINGECKO_API_PLAN: 'gold' }],
    ['COINGECKO_API_PLAN', { COINGECKO_API_PLAN: 'pro' }],
    ['CRYPTORG_COINGECKO_URL', { CRYPTORG_COINGECKO_URL: 'ftp://x' }],
    ['CRYPTORG_COINGECKO_URL', { CRYPTORG_COINGECKO_URL: 'http://' }],
    ['CRYPTORG_COINGECKO_TIMEOUT', { CRYPTORG_COINGECKO_TIMEOUT: 'abc' }],
    ['CRYPTORG_COINGECKO_TIMEOUT', { CRYPTORG_COINGECKO_TIMEOUT: '50ms' }],
    ['CRYPTORG_COINGECKO_TIMEOUT', { CRYPTORG_COINGECKO_TIMEOUT: '6m' }],
  ])('exits 2 naming %s when it is %o', async (variable, env) => {
    const fetch = fakeFetch(USD)

    const result = await daemon(['--once'], fetch, { env })

    expect(result.code).toBe(2)
    expect(result.stdout).toBe('')
    expect(result.stderr).toMatch(/^cryptorg: /)
    expect(result.stderr).toContain(variable)
    expect(fetch.calls).toEqual([])
    expect(await history('Acme')).toEqual([])
  })

  it('sends COINGECKO_API_KEY in the demo header and never in the URL', async () => {
    const fetch = fakeFetch(USD)

    const result = await daemon(['--once'], fetch, { env: { COINGECKO_API_KEY: API_KEY } })

    expect(result.code).toBe(0)
    const { url, headers } = fetch.calls[0]!
    expect(headers.get('x-cg-demo-api-key')).toBe(API_KEY)
    expect(headers.has('x-cg-pro-api-key')).toBe(false)
    expect(url.href).not.toContain(API_KEY)
  })

  it('sends the key in the pro header with COINGECKO_API_PLAN=pro', async () => {
    const fetch = fakeFetch(USD)

    const result = await daemon(['--once'], fetch, {
      env: { COINGECKO_API_KEY: API_KEY, COINGECKO_API_PLAN: 'PRO' },
    })

    expect(result.code).toBe(0)
    expect(fetch.calls[0]?.headers.get('x-cg-pro-api-key')).toBe(API_KEY)
    expect(fetch.calls[0]?.headers.has('x-cg-demo-api-key')).toBe(false)
  })

  it('blanks the API key when CoinGecko echoes it in an error message', async () => {
    const body = JSON.stringify({
      status: { error_code: 10002, error_message: `key ${API_KEY} is not valid` },
    })
    const fetch = fakeFetch({ status: 401, body })

    const result = await daemon(['--once'], fetch, { env: { COINGECKO_API_KEY: API_KEY } })

    expect(result.code).toBe(5)
    expect(result.stderr).toContain('key [redacted] is not valid')
    expect(result.stderr).not.toContain(API_KEY)
  })

  it.each([[[]], [['--verbose']], [['--json']]])(
    'never prints the API key when CoinGecko refuses it with 401 (extra flags %j)',
    async (flags) => {
      const fetch = fakeFetch({ status: 401, body: fixture('error-401-bad-key.json') })

      const result = await daemon(['--once', ...flags], fetch, {
        env: { COINGECKO_API_KEY: API_KEY },
      })

      expect(result.code).toBe(5)
      expect(fetch.calls[0]?.headers.get('x-cg-demo-api-key')).toBe(API_KEY)
      expect(result.stderr).toContain('CoinGecko refused the API key')
      expect(result.stderr).toContain('COINGECKO_API_KEY')
      expect(result.stdout).not.toContain(API_KEY)
      expect(result.stderr).not.toContain(API_KEY)
    },
  )
})

describe('daemon environment: values refused before any request', () => {
  /** A fetch that records every attempt, whatever its URL, and sends nothing. */
  function attemptRecorder() {
    const attempts: string[] = []
    const fetch: FetchLike = async (input) => {
      attempts.push(input instanceof Request ? input.url : String(input))
      throw new Error('this test allows no request')
    }
    return { attempts, fetch }
  }

  it.each([[[]], [['--verbose']], [['--json']]])(
    'exits 2 without echoing an API key that contains a newline (extra flags %j)',
    async (flags) => {
      const { attempts, fetch } = attemptRecorder()

      const result = await db.cli(['daemon', '--once', ...flags], {
        clock,
        fetch,
        env: { ...ENV, COINGECKO_API_KEY: 'SECRET\nX: 1' },
      })

      expect(result.code).toBe(2)
      expect(result.stderr).toContain('COINGECKO_API_KEY')
      expect(result.stdout).not.toContain('SECRET')
      expect(result.stderr).not.toContain('SECRET')
      expect(attempts).toEqual([])
    },
  )

  it('exits 2 without echoing an API key that contains a non-ASCII character', async () => {
    const { attempts, fetch } = attemptRecorder()

    const result = await db.cli(['daemon', '--once'], {
      clock,
      fetch,
      env: { ...ENV, COINGECKO_API_KEY: 'SECRET\u00e9' },
    })

    expect(result.code).toBe(2)
    expect(result.stderr).toContain('COINGECKO_API_KEY')
    expect(result.stderr).not.toContain('SECRET')
    expect(attempts).toEqual([])
  })

  it.each(['', '   '])(
    'exits 2 saying CRYPTORG_COINGECKO_URL is set but empty when it is %j',
    async (url) => {
      const { attempts, fetch } = attemptRecorder()

      const result = await db.cli(['daemon', '--once'], {
        clock,
        fetch,
        env: { CRYPTORG_COINGECKO_URL: url },
      })

      expect(result.code).toBe(2)
      expect(result.stdout).toBe('')
      expect(result.stderr).toBe('cryptorg: CRYPTORG_COINGECKO_URL is set but empty\n')
      expect(attempts).toEqual([])
      expect(await history('Acme')).toEqual([])
    },
  )

  it.each([
    ['a password', 'http://user:PASSWORDXYZ@127.0.0.1:9/api/v3'],
    ['a query', 'http://127.0.0.1:9/api/v3?x=1'],
    ['a fragment', 'http://127.0.0.1:9/api/v3#f'],
  ])('exits 2 without a request when CRYPTORG_COINGECKO_URL has %s', async (_, url) => {
    const { attempts, fetch } = attemptRecorder()

    const result = await db.cli(['daemon', '--once'], {
      clock,
      fetch,
      env: { CRYPTORG_COINGECKO_URL: url },
    })

    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/^cryptorg: CRYPTORG_COINGECKO_URL must not contain /)
    expect(result.stderr).not.toContain('PASSWORDXYZ')
    expect(attempts).toEqual([])
  })
})

describe('daemon --interval', () => {
  it.each([
    ['500ms', /interval must be (at least|from) 1s/],
    ['abc', /interval must be a duration/],
    ['0s', /interval must be (at least|from) 1s/],
    ['', /interval must be a duration/],
  ])('exits 2 without fetching when the interval is %j', async (interval, message) => {
    const fetch = fakeFetch(USD)

    const result = await daemon(['--interval', interval], fetch)

    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(message)
    expect(fetch.calls).toEqual([])
  })
})

describe('daemon --interval longer than a day', () => {
  it.each(['25d', '2d', '24h1s'])(
    'exits 2 without fetching when the interval is %s',
    async (interval) => {
      const fetch = fakeFetch(USD)

      const result = await runLoop(1, ['--interval', interval], fetch).run

      expect(result.code).toBe(2)
      expect(result.stderr).toMatch(/^cryptorg: interval must be from 1s to 1d, got /)
      expect(fetch.calls).toEqual([])
    },
  )

  it('accepts an interval of exactly one day', async () => {
    const fetch = fakeFetch(USD)

    const result = await runLoop(1, ['--interval', '1d', '--json'], fetch).run

    expect(result.code).toBe(0)
    expect(JSON.parse(result.stdout)).toEqual({ ticks: 1, failures: 0 })
  })
})

/**
 * Stands in for the timer and the signal handler: each sleep moves the clock on, and the first
 * sleep after `fetch` has answered `stopAfter` requests (ticks) sends SIGTERM. How the loop
 * slices its waits is its own business; only ticks are counted.
 */
function loopControls(stopAfter: number, fetch: FakeFetch) {
  let trigger: ((signal: string) => void) | undefined
  let sleeps = 0
  const state = { stoppedBy: undefined as AbortSignal | undefined }
  const sleep: Sleep = async (ms, signal) => {
    // A loop that ignores SIGTERM fails the test instead of spinning forever.
    if (++sleeps > 1000) throw new Error('the daemon loop did not stop')
    if (!(signal instanceof AbortSignal)) throw new Error('sleep was called without a signal')
    clock.advance(ms)
    if (fetch.calls.length >= stopAfter && !state.stoppedBy) {
      if (!trigger) throw new Error('the daemon registered no shutdown handler')
      state.stoppedBy = signal
      trigger('SIGTERM')
    }
  }
  const onShutdown = (handler: (signal: string) => void) => {
    trigger = handler
  }
  return { sleep, onShutdown, state }
}

/** Starts `daemon` with `argv` and stops it with SIGTERM after `ticks` ticks. */
function runLoop(ticks: number, argv: string[], fetch: FakeFetch, options: RunCliOptions = {}) {
  const controls = loopControls(ticks, fetch)
  fetch.limit = ticks + 5
  const run = daemon(argv, fetch, { ...options, ...controls })
  return { run, controls }
}

const minutesAfterNoon = (call: FetchCall | undefined) =>
  call === undefined ? undefined : (call.at - Date.parse('2024-09-17T12:00:00Z')) / 60_000

describe('daemon loop', () => {
  it('ticks every interval until SIGTERM and exits 0', async () => {
    const fetch = fakeFetch(USD)

    const result = await runLoop(3, [], fetch).run

    expect(result.code).toBe(0)
    expect(result.stdout).toBe('')
    expect(fetch.calls.map(minutesAfterNoon)).toEqual([0, 5, 10])
    for (const org of ['Acme', 'Globex']) {
      const rows = await history(org)
      expect(rows).toHaveLength(6)
      expect(new Set(rows.map((p) => p.timestamp))).toEqual(
        new Set(['2024-09-17T12:00:00Z', '2024-09-17T12:05:00Z', '2024-09-17T12:10:00Z']),
      )
    }
  })

  it('writes one JSON object per log line on stderr, with a line per tick', async () => {
    const result = await runLoop(2, [], fakeFetch(USD)).run

    const log = jsonLog(result.stderr)
    for (const entry of log) {
      expect(entry).toEqual(
        expect.objectContaining({
          ts: expect.stringMatching(/^2024-09-17T\d\d:\d\d:\d\d\.\d{3}Z$/),
          level: expect.stringMatching(/^(debug|info|warn|error)$/),
          msg: expect.any(String),
        }),
      )
    }
    const messages = log.map((entry) => String(entry['msg']))
    expect(messages[0]).toBe('daemon started: BTC, ETH every 5m')
    expect(messages).toContain('SIGTERM received; stopping after the current tick')
    expect(messages.at(-1)).toBe('daemon stopped after 2 tick(s), 0 failed')
    const ticks = log.filter((entry) => String(entry['msg']).startsWith('stored'))
    expect(ticks.map((entry) => [entry['ts'], entry['msg'], entry['rows']])).toEqual([
      ['2024-09-17T12:00:00.000Z', 'stored 4 prices (BTC, ETH for 2 organizations) in 0ms', 4],
      ['2024-09-17T12:05:00.000Z', 'stored 4 prices (BTC, ETH for 2 organizations) in 0ms', 4],
    ])
    expect(ticks[0]).toMatchObject({ level: 'info', symbols: ['BTC', 'ETH'], organizations: 2 })
  })

  it('aborts the signal given to sleep when SIGTERM arrives', async () => {
    const { run, controls } = runLoop(2, [], fakeFetch(USD))

    expect((await run).code).toBe(0)
    expect(controls.state.stoppedBy?.aborted).toBe(true)
  })

  it('prints the loop summary as JSON on stdout with --json', async () => {
    const result = await runLoop(3, ['--json'], fakeFetch(USD)).run

    expect(result.code).toBe(0)
    expect(JSON.parse(result.stdout)).toEqual({ ticks: 3, failures: 0 })
  })

  it('logs a failed tick, goes on and exits 0', async () => {
    const fetch = fakeFetch({ status: 500, body: '{}' }, USD)

    const result = await runLoop(3, ['--json'], fetch).run

    expect(result.code).toBe(0)
    expect(JSON.parse(result.stdout)).toEqual({ ticks: 3, failures: 1 })
    expect(jsonLog(result.stderr)).toContainEqual(
      expect.objectContaining({
        level: 'error',
        msg: expect.stringMatching(/^tick failed: CoinGecko answered HTTP 500\b/),
        code: 'ERR_UPSTREAM',
      }),
    )
    expect(await history('Acme')).toHaveLength(4)
  })

  it('waits as long as Retry-After asks when it is longer than the interval', async () => {
    const fetch = fakeFetch(
      { status: 429, body: fixture('error-429.json'), headers: { 'retry-after': '600' } },
      USD,
    )

    const result = await runLoop(2, ['--interval', '1m'], fetch).run

    expect(result.code).toBe(0)
    const [limited, next] = fetch.calls.map(minutesAfterNoon)
    expect(limited).toBe(0)
    // Not before CoinGecko allows it, and not more than one interval later.
    expect(next).toBeGreaterThanOrEqual(10)
    expect(next).toBeLessThanOrEqual(11)
    expect(jsonLog(result.stderr)).toContainEqual(
      expect.objectContaining({
        level: 'error',
        msg: expect.stringMatching(/^tick failed: CoinGecko rate limit reached; retry after 600s/),
        code: 'ERR_RATE_LIMITED',
      }),
    )
  })

  it('warns when the interval is shorter than a minute', async () => {
    const fetch = fakeFetch(USD)

    const result = await runLoop(2, ['--interval', '30s'], fetch).run

    expect(result.code).toBe(0)
    expect(fetch.calls.map(minutesAfterNoon)).toEqual([0, 0.5])
    expect(jsonLog(result.stderr)).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        msg: expect.stringContaining('shorter than a minute'),
      }),
    )
  })

  it('writes short human lines with --log-format human', async () => {
    const result = await runLoop(1, ['--log-format', 'human'], fakeFetch(USD)).run

    expect(result.code).toBe(0)
    const log = lines(result.stderr)
    expect(log[0]).toBe('12:00:00 daemon started: BTC, ETH every 5m')
    expect(log).toContain('12:00:00 stored 4 prices (BTC, ETH for 2 organizations) in 0ms')
    expect(log.at(-1)).toMatch(/^\d\d:\d\d:\d\d daemon stopped after 1 tick\(s\), 0 failed$/)
    for (const line of log) {
      expect(line).toMatch(/^\d\d:\d\d:\d\d \S/)
      expect(() => JSON.parse(line)).toThrow()
    }
  })

  it('writes human lines by default when stderr is a terminal', async () => {
    const result = await runLoop(1, [], fakeFetch(USD), { interactive: true }).run

    expect(lines(result.stderr)[0]).toBe('12:00:00 daemon started: BTC, ETH every 5m')
  })

  it('writes JSON lines on a terminal with --log-format json', async () => {
    const result = await runLoop(1, ['--log-format', 'json'], fakeFetch(USD), {
      interactive: true,
    }).run

    expect(jsonLog(result.stderr)[0]).toMatchObject({ msg: 'daemon started: BTC, ETH every 5m' })
  })

  it('exits 2 without fetching with --log-format xml', async () => {
    const fetch = fakeFetch(USD)

    const result = await runLoop(1, ['--log-format', 'xml'], fetch).run

    expect(result.code).toBe(2)
    expect(result.stdout).toBe('')
    expect(result.stderr).toMatch(/^cryptorg: --log-format must be human, .*got "xml"\n$/)
    expect(fetch.calls).toEqual([])
  })

  it('stops without ticking when SIGTERM arrives before the first tick', async () => {
    const fetch = fakeFetch(USD)

    const result = await daemon(['--json'], fetch, {
      onShutdown: (trigger) => trigger('SIGTERM'),
      sleep: async () => {
        throw new Error('the daemon slept after SIGTERM')
      },
    })

    expect(result.code).toBe(0)
    expect(fetch.calls).toEqual([])
    expect(JSON.parse(result.stdout)).toEqual({ ticks: 0, failures: 0 })
    expect(await history('Acme')).toEqual([])
  })

  it('never logs the API key, even when CoinGecko refuses it', async () => {
    const fetch = fakeFetch({ status: 401, body: fixture('error-401-bad-key.json') })

    const result = await runLoop(2, ['--verbose'], fetch, {
      env: { COINGECKO_API_KEY: API_KEY },
    }).run

    expect(result.code).toBe(0)
    expect(fetch.calls).toHaveLength(2)
    expect(result.stderr).toContain('refused the API key')
    expect(result.stderr).not.toContain(API_KEY)
    expect(result.stdout).not.toContain(API_KEY)
  })

  /** Answers the first request, then hides tracked_coins so that the next tick cannot read it. */
  function breakAfterFirstTick(): FakeFetch {
    return fakeFetch(async () => {
      await alterBehindTheBack(db.path, 'alter table tracked_coins rename to tracked_coins_gone')
      return USD
    })
  }

  it('ends the log with a JSON line and exits 1 when storage fails', async () => {
    const fetch = breakAfterFirstTick()

    const result = await runLoop(5, ['--log-format', 'json'], fetch).run

    expect(result.code).toBe(1)
    expect(result.stdout).toBe('')
    expect(fetch.calls).toHaveLength(1)
    const log = lines(result.stderr)
    expect(log.filter((line) => line.startsWith('cryptorg:'))).toEqual([])
    const entries = jsonLog(result.stderr)
    expect(entries.at(-1)).toMatchObject({
      level: 'error',
      msg: expect.stringMatching(/^daemon stopped: /),
      code: 'ERR_STORAGE',
    })
    expect(String(entries.at(-1)?.['msg'])).toMatch(MISSING_TABLE('tracked_coins'))
  })

  it('still prints the JSON error object when storage fails with --json', async () => {
    const fetch = breakAfterFirstTick()

    const result = await runLoop(5, ['--json', '--log-format', 'json'], fetch).run

    expect(result.code).toBe(1)
    expect(result.stdout).toBe('')
    const entries = jsonLog(result.stderr)
    const last = entries.at(-1) as { error?: { code: string; message: string } }
    expect(last.error?.code).toBe('ERR_STORAGE')
    expect(last.error?.message).toMatch(MISSING_TABLE('tracked_coins'))
    expect(entries.at(-2)).toMatchObject({
      level: 'error',
      msg: expect.stringMatching(/^daemon stopped: /),
    })
    expect(lines(result.stderr).filter((line) => line.startsWith('cryptorg:'))).toEqual([])
  })
})
