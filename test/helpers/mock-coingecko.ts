/**
 * A scriptable stand-in for the CoinGecko API, for tests only. It is a plain `node:http` server
 * bound to 127.0.0.1 on a free port, so no test ever talks to the real CoinGecko.
 *
 * Answers are chosen in this order:
 * 1. the next response queued with {@link MockCoinGecko.enqueue} (used once, first in first out,
 *    whatever the request path);
 * 2. the fallback set with {@link MockCoinGecko.setFallback} or the `fallback` option;
 * 3. the built-in fallback: `/simple/price` answers with the `simple-price-usd.json` fixture and
 *    every other path with HTTP 404.
 *
 * Every request is recorded in {@link MockCoinGecko.requests} before it is answered.
 *
 * @example
 * ```ts
 * const mock = await startMockCoinGecko()
 * mock.enqueue({ status: 429, headers: { 'retry-after': '60' }, fixture: 'error-429' })
 * const c = await open({ databasePath: ':memory:', coingecko: { baseUrl: mock.url } })
 * await expect(c.poller.tick()).rejects.toMatchObject({ code: 'ERR_RATE_LIMITED' })
 * expect(mock.requests[0]?.query['ids']).toBe('bitcoin,ethereum')
 * await c.close()
 * await mock.close()
 * ```
 *
 * @module
 */
import { readFileSync } from 'node:fs'
import {
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
  createServer,
} from 'node:http'
import type { AddressInfo } from 'node:net'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** Folder holding the CoinGecko fixtures (`test/fixtures`). */
export const FIXTURES_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures')

/** Path prefix the mock serves the API under, as CoinGecko does. */
export const MOCK_API_PATH = '/api/v3'

/** The fixtures shipped in `test/fixtures`, by name without `.json`. */
export type FixtureName =
  | 'simple-price-usd'
  | 'simple-price-null-values'
  | 'simple-price-unknown-id'
  | 'simple-price-all-unknown'
  | 'simple-price-multi-currency'
  | 'error-429'
  | 'error-401-bad-key'
  | 'error-400-demo-key-on-pro-host'
  | 'error-400-pro-key-on-public-host'
  | 'error-404-coin-not-found'

/** Reads a fixture's text exactly as stored (numbers keep all their digits). */
export function readFixture(name: FixtureName): string {
  return readFileSync(join(FIXTURES_DIR, `${name}.json`), 'utf8')
}

/** One scripted answer. Every field is optional; the default is an empty JSON object, HTTP 200. */
export interface MockResponse {
  /** @default 200 */
  status?: number
  /** Extra response headers, such as `{ 'retry-after': '60' }`. */
  headers?: Record<string, string>
  /**
   * The body: a string is sent as is, anything else as JSON. Ignored when `fixture` is set.
   * @default {}
   */
  body?: unknown
  /** Sends `test/fixtures/<fixture>.json` as the body. */
  fixture?: FixtureName
  /**
   * Content type of the body.
   * @default 'application/json; charset=utf-8'
   */
  contentType?: string
  /** Waits this long before sending anything (status line included), to provoke timeouts. */
  delayMs?: number
  /** Destroys the connection without answering, to provoke a network error. */
  hangUp?: boolean
}

/** A request the mock received. */
export interface RecordedRequest {
  method: string
  /** Path and query as sent, such as `/api/v3/simple/price?ids=bitcoin&...`. */
  url: string
  /** Path without the query. */
  path: string
  /** Decoded query parameters; a repeated parameter keeps its last value. */
  query: Record<string, string>
  /** Request headers; names are lower-case. */
  headers: IncomingHttpHeaders
}

/** Computes an answer from the request; may be async. */
export type MockHandler = (request: RecordedRequest) => MockResponse | Promise<MockResponse>

/** Options of {@link startMockCoinGecko}. */
export interface MockCoinGeckoOptions {
  /** Answer used when the queue is empty. @default the built-in fallback (see module docs) */
  fallback?: MockResponse | MockHandler
}

/** A running mock server. Close it in `afterEach` or `afterAll`. */
export interface MockCoinGecko {
  /** Base URL to pass as `coingecko.baseUrl`, such as `http://127.0.0.1:40123/api/v3`. */
  readonly url: string
  /** `http://127.0.0.1:<port>`, without the API path. */
  readonly origin: string
  readonly port: number
  /** Every request received so far, oldest first. */
  readonly requests: RecordedRequest[]
  /** Queues answers for the next requests, one each, first in first out. */
  enqueue(...responses: (MockResponse | MockHandler)[]): void
  /** Replaces the answer used when the queue is empty. */
  setFallback(fallback: MockResponse | MockHandler): void
  /** Empties the queue and the request log and restores the built-in fallback. */
  reset(): void
  /** Resolves once at least `count` requests were received; rejects after `timeoutMs`. */
  waitForRequests(count: number, timeoutMs?: number): Promise<RecordedRequest[]>
  /** Stops the server, dropping open connections and pending delayed answers. */
  close(): Promise<void>
}

/** The built-in fallback: USD prices for `/simple/price`, 404 for anything else. */
export const defaultHandler: MockHandler = (request) =>
  request.path === `${MOCK_API_PATH}/simple/price`
    ? { fixture: 'simple-price-usd' }
    : { status: 404, body: { error: 'Not Found' } }

/** Starts a mock CoinGecko on 127.0.0.1 with a free port. */
export async function startMockCoinGecko(
  options: MockCoinGeckoOptions = {},
): Promise<MockCoinGecko> {
  const queue: (MockResponse | MockHandler)[] = []
  const requests: RecordedRequest[] = []
  const timers = new Set<NodeJS.Timeout>()
  const waiters = new Set<() => void>()
  let fallback: MockResponse | MockHandler = options.fallback ?? defaultHandler

  const server: Server = createServer((req, res) => {
    void answer(req, res)
  })

  async function answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const parsed = new URL(req.url ?? '/', 'http://127.0.0.1')
    const recorded: RecordedRequest = {
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      path: parsed.pathname,
      query: Object.fromEntries(parsed.searchParams),
      headers: req.headers,
    }
    requests.push(recorded)
    for (const wake of [...waiters]) wake()

    try {
      const script = queue.shift() ?? fallback
      const response = typeof script === 'function' ? await script(recorded) : script
      if (response.delayMs) await delay(response.delayMs)
      if (res.destroyed) return
      if (response.hangUp) {
        req.socket.destroy()
        return
      }
      const body =
        response.fixture !== undefined
          ? readFixture(response.fixture)
          : typeof response.body === 'string'
            ? response.body
            : JSON.stringify(response.body ?? {})
      res.writeHead(response.status ?? 200, {
        'content-type': response.contentType ?? 'application/json; charset=utf-8',
        ...response.headers,
      })
      res.end(body)
    } catch (error) {
      if (res.destroyed) return
      res.writeHead(500, { 'content-type': 'text/plain' })
      res.end(`mock handler failed: ${String(error)}`)
    }
  }

  function delay(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer)
        resolve()
      }, ms)
      timers.add(timer)
    })
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  const { port } = server.address() as AddressInfo
  const origin = `http://127.0.0.1:${port}`
  let closing: Promise<void> | undefined

  return {
    url: `${origin}${MOCK_API_PATH}`,
    origin,
    port,
    requests,
    enqueue: (...responses) => {
      queue.push(...responses)
    },
    setFallback: (next) => {
      fallback = next
    },
    reset: () => {
      queue.length = 0
      requests.length = 0
      fallback = options.fallback ?? defaultHandler
    },
    waitForRequests: (count, timeoutMs = 5000) =>
      new Promise((resolve, reject) => {
        if (requests.length >= count) return resolve([...requests])
        const timer = setTimeout(() => {
          waiters.delete(check)
          reject(new Error(`mock CoinGecko got ${requests.length} of ${count} requests`))
        }, timeoutMs)
        const check = () => {
          if (requests.length < count) return
          clearTimeout(timer)
          waiters.delete(check)
          resolve([...requests])
        }
        waiters.add(check)
      }),
    close: () =>
      (closing ??= new Promise<void>((resolve, reject) => {
        for (const timer of timers) clearTimeout(timer)
        timers.clear()
        server.close((error) => (error ? reject(error) : resolve()))
        server.closeAllConnections()
      })),
  }
}

/**
 * A loopback URL on which nothing listens, for "connection refused" tests: it briefly binds a
 * free port on 127.0.0.1 and releases it.
 */
export async function refusedUrl(): Promise<string> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return `http://127.0.0.1:${port}${MOCK_API_PATH}`
}
