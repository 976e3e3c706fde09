import { join } from 'node:path'

import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'

import {
  type Cryptorg,
  type OpenOptions,
  type TickResult,
  describeTick,
  open,
} from '../../src/index.js'
import { TEST_BACKEND } from '../helpers/backend.js'
import { alterBehindTheBack, queryRows } from '../helpers/db-rows.js'
import { type FakeClock, fakeClock } from '../helpers/fake-clock.js'
import {
  type MockCoinGecko,
  type MockResponse,
  startMockCoinGecko,
} from '../helpers/mock-coingecko.js'
import { tempDir } from '../helpers/open-test-db.js'
import { recordingLogger } from '../helpers/recording-logger.js'

const START = '2024-09-17T12:05:00.000Z'

let mock: MockCoinGecko
let clock: FakeClock
let c: Cryptorg

beforeAll(async () => {
  mock = await startMockCoinGecko()
})

afterAll(async () => {
  await mock.close()
})

beforeEach(() => {
  mock.reset()
  clock = fakeClock(START)
})

afterEach(async () => {
  await c?.close()
})

function openWithMock(options: Partial<OpenOptions> = {}): Promise<Cryptorg> {
  return open({
    databasePath: ':memory:',
    clock,
    ...options,
    coingecko: { baseUrl: mock.url, ...options.coingecko },
  })
}

async function allRows(orgs: string[]) {
  const rows = await Promise.all(orgs.map((org) => c.system.prices.history(org, { limit: 10_000 })))
  return rows.flat()
}

describe('poller.tick', () => {
  it('stores a row per organization and coin, all at the tick start time', async () => {
    c = await openWithMock()
    const acme = await c.system.orgs.create('Acme')
    const globex = await c.system.orgs.create('Globex')

    const result = await c.poller.tick()

    expect(result).toEqual({
      started_at: '2024-09-17T12:05:00Z',
      duration_ms: 0,
      organizations: 2,
      symbols: ['BTC', 'ETH'],
      rows_written: 4,
      skipped: [],
    })
    const rows = await allRows(['Acme', 'Globex'])
    expect(rows).toHaveLength(4)
    expect(new Set(rows.map((r) => r.timestamp))).toEqual(new Set([result.started_at]))
    for (const org of [acme, globex]) {
      const latest = await c.system.prices.latest(org.id)
      expect(latest.map((p) => [p.org_id, p.symbol, p.price, p.currency, p.source])).toEqual([
        [org.id, 'BTC', '64213.0000000000', 'usd', 'coingecko'],
        [org.id, 'ETH', '2318.4700000000', 'usd', 'coingecko'],
      ])
    }
  })

  it('asks CoinGecko once for all tracked coins', async () => {
    c = await openWithMock()
    await c.system.orgs.create('Acme')
    await c.poller.tick()
    expect(mock.requests).toHaveLength(1)
    expect(mock.requests[0]?.query).toMatchObject({ ids: 'bitcoin,ethereum', vs_currencies: 'usd' })
  })

  it('sends the configured API key in its header', async () => {
    c = await openWithMock({ coingecko: { apiKey: 'CG-demo-key' } })
    await c.system.orgs.create('Acme')
    await c.poller.tick()
    expect(mock.requests[0]?.headers['x-cg-demo-api-key']).toBe('CG-demo-key')
    expect(mock.requests[0]?.url).not.toContain('CG-demo-key')
  })

  it('stamps every row with the start time even when the clock moves during the tick', async () => {
    clock = fakeClock(START, 250)
    c = await openWithMock()
    await c.system.orgs.create('Acme')
    await c.system.orgs.create('Globex')
    const startsAt = new Date(clock.ms())
    const result = await c.poller.tick()
    const rows = await allRows(['Acme', 'Globex'])
    expect(result.started_at).toBe(startsAt.toISOString())
    expect(result.duration_ms).toBeGreaterThan(0)
    const stamps = rows.map((r) => new Date(r.timestamp).toISOString())
    expect(stamps).toEqual(Array(4).fill(result.started_at))
  })

  it('stores CoinGecko quote times alongside the prices', async () => {
    const dir = tempDir()
    try {
      const databasePath = join(dir.path, 'prices.db')
      c = await openWithMock({ databasePath })
      await c.system.orgs.create('Acme')
      await c.poller.tick()
      await c.close()
      const rows = await queryRows(
        databasePath,
        'select symbol, quoted_at from crypto_prices order by symbol',
      )
      expect(rows).toEqual([
        { symbol: 'BTC', quoted_at: '2024-09-17T12:00:31.000Z' },
        { symbol: 'ETH', quoted_at: '2024-09-17T12:00:49.000Z' },
      ])
    } finally {
      dir.remove()
    }
  })

  it('succeeds and writes nothing when there are no organizations', async () => {
    c = await openWithMock()
    const result = await c.poller.tick()
    expect(result).toMatchObject({ organizations: 0, rows_written: 0, skipped: [] })
    await c.system.orgs.create('Acme')
    expect(await c.system.prices.history('Acme')).toEqual([])
  })

  it('succeeds without asking CoinGecko when there are no organizations', async () => {
    const logger = recordingLogger()
    c = await openWithMock({ logger })
    const result = await c.poller.tick()
    expect(result).toMatchObject({ organizations: 0, rows_written: 0, symbols: [] })
    expect(mock.requests).toHaveLength(0)
    expect(logger.messages('warn')).toContain('there are no organizations; nothing to fetch')
  })

  it('succeeds without asking CoinGecko when no coins are tracked', async () => {
    const logger = recordingLogger()
    c = await openWithMock({ logger })
    await c.system.orgs.create('Acme')
    await c.system.coins.untrack('BTC')
    await c.system.coins.untrack('ETH')
    const result = await c.poller.tick()
    expect(result).toEqual({
      started_at: '2024-09-17T12:05:00Z',
      duration_ms: 0,
      organizations: 1,
      symbols: [],
      rows_written: 0,
      skipped: [],
    })
    expect(mock.requests).toHaveLength(0)
    expect(await c.system.prices.history('Acme')).toEqual([])
    expect(logger.messages('warn')).toContain('no coins are tracked; nothing to fetch')
  })

  it('stores the usable quotes and reports the skipped ones', async () => {
    const logger = recordingLogger()
    c = await openWithMock({ logger })
    await c.system.orgs.create('Acme')
    await c.system.orgs.create('Globex')
    await c.system.coins.track({ symbol: 'SOL', coinId: 'solana' })

    const result = await c.poller.tick()

    expect(mock.requests[0]?.query['ids']).toBe('bitcoin,ethereum,solana')
    expect(result.rows_written).toBe(4)
    expect(result.symbols).toEqual(['BTC', 'ETH'])
    expect(result.skipped).toHaveLength(1)
    expect(result.skipped[0]).toEqual({
      symbol: 'SOL',
      coin_id: 'solana',
      currency: 'usd',
      problem: 'missing-coin',
      reason: 'CoinGecko does not know this coin id',
    })
    const rows = await allRows(['Acme', 'Globex'])
    expect(rows.map((r) => r.symbol).sort()).toEqual(['BTC', 'BTC', 'ETH', 'ETH'])
    expect(logger.messages('warn')).toContain('SOL skipped: CoinGecko does not know this coin id')
  })

  it('stores a tiny price exactly and skips a coin without a price', async () => {
    mock.setFallback({ fixture: 'simple-price-null-values' })
    c = await openWithMock()
    await c.system.orgs.create('Acme')
    await c.system.coins.untrack('ETH')
    await c.system.coins.track({ symbol: 'SLEEPY', coinId: 'sleepy-sample-token' })
    await c.system.coins.track({ symbol: 'GONE', coinId: 'delisted-sample-coin' })

    const result = await c.poller.tick()

    expect(result.skipped.map((s) => [s.symbol, s.problem])).toEqual([['GONE', 'missing-price']])
    const latest = await c.system.prices.latest('Acme')
    expect(latest.map((p) => [p.symbol, p.price])).toEqual([
      ['BTC', '64213.0000000000'],
      ['SLEEPY', '0.0000047300'],
    ])
  })

  it('stores prices in the quote currency of each coin', async () => {
    mock.setFallback({ fixture: 'simple-price-multi-currency' })
    c = await openWithMock()
    await c.system.orgs.create('Acme')
    await c.system.coins.track({ symbol: 'BTC', coinId: 'bitcoin', vsCurrency: 'eur' })
    await c.poller.tick()
    expect(mock.requests[0]?.query['vs_currencies']).toBe('eur,usd')
    const latest = await c.system.prices.latest('Acme')
    expect(latest.map((p) => [p.symbol, p.price, p.currency])).toEqual([
      ['BTC', '57771.9932518004', 'eur'],
      ['ETH', '2318.4712266091', 'usd'],
    ])
  })

  it('warns about a stale quote and still stores it', async () => {
    clock.set('2024-09-17T14:00:00.000Z')
    const logger = recordingLogger()
    c = await openWithMock({ logger })
    await c.system.orgs.create('Acme')
    const result = await c.poller.tick()
    expect(result.rows_written).toBe(2)
    expect(logger.messages('warn')).toEqual([
      'BTC quote is stale: CoinGecko last updated it 1h59m29s ago',
      'ETH quote is stale: CoinGecko last updated it 1h59m11s ago',
    ])
  })

  it('does not warn about quotes less than an hour old', async () => {
    const logger = recordingLogger()
    c = await openWithMock({ logger })
    await c.system.orgs.create('Acme')
    await c.poller.tick()
    expect(logger.messages('warn')).toEqual([])
  })

  it('keeps manual prices and adds tick prices beside them', async () => {
    c = await openWithMock()
    await c.system.orgs.create('Acme')
    const manual = await c.system.prices.add({ org: 'Acme', symbol: 'BTC', price: '1' })
    clock.advance(1000)
    await c.poller.tick()
    const history = await c.system.prices.history('Acme', { symbol: 'BTC' })
    expect(history.map((p) => p.source)).toEqual(['coingecko', 'manual'])
    expect(history[1]).toEqual(manual)
  })

  it('returns ERR_UPSTREAM and writes nothing when no quote is usable', async () => {
    mock.setFallback({ fixture: 'simple-price-all-unknown' })
    c = await openWithMock()
    await c.system.orgs.create('Acme')
    await expect(c.poller.tick()).rejects.toMatchObject({
      code: 'ERR_UPSTREAM',
      message:
        'CoinGecko sent no usable price (BTC: CoinGecko does not know this coin id; ' +
        'ETH: CoinGecko does not know this coin id)',
    })
    expect(await allRows(['Acme'])).toEqual([])
  })

  it.each<[string, MockResponse, string]>([
    [
      'HTTP 429',
      { status: 429, headers: { 'retry-after': '60' }, fixture: 'error-429' },
      'ERR_RATE_LIMITED',
    ],
    ['HTTP 500', { status: 500, body: 'boom', contentType: 'text/plain' }, 'ERR_UPSTREAM'],
    ['HTTP 401', { status: 401, fixture: 'error-401-bad-key' }, 'ERR_UPSTREAM'],
    ['malformed JSON', { body: '{"bitcoin": {"usd": 1' }, 'ERR_UPSTREAM'],
    ['an HTML page', { body: '<html></html>', contentType: 'text/html' }, 'ERR_UPSTREAM'],
    ['a dropped connection', { hangUp: true }, 'ERR_UPSTREAM'],
  ])('throws and writes nothing when CoinGecko answers with %s', async (_, answer, code) => {
    mock.enqueue(answer)
    c = await openWithMock()
    await c.system.orgs.create('Acme')
    await c.system.orgs.create('Globex')
    await expect(c.poller.tick()).rejects.toMatchObject({ code })
    expect(await allRows(['Acme', 'Globex'])).toEqual([])
  })

  it('throws ERR_UPSTREAM and writes nothing when CoinGecko outlasts the timeout', async () => {
    mock.enqueue({ fixture: 'simple-price-usd', delayMs: 2000 })
    c = await openWithMock({ coingecko: { timeoutMs: 100 } })
    await c.system.orgs.create('Acme')
    await expect(c.poller.tick()).rejects.toMatchObject({
      code: 'ERR_UPSTREAM',
      message: 'CoinGecko did not answer within 100ms',
    })
    expect(await allRows(['Acme'])).toEqual([])
  })

  it('throws ERR_UPSTREAM and writes nothing when the signal aborts the request', async () => {
    mock.enqueue({ fixture: 'simple-price-usd', delayMs: 2000 })
    c = await openWithMock()
    await c.system.orgs.create('Acme')
    const controller = new AbortController()
    const tick = c.poller.tick(controller.signal)
    await mock.waitForRequests(1)
    controller.abort()
    await expect(tick).rejects.toMatchObject({
      code: 'ERR_UPSTREAM',
      message: 'CoinGecko request was cancelled',
    })
    expect(await allRows(['Acme'])).toEqual([])
  })

  it('rolls back every row of the tick when a later insert fails', async () => {
    const dir = tempDir()
    try {
      const databasePath = join(dir.path, 'prices.db')
      c = await openWithMock({ databasePath })
      await c.system.orgs.create('Acme')
      await c.system.orgs.create('Globex')
      await c.close()

      // Fails the ETH insert, but only once the BTC rows of the same tick are in the table:
      // the tick must then leave neither.
      await alterBehindTheBack(
        databasePath,
        TEST_BACKEND === 'postgres'
          ? `create function fail_second_symbol() returns trigger language plpgsql as $$
             begin
               if new.symbol = 'ETH' and (select count(*) from crypto_prices where symbol = 'BTC') > 0
               then raise exception 'injected failure'; end if;
               return new;
             end $$;
             create trigger fail_second_symbol before insert on crypto_prices
             for each row execute function fail_second_symbol()`
          : `create trigger fail_second_symbol before insert on crypto_prices
             when new.symbol = 'ETH' and (select count(*) from crypto_prices where symbol = 'BTC') > 0
             begin select raise(abort, 'injected failure'); end`,
      )

      c = await openWithMock({ databasePath })
      await expect(c.poller.tick()).rejects.toMatchObject({
        code: 'ERR_STORAGE',
        message: 'could not store the prices: injected failure',
      })
      expect(await allRows(['Acme', 'Globex'])).toEqual([])
      await c.close()

      const [count] = await queryRows<{ n: number }>(
        databasePath,
        'select count(*) as n from crypto_prices',
      )
      expect(Number(count?.n)).toBe(0)
      await alterBehindTheBack(
        databasePath,
        TEST_BACKEND === 'postgres'
          ? 'drop trigger fail_second_symbol on crypto_prices'
          : 'drop trigger fail_second_symbol',
      )

      c = await openWithMock({ databasePath })
      expect((await c.poller.tick()).rows_written).toBe(4)
    } finally {
      await c.close()
      dir.remove()
    }
  })
})

describe('describeTick', () => {
  const base: TickResult = {
    started_at: START,
    duration_ms: 1500,
    organizations: 2,
    symbols: ['BTC', 'ETH'],
    rows_written: 4,
    skipped: [],
  }

  it('says how many prices were stored for which symbols and organizations', () => {
    expect(describeTick(base)).toBe('stored 4 prices (BTC, ETH for 2 organizations) in 1.5s')
  })

  it('uses the singular for one price and one organization', () => {
    expect(describeTick({ ...base, organizations: 1, symbols: ['BTC'], rows_written: 1 })).toBe(
      'stored 1 price (BTC for 1 organization) in 1.5s',
    )
  })

  it('says when no symbol was stored', () => {
    expect(
      describeTick({ ...base, organizations: 0, symbols: [], rows_written: 0, duration_ms: 3 }),
    ).toBe('stored 0 prices (no symbols for 0 organizations) in 3ms')
  })

  it('lists the skipped symbols', () => {
    const skipped = [
      {
        symbol: 'SOL',
        coin_id: 'solana',
        currency: 'usd',
        problem: 'missing-coin' as const,
        reason: 'x',
      },
    ]
    expect(describeTick({ ...base, skipped })).toBe(
      'stored 4 prices (BTC, ETH for 2 organizations) in 1.5s; skipped SOL',
    )
  })
})
