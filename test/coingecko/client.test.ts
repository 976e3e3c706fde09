import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'

import {
  COINGECKO_PRO_URL,
  COINGECKO_PUBLIC_URL,
  type CoinGeckoOptions,
  DEFAULT_COINGECKO_TIMEOUT_MS,
  MAX_BODY_BYTES,
  createCoinGeckoClient,
} from '../../src/coingecko/client.js'
import type { QuoteRequest } from '../../src/coingecko/quotes.js'
import type { FetchLike } from '../../src/deps.js'
import { CryptorgError } from '../../src/errors.js'
import { validationFailure } from '../helpers/errors.js'
import { fakeClock } from '../helpers/fake-clock.js'
import {
  type FixtureName,
  type MockCoinGecko,
  readFixture,
  refusedUrl,
  startMockCoinGecko,
} from '../helpers/mock-coingecko.js'
import { noNetworkFetch } from '../helpers/open-test-db.js'

const SECRET = 'CG-s3cr3t-k3y-value'
const BTC_ETH_USD: QuoteRequest[] = [
  { coinId: 'bitcoin', currency: 'usd' },
  { coinId: 'ethereum', currency: 'usd' },
]

/** A fake fetch answering every call with `respond`, recording URL and headers. */
function fakeFetch(respond: () => Response | Promise<Response>) {
  const calls: { url: URL; headers: Headers; method: string }[] = []
  const fetch: FetchLike = async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input))
    calls.push({ url, headers: new Headers(init?.headers), method: init?.method ?? 'GET' })
    return respond()
  }
  return Object.assign(fetch, { calls })
}

function jsonResponse(body: string, status = 200, headers: Record<string, string> = {}) {
  return new Response(body, {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  })
}

function failure(promise: Promise<unknown>): Promise<CryptorgError> {
  return promise.then(
    () => {
      throw new Error('expected the request to fail')
    },
    (error: unknown) => {
      expect(error).toBeInstanceOf(CryptorgError)
      return error as CryptorgError
    },
  )
}

describe('createCoinGeckoClient options', () => {
  const LOOPBACK = 'http://127.0.0.1:9/api/v3'
  const BAD_URL = 'CoinGecko URL must be an http or https URL, got '
  const BAD_TIMEOUT = 'CoinGecko timeout must be 100 ms to 5 min, got '
  const deps = { fetch: noNetworkFetch, clock: fakeClock() }

  it.each([
    [{ plan: 'gold' as 'pro' }, 'plan', 'CoinGecko plan must be demo or pro, got "gold"'],
    [{ plan: 'pro' as const }, 'apiKey', 'the CoinGecko pro plan needs an API key'],
    [{ plan: 'pro' as const, apiKey: '   ' }, 'apiKey', 'the CoinGecko pro plan needs an API key'],
    [{ baseUrl: 'ftp://x' }, 'baseUrl', `${BAD_URL}"ftp://x"`],
    [{ baseUrl: 'not a url' }, 'baseUrl', `${BAD_URL}"not a url"`],
    [{ baseUrl: '' }, 'baseUrl', `${BAD_URL}""`],
    [{ baseUrl: LOOPBACK, timeoutMs: 99 }, 'timeoutMs', `${BAD_TIMEOUT}99`],
    [{ baseUrl: LOOPBACK, timeoutMs: 300_001 }, 'timeoutMs', `${BAD_TIMEOUT}300001`],
    [{ baseUrl: LOOPBACK, timeoutMs: 150.5 }, 'timeoutMs', `${BAD_TIMEOUT}150.5`],
  ])('returns ERR_VALIDATION for %j', (options: CoinGeckoOptions, field, message) => {
    try {
      createCoinGeckoClient(options, deps)
    } catch (error) {
      expect(error).toMatchObject({ code: 'ERR_VALIDATION', message, details: { field } })
      return
    }
    throw new Error('expected a validation error')
  })

  it('does not echo the API key when the plan is invalid', () => {
    expect(() => createCoinGeckoClient({ plan: 'gold' as 'pro', apiKey: SECRET }, deps)).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining(SECRET) }),
    )
  })

  it('uses the public URL when no plan and no base URL are given', () => {
    expect(createCoinGeckoClient({}, deps).baseUrl).toBe(COINGECKO_PUBLIC_URL)
    expect(COINGECKO_PUBLIC_URL).toBe('https://api.coingecko.com/api/v3')
  })

  it('uses the public URL for the demo plan', () => {
    expect(createCoinGeckoClient({ apiKey: SECRET }, deps).baseUrl).toBe(COINGECKO_PUBLIC_URL)
  })

  it('uses the pro URL for the pro plan', () => {
    const client = createCoinGeckoClient({ plan: 'pro', apiKey: SECRET }, deps)
    expect(client.baseUrl).toBe(COINGECKO_PRO_URL)
    expect(COINGECKO_PRO_URL).toBe('https://pro-api.coingecko.com/api/v3')
  })

  it('strips trailing slashes and spaces from the base URL', () => {
    const client = createCoinGeckoClient({ baseUrl: ' http://127.0.0.1:9/api/v3// ' }, deps)
    expect(client.baseUrl).toBe('http://127.0.0.1:9/api/v3')
  })

  it('accepts timeouts from 100 ms to 5 minutes and defaults to 10 s', () => {
    expect(DEFAULT_COINGECKO_TIMEOUT_MS).toBe(10_000)
    for (const timeoutMs of [100, 300_000]) {
      expect(() => createCoinGeckoClient({ timeoutMs }, deps)).not.toThrow()
    }
  })

  it.each([
    ['a newline', 'SECRETKEY\nX-Injected: 1'],
    ['a carriage return', 'SECRETKEY\r\nX-Injected: 1'],
    ['a non-ASCII character', 'SECRETKEY\u00e9'],
  ])('refuses an API key containing %s without echoing the key', (_, apiKey) => {
    const error = validationFailure(() =>
      createCoinGeckoClient({ baseUrl: LOOPBACK, apiKey }, deps),
    )
    expect(error.details).toEqual({ field: 'apiKey' })
    expect(error.message).toContain('COINGECKO_API_KEY')
    expect(error.message).not.toContain('SECRETKEY')
  })

  it.each([
    'http://user:PASSWORDXYZ@127.0.0.1:9/api/v3',
    'http://:PASSWORDXYZ@127.0.0.1:9/api/v3',
    'http://PASSWORDXYZ@127.0.0.1:9/api/v3',
    'http://user:PASSWORDXYZ@not a host/api/v3',
  ])('refuses the base URL %s without echoing the credentials', (baseUrl) => {
    const error = validationFailure(() => createCoinGeckoClient({ baseUrl }, deps))
    expect(error.details).toEqual({ field: 'baseUrl' })
    expect(error.message).toMatch(/^CoinGecko URL must /)
    expect(error.message).not.toContain('PASSWORDXYZ')
  })

  it.each(['http://127.0.0.1:9/api/v3?x=1', 'http://127.0.0.1:9/api/v3#f'])(
    'refuses the base URL %s, which has a query or fragment',
    (baseUrl) => {
      const error = validationFailure(() => createCoinGeckoClient({ baseUrl }, deps))
      expect(error.details).toEqual({ field: 'baseUrl' })
      expect(error.message).toBe('CoinGecko URL must not contain a query or fragment')
    },
  )
})

describe('fetchQuotes with a fake fetch', () => {
  const baseUrl = 'http://127.0.0.1:9/api/v3'
  const clock = fakeClock('2024-09-17T12:00:00.000Z')

  function client(respond: () => Response | Promise<Response>, options: CoinGeckoOptions = {}) {
    const fetch = fakeFetch(respond)
    return { fetch, client: createCoinGeckoClient({ baseUrl, ...options }, { fetch, clock }) }
  }

  it('makes no request when nothing is asked for', async () => {
    const { fetch, client: cg } = client(() => jsonResponse('{}'))
    expect(await cg.fetchQuotes([])).toEqual([])
    expect(fetch.calls).toHaveLength(0)
  })

  it('asks once for every coin and currency, without duplicates', async () => {
    const { fetch, client: cg } = client(() => jsonResponse(readFixture('simple-price-usd')))
    await cg.fetchQuotes([
      { coinId: 'bitcoin', currency: 'usd' },
      { coinId: 'ethereum', currency: 'eur' },
      { coinId: 'bitcoin', currency: 'eur' },
    ])
    expect(fetch.calls).toHaveLength(1)
    const { url, method } = fetch.calls[0]!
    expect(method).toBe('GET')
    expect(`${url.origin}${url.pathname}`).toBe(`${baseUrl}/simple/price`)
    expect(Object.fromEntries(url.searchParams)).toEqual({
      ids: 'bitcoin,ethereum',
      vs_currencies: 'usd,eur',
      include_last_updated_at: 'true',
      precision: 'full',
    })
  })

  it('sends no key header when no key is set', async () => {
    const { fetch, client: cg } = client(() => jsonResponse('{}'))
    await cg.fetchQuotes(BTC_ETH_USD)
    const headers = fetch.calls[0]!.headers
    expect(headers.get('accept')).toBe('application/json')
    expect(headers.has('x-cg-demo-api-key')).toBe(false)
    expect(headers.has('x-cg-pro-api-key')).toBe(false)
  })

  it('returns ERR_RATE_LIMITED with Retry-After in milliseconds on HTTP 429', async () => {
    const { client: cg } = client(() =>
      jsonResponse(readFixture('error-429'), 429, { 'retry-after': '60' }),
    )
    const error = await failure(cg.fetchQuotes(BTC_ETH_USD))
    expect(error.code).toBe('ERR_RATE_LIMITED')
    expect(error.message).toBe('CoinGecko rate limit reached; retry after 60s')
    expect(error.details).toMatchObject({ status: 429, retryAfterMs: 60_000 })
  })

  it('reads a Retry-After given as an HTTP date relative to the clock', async () => {
    const { client: cg } = client(() =>
      jsonResponse('{}', 429, { 'retry-after': 'Tue, 17 Sep 2024 12:02:00 GMT' }),
    )
    const error = await failure(cg.fetchQuotes(BTC_ETH_USD))
    expect(error.details['retryAfterMs']).toBe(120_000)
  })

  it('leaves retryAfterMs out on HTTP 429 without a usable Retry-After', async () => {
    const { client: cg } = client(() => jsonResponse('{}', 429, { 'retry-after': 'soon' }))
    const error = await failure(cg.fetchQuotes(BTC_ETH_USD))
    expect(error.code).toBe('ERR_RATE_LIMITED')
    expect(error.message).toBe('CoinGecko rate limit reached')
    expect(error.details['retryAfterMs']).toBeUndefined()
  })

  it('returns ERR_UPSTREAM naming the status on HTTP 500', async () => {
    const { client: cg } = client(() => new Response('oops', { status: 500 }))
    const error = await failure(cg.fetchQuotes(BTC_ETH_USD))
    expect(error.code).toBe('ERR_UPSTREAM')
    expect(error.message).toBe('CoinGecko answered HTTP 500')
    expect(error.details).toMatchObject({ status: 500 })
  })

  it('returns ERR_UPSTREAM instead of crashing when a 200 answer is HTML', async () => {
    const { client: cg } = client(
      () =>
        new Response('<html><body>Just a moment...</body></html>', {
          status: 200,
          headers: { 'content-type': 'text/html; charset=UTF-8' },
        }),
    )
    const error = await failure(cg.fetchQuotes(BTC_ETH_USD))
    expect(error.code).toBe('ERR_UPSTREAM')
    expect(error.message).toBe('CoinGecko sent a body that is not a JSON object (text/html)')
  })

  it.each([
    ['{"bitcoin": {"usd": 1}', 'malformed JSON'],
    ['[1, 2]', 'an array'],
    ['null', 'null'],
    ['', 'an empty body'],
  ])('returns ERR_UPSTREAM when a 200 answer is %s (%s)', async (body) => {
    const { client: cg } = client(() => jsonResponse(body))
    const error = await failure(cg.fetchQuotes(BTC_ETH_USD))
    expect(error.code).toBe('ERR_UPSTREAM')
    expect(error.message).toMatch(/^CoinGecko sent a body that is not a JSON object/)
  })

  it('returns ERR_UPSTREAM naming the network failure when fetch rejects', async () => {
    const { client: cg } = client(() => {
      const cause = Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' })
      throw new TypeError('fetch failed', { cause })
    })
    const error = await failure(cg.fetchQuotes(BTC_ETH_USD))
    expect(error.code).toBe('ERR_UPSTREAM')
    expect(error.message).toBe('could not reach CoinGecko at 127.0.0.1:9: ENOTFOUND')
  })

  it('returns ERR_UPSTREAM saying the request was cancelled when the signal aborts', async () => {
    const controller = new AbortController()
    const { client: cg } = client(() => {
      controller.abort()
      throw new DOMException('This operation was aborted', 'AbortError')
    })
    const error = await failure(cg.fetchQuotes(BTC_ETH_USD, controller.signal))
    expect(error.code).toBe('ERR_UPSTREAM')
    expect(error.message).toBe('CoinGecko request was cancelled')
    expect(error.details).toEqual({ cancelled: true })
  })

  it('returns quotes in request order with exact prices and quote times', async () => {
    const { client: cg } = client(() => jsonResponse(readFixture('simple-price-usd')))
    expect(await cg.fetchQuotes([...BTC_ETH_USD].reverse())).toEqual([
      {
        ok: true,
        coinId: 'ethereum',
        currency: 'usd',
        price: '2318.4700000000',
        quotedAt: new Date(1726574449 * 1000),
      },
      {
        ok: true,
        coinId: 'bitcoin',
        currency: 'usd',
        price: '64213.0000000000',
        quotedAt: new Date(1726574431 * 1000),
      },
    ])
  })

  it('keeps the digits a double would lose and rounds them half to even', async () => {
    const body =
      '{"bitcoin": {"usd": 64213.081730271549999999}, "ethereum": {"usd": 0.00000000025}}'
    const { client: cg } = client(() => jsonResponse(body))
    const quotes = await cg.fetchQuotes(BTC_ETH_USD)
    expect(quotes.map((q) => (q.ok ? q.price : q.problem))).toEqual([
      '64213.0817302715',
      '0.0000000002',
    ])
  })

  it.each([
    ['{"bitcoin": {"usd": null}}', 'null-price'],
    ['{"bitcoin": {"usd": "64213"}}', 'not-a-number'],
    ['{"bitcoin": {"usd": true}}', 'not-a-number'],
    ['{"bitcoin": {"usd": 0}}', 'not-positive'],
    ['{"bitcoin": {"usd": -5}}', 'not-positive'],
    ['{"bitcoin": {"usd": 1e-12}}', 'rounds-to-zero'],
    ['{"bitcoin": {"usd": 12345678901}}', 'too-large'],
    ['{"bitcoin": {}}', 'missing-price'],
    ['{"bitcoin": {"eur": 1}}', 'missing-price'],
    ['{"bitcoin": 64213}', 'missing-coin'],
    ['{"bitcoin": null}', 'missing-coin'],
    ['{}', 'missing-coin'],
  ])('reports the problem of %s as %s', async (body, problem) => {
    const { client: cg } = client(() => jsonResponse(body))
    expect(await cg.fetchQuotes([{ coinId: 'bitcoin', currency: 'usd' }])).toEqual([
      { ok: false, coinId: 'bitcoin', currency: 'usd', problem },
    ])
  })

  it.each([
    ['"last_updated_at": "1726574431"', null],
    ['"last_updated_at": 1726574431.5', null],
    ['"last_updated_at": -1', null],
    ['"last_updated_at": 0', new Date(0)],
  ])('reads the quote time from %s as %s', async (field, quotedAt) => {
    const { client: cg } = client(() => jsonResponse(`{"bitcoin": {"usd": 1, ${field}}}`))
    const [quote] = await cg.fetchQuotes([{ coinId: 'bitcoin', currency: 'usd' }])
    expect(quote).toMatchObject({ ok: true, quotedAt })
  })
})

describe('fetchQuotes against the mock CoinGecko server', () => {
  let mock: MockCoinGecko
  const clock = fakeClock('2024-09-17T12:00:00.000Z')

  beforeAll(async () => {
    mock = await startMockCoinGecko()
  })

  beforeEach(() => {
    mock.reset()
  })

  afterAll(async () => {
    await mock.close()
  })

  const client = (options: CoinGeckoOptions = {}) =>
    createCoinGeckoClient({ baseUrl: mock.url, ...options }, { fetch: globalThis.fetch, clock })

  const answerWith = (fixture: FixtureName, status = 200, headers: Record<string, string> = {}) =>
    mock.enqueue({ fixture, status, headers })

  it('requests /simple/price with ids, currencies and the last-updated flag', async () => {
    await client().fetchQuotes(BTC_ETH_USD)
    expect(mock.requests).toHaveLength(1)
    const [request] = mock.requests
    expect(request?.method).toBe('GET')
    expect(request?.path).toBe('/api/v3/simple/price')
    expect(request?.query).toEqual({
      ids: 'bitcoin,ethereum',
      vs_currencies: 'usd',
      include_last_updated_at: 'true',
      precision: 'full',
    })
  })

  it('sends a demo key in x-cg-demo-api-key and never in the URL', async () => {
    await client({ apiKey: ` ${SECRET} ` }).fetchQuotes(BTC_ETH_USD)
    const [request] = mock.requests
    expect(request?.headers['x-cg-demo-api-key']).toBe(SECRET)
    expect(request?.headers['x-cg-pro-api-key']).toBeUndefined()
    expect(request?.url).not.toContain(SECRET)
    expect(request?.url).not.toContain('api-key')
  })

  it('sends a pro key in x-cg-pro-api-key and never in the URL', async () => {
    await client({ apiKey: SECRET, plan: 'pro' }).fetchQuotes(BTC_ETH_USD)
    const [request] = mock.requests
    expect(request?.headers['x-cg-pro-api-key']).toBe(SECRET)
    expect(request?.headers['x-cg-demo-api-key']).toBeUndefined()
    expect(request?.url).not.toContain(SECRET)
  })

  it('returns exact prices from the usd fixture', async () => {
    const quotes = await client().fetchQuotes(BTC_ETH_USD)
    expect(quotes.map((q) => q.ok && q.price)).toEqual(['64213.0000000000', '2318.4700000000'])
  })

  it('returns ERR_RATE_LIMITED with retryAfterMs 60000 on 429 with Retry-After: 60', async () => {
    answerWith('error-429', 429, { 'retry-after': '60' })
    const error = await failure(client({ apiKey: SECRET }).fetchQuotes(BTC_ETH_USD))
    expect(error.code).toBe('ERR_RATE_LIMITED')
    expect(error.details['retryAfterMs']).toBe(60_000)
    expect(error.message).not.toContain(SECRET)
  })

  it('returns ERR_UPSTREAM on HTTP 500', async () => {
    mock.enqueue({ status: 500, body: 'Internal Server Error', contentType: 'text/plain' })
    const error = await failure(client().fetchQuotes(BTC_ETH_USD))
    expect(error).toMatchObject({ code: 'ERR_UPSTREAM', message: 'CoinGecko answered HTTP 500' })
  })

  it('returns ERR_UPSTREAM naming COINGECKO_API_KEY but not the key on HTTP 401', async () => {
    answerWith('error-401-bad-key', 401)
    const error = await failure(client({ apiKey: SECRET }).fetchQuotes(BTC_ETH_USD))
    expect(error.code).toBe('ERR_UPSTREAM')
    expect(error.message).toMatch(/^CoinGecko refused the API key \(error 10002\)/)
    expect(error.message).toContain('COINGECKO_API_KEY')
    expect(error.message).not.toContain(SECRET)
    expect(JSON.stringify(error.details)).not.toContain(SECRET)
    expect(error.details).toMatchObject({ status: 401, upstreamCode: 10002, keyProblem: true })
  })

  it('keeps the key out of the error when the server echoes the key it received', async () => {
    mock.enqueue((request) => ({
      status: 401,
      body: {
        status: {
          error_code: 10002,
          error_message: `key ${String(request.headers['x-cg-demo-api-key'])} is not valid`,
        },
      },
    }))
    const error = await failure(client({ apiKey: SECRET }).fetchQuotes(BTC_ETH_USD))
    expect(error.message).toContain('key [redacted] is not valid')
    expect(error.message).not.toContain(SECRET)
  })

  it.each([
    ['error-400-demo-key-on-pro-host', 10011, 'a Demo key was sent to pro-api.coingecko.com'],
    ['error-400-pro-key-on-public-host', 10010, 'a Pro key was sent to api.coingecko.com'],
  ] as const)(
    'returns ERR_UPSTREAM with the error code and text of the %s answer',
    async (fixture, code, text) => {
      answerWith(fixture, 400)
      const error = await failure(client({ apiKey: SECRET }).fetchQuotes(BTC_ETH_USD))
      expect(error.code).toBe('ERR_UPSTREAM')
      expect(error.message).toContain(`(error ${code})`)
      expect(error.message).toContain(text)
      expect(error.message).toContain('COINGECKO_API_PLAN')
      expect(error.message).not.toContain(SECRET)
      expect(error.details).toMatchObject({ status: 400, upstreamCode: code, keyProblem: true })
    },
  )

  it('returns ERR_UPSTREAM with the upstream text on HTTP 404', async () => {
    answerWith('error-404-coin-not-found', 404)
    const error = await failure(client().fetchQuotes(BTC_ETH_USD))
    expect(error).toMatchObject({
      code: 'ERR_UPSTREAM',
      message: 'CoinGecko answered HTTP 404: coin not found',
    })
  })

  it('returns ERR_UPSTREAM without the page when an error answer is HTML', async () => {
    mock.enqueue({ status: 502, body: '<html>Bad Gateway</html>', contentType: 'text/html' })
    const error = await failure(client().fetchQuotes(BTC_ETH_USD))
    expect(error.message).toBe('CoinGecko answered HTTP 502')
  })

  it('returns ERR_UPSTREAM instead of crashing on an HTML page with status 200', async () => {
    mock.enqueue({ body: '<!doctype html><title>Hi</title>', contentType: 'text/html' })
    const error = await failure(client().fetchQuotes(BTC_ETH_USD))
    expect(error).toMatchObject({
      code: 'ERR_UPSTREAM',
      message: 'CoinGecko sent a body that is not a JSON object (text/html)',
    })
  })

  it('returns ERR_UPSTREAM on malformed JSON with status 200', async () => {
    mock.enqueue({ body: '{"bitcoin": {"usd": 64213,}}' })
    const error = await failure(client().fetchQuotes(BTC_ETH_USD))
    expect(error).toMatchObject({
      code: 'ERR_UPSTREAM',
      message: 'CoinGecko sent a body that is not a JSON object (application/json)',
    })
  })

  it('returns ERR_UPSTREAM "did not answer within" when slower than the timeout', async () => {
    mock.enqueue({ fixture: 'simple-price-usd', delayMs: 2000 })
    const started = Date.now()
    const error = await failure(client({ timeoutMs: 100 }).fetchQuotes(BTC_ETH_USD))
    expect(error.code).toBe('ERR_UPSTREAM')
    expect(error.message).toBe('CoinGecko did not answer within 100ms')
    expect(error.details).toEqual({ timeout: true })
    expect(Date.now() - started).toBeLessThan(1500)
  })

  it('returns ERR_UPSTREAM when the server drops the connection', async () => {
    mock.enqueue({ hangUp: true })
    const error = await failure(client().fetchQuotes(BTC_ETH_USD))
    expect(error.code).toBe('ERR_UPSTREAM')
    expect(error.message).toMatch(/^could not reach CoinGecko at 127\.0\.0\.1:\d+: /)
  })

  it('returns ERR_UPSTREAM naming ECONNREFUSED when nothing listens on the port', async () => {
    const baseUrl = await refusedUrl()
    const cg = createCoinGeckoClient({ baseUrl }, { fetch: globalThis.fetch, clock })
    const error = await failure(cg.fetchQuotes(BTC_ETH_USD))
    expect(error.code).toBe('ERR_UPSTREAM')
    const host = new URL(baseUrl).host
    expect(error.message).toBe(`could not reach CoinGecko at ${host}: ECONNREFUSED`)
  })

  it('reads the null-values fixture coin by coin', async () => {
    answerWith('simple-price-null-values')
    const quotes = await client().fetchQuotes([
      { coinId: 'bitcoin', currency: 'usd' },
      { coinId: 'sleepy-sample-token', currency: 'usd' },
      { coinId: 'delisted-sample-coin', currency: 'usd' },
    ])
    expect(quotes).toEqual([
      {
        ok: true,
        coinId: 'bitcoin',
        currency: 'usd',
        price: '64213.0000000000',
        quotedAt: new Date(1726574431 * 1000),
      },
      {
        ok: true,
        coinId: 'sleepy-sample-token',
        currency: 'usd',
        price: '0.0000047300',
        quotedAt: new Date(1726401120 * 1000),
      },
      { ok: false, coinId: 'delisted-sample-coin', currency: 'usd', problem: 'missing-price' },
    ])
  })

  it('reports missing-coin for an id the unknown-id fixture leaves out', async () => {
    answerWith('simple-price-unknown-id')
    const quotes = await client().fetchQuotes([
      { coinId: 'bitcoin', currency: 'usd' },
      { coinId: 'not-a-real-coin', currency: 'usd' },
    ])
    expect(quotes[0]).toMatchObject({ ok: true, price: '64213.0000000000' })
    expect(quotes[1]).toEqual({
      ok: false,
      coinId: 'not-a-real-coin',
      currency: 'usd',
      problem: 'missing-coin',
    })
  })

  it('reports missing-coin for every request on the all-unknown fixture', async () => {
    answerWith('simple-price-all-unknown')
    const quotes = await client().fetchQuotes(BTC_ETH_USD)
    expect(quotes.map((q) => !q.ok && q.problem)).toEqual(['missing-coin', 'missing-coin'])
  })

  it('reads several currencies per coin exactly from the multi-currency fixture', async () => {
    answerWith('simple-price-multi-currency')
    const quotes = await client().fetchQuotes([
      { coinId: 'bitcoin', currency: 'eur' },
      { coinId: 'ethereum', currency: 'usd' },
      { coinId: 'ethereum', currency: 'btc' },
      { coinId: 'bitcoin', currency: 'jpy' },
    ])
    expect(mock.requests[0]?.query['vs_currencies']).toBe('eur,usd,btc,jpy')
    expect(quotes.map((q) => (q.ok ? q.price : q.problem))).toEqual([
      '57771.9932518004',
      '2318.4712266091',
      '0.0361057291',
      'missing-price',
    ])
  })

  it.each([301, 302, 307, 308])(
    'refuses a %i redirect without following it, so the key stays with the first host',
    async (status) => {
      const other = await startMockCoinGecko()
      try {
        mock.enqueue({ status, headers: { location: `${other.url}/simple/price?ids=bitcoin` } })
        const error = await failure(client({ apiKey: SECRET }).fetchQuotes(BTC_ETH_USD))
        expect(error.code).toBe('ERR_UPSTREAM')
        expect(error.message).toContain(`redirect (HTTP ${status})`)
        expect(error.message).toContain('CRYPTORG_COINGECKO_URL')
        expect(error.message).not.toContain(SECRET)
        expect(mock.requests).toHaveLength(1)
        expect(other.requests).toHaveLength(0)
      } finally {
        await other.close()
      }
    },
  )

  it('refuses an answer larger than 1 MiB with ERR_UPSTREAM', async () => {
    expect(MAX_BODY_BYTES).toBe(1024 * 1024)
    mock.enqueue({
      body: JSON.stringify({ bitcoin: { usd: 1, note: 'x'.repeat(2 * 1024 * 1024) } }),
    })
    const error = await failure(client().fetchQuotes(BTC_ETH_USD))
    expect(error).toMatchObject({
      code: 'ERR_UPSTREAM',
      message: 'CoinGecko sent an answer larger than 1024 KiB; it was not read',
    })
  })

  it('reads an answer of exactly 1 MiB', async () => {
    const body = readFixture('simple-price-usd')
    mock.enqueue({ body: body + ' '.repeat(MAX_BODY_BYTES - Buffer.byteLength(body)) })
    const quotes = await client().fetchQuotes(BTC_ETH_USD)
    expect(quotes.map((q) => q.ok && q.price)).toEqual(['64213.0000000000', '2318.4700000000'])
  })
})
