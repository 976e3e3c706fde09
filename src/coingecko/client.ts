/**
 * The CoinGecko client: one `/simple/price` request for every tracked coin and currency.
 * Retries are the daemon loop's business, so each call makes exactly one attempt with its own
 * timeout.
 *
 * @module
 */
import type { $Fetch } from 'ofetch'

import type { Clock, FetchLike } from '../deps.js'
import { CryptorgError, isCryptorgError, validationError } from '../errors.js'
import { formatDuration } from '../core/time.js'
import { parseRetryAfter, redact, upstreamHttpError } from './errors.js'
import {
  type JsonValue,
  JsonSyntaxError,
  isJsonObject,
  parseJsonLossless,
} from '../lossless-json.js'
import { type Quote, type QuoteRequest, readQuotes } from './quotes.js'

/** Base URL for keyless and Demo-plan requests. */
export const COINGECKO_PUBLIC_URL = 'https://api.coingecko.com/api/v3'
/** Base URL for Pro-plan requests. */
export const COINGECKO_PRO_URL = 'https://pro-api.coingecko.com/api/v3'
/** How long one request may take before it counts as failed. */
export const DEFAULT_COINGECKO_TIMEOUT_MS = 10_000
/** Largest answer read; a /simple/price answer for hundreds of coins is a few kilobytes. */
export const MAX_BODY_BYTES = 1024 * 1024

/** CoinGecko API plans; each sends its key in its own header to its own host. */
export type CoinGeckoPlan = 'demo' | 'pro'

/** Settings of the CoinGecko client. */
export interface CoinGeckoOptions {
  /**
   * API root, for a proxy or a mock server.
   * @default COINGECKO_PRO_URL for the pro plan, COINGECKO_PUBLIC_URL otherwise
   */
  baseUrl?: string
  /** API key; sent as a header, never in the URL, and never logged. */
  apiKey?: string
  /** @default 'demo' when an API key is given */
  plan?: CoinGeckoPlan
  /** @default DEFAULT_COINGECKO_TIMEOUT_MS */
  timeoutMs?: number
}

export interface CoinGeckoClient {
  /** The base URL requests go to (no key in it). */
  readonly baseUrl: string
  /**
   * Asks for every requested coin and currency in one request.
   *
   * @throws CryptorgError `ERR_RATE_LIMITED` on HTTP 429 (with `details.retryAfterMs`),
   *   `ERR_UPSTREAM` for other HTTP errors, timeouts, network failures and bodies that are not
   *   JSON.
   */
  fetchQuotes(requests: readonly QuoteRequest[], signal?: AbortSignal): Promise<Quote[]>
}

export interface CoinGeckoDeps {
  fetch: FetchLike
  clock: Clock
}

const PLANS: readonly string[] = ['demo', 'pro']

export function createCoinGeckoClient(
  options: CoinGeckoOptions,
  deps: CoinGeckoDeps,
): CoinGeckoClient {
  const settings = resolveSettings(options)
  // ofetch is loaded on the first request: commands that never poll do not pay for it.
  let $fetch: Promise<$Fetch> | undefined
  const loadFetch = () =>
    ($fetch ??= import('ofetch').then(({ createFetch }) =>
      createFetch({ fetch: deps.fetch as typeof fetch }),
    ))
  const headers: Record<string, string> = { accept: 'application/json' }
  if (settings.apiKey) headers[`x-cg-${settings.plan}-api-key`] = settings.apiKey
  const secrets = settings.apiKey ? [settings.apiKey] : []

  return {
    baseUrl: settings.baseUrl,
    async fetchQuotes(requests, signal) {
      if (requests.length === 0) return []
      const query = {
        ids: unique(requests.map((r) => r.coinId)).join(','),
        vs_currencies: unique(requests.map((r) => r.currency)).join(','),
        include_last_updated_at: 'true',
        precision: 'full',
      }
      const timeout = AbortSignal.timeout(settings.timeoutMs)
      let response
      let text: string
      try {
        const client = await loadFetch()
        response = await client.raw<ReadableStream<Uint8Array>, 'stream'>(
          `${settings.baseUrl}/simple/price`,
          {
            query,
            headers,
            responseType: 'stream',
            retry: 0,
            // A redirect could carry the key header to another host: report it instead.
            redirect: 'manual',
            ignoreResponseError: true,
            signal: signal ? AbortSignal.any([timeout, signal]) : timeout,
          },
        )
        text = await readLimited(response._data, MAX_BODY_BYTES)
      } catch (error) {
        throw transportError(error, settings, timeout, signal, secrets)
      }

      if (response.status >= 300 && response.status < 400) {
        throw new CryptorgError(
          'ERR_UPSTREAM',
          `CoinGecko answered with a redirect (HTTP ${response.status}); redirects are not ` +
            'followed so that the API key never reaches another host: set ' +
            'CRYPTORG_COINGECKO_URL to the final address',
          { details: { status: response.status } },
        )
      }
      if (!response.ok) {
        const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), deps.clock.now())
        throw upstreamHttpError(response.status, text, retryAfterMs, secrets)
      }
      return readQuotes(parseBody(text, response.headers.get('content-type')), requests)
    },
  }
}

interface ResolvedSettings {
  baseUrl: string
  apiKey: string | undefined
  plan: CoinGeckoPlan
  timeoutMs: number
}

function resolveSettings(options: CoinGeckoOptions): ResolvedSettings {
  const plan = options.plan ?? 'demo'
  if (!PLANS.includes(plan)) {
    throw validationError('plan', `CoinGecko plan must be demo or pro, got ${JSON.stringify(plan)}`)
  }
  const apiKey = options.apiKey?.trim() || undefined
  // Checked here because fetch's own error would quote the whole header value.
  if (apiKey !== undefined && !/^[\x21-\x7e]+$/.test(apiKey)) {
    throw validationError(
      'apiKey',
      'the CoinGecko API key may only contain visible ASCII characters; check COINGECKO_API_KEY',
    )
  }
  if (plan === 'pro' && !apiKey) {
    throw validationError('apiKey', 'the CoinGecko pro plan needs an API key')
  }

  const baseUrl = (options.baseUrl ?? (plan === 'pro' ? COINGECKO_PRO_URL : COINGECKO_PUBLIC_URL))
    .trim()
    .replace(/\/+$/, '')
  const problem = baseUrlProblem(baseUrl)
  if (problem) throw validationError('baseUrl', `CoinGecko URL ${problem}`)

  const timeoutMs = options.timeoutMs ?? DEFAULT_COINGECKO_TIMEOUT_MS
  if (!Number.isInteger(timeoutMs) || timeoutMs < 100 || timeoutMs > 300_000) {
    throw validationError(
      'timeoutMs',
      `CoinGecko timeout must be 100 ms to 5 min, got ${timeoutMs}`,
    )
  }
  return { baseUrl, apiKey, plan, timeoutMs }
}

/**
 * What is wrong with a CoinGecko base URL, as the end of a sentence, or undefined. The URL is
 * echoed only when it carries no user name or password.
 */
export function baseUrlProblem(text: string): string | undefined {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    return text.includes('@')
      ? 'must be an http or https URL'
      : `must be an http or https URL, got ${JSON.stringify(text)}`
  }
  if (url.username || url.password) return 'must not contain a user name or password'
  if (!['http:', 'https:'].includes(url.protocol)) {
    return `must be an http or https URL, got ${JSON.stringify(text)}`
  }
  if (url.search || url.hash) return 'must not contain a query or fragment'
  return undefined
}

function parseBody(text: string, contentType: string | null): { [key: string]: JsonValue } {
  try {
    const body = parseJsonLossless(text)
    if (isJsonObject(body)) return body
  } catch (error) {
    if (!(error instanceof JsonSyntaxError)) throw error
  }
  const kind = contentType ? ` (${contentType.split(';')[0]})` : ''
  throw new CryptorgError('ERR_UPSTREAM', `CoinGecko sent a body that is not a JSON object${kind}`)
}

function transportError(
  error: unknown,
  settings: ResolvedSettings,
  timeout: AbortSignal,
  signal: AbortSignal | undefined,
  secrets: readonly string[],
): CryptorgError {
  if (isCryptorgError(error)) return error
  if (timeout.aborted) {
    return new CryptorgError(
      'ERR_UPSTREAM',
      `CoinGecko did not answer within ${formatDuration(settings.timeoutMs)}`,
      { cause: error, details: { timeout: true } },
    )
  }
  if (signal?.aborted) {
    return new CryptorgError('ERR_UPSTREAM', 'CoinGecko request was cancelled', {
      cause: error,
      details: { cancelled: true },
    })
  }
  const host = new URL(settings.baseUrl).host
  return new CryptorgError(
    'ERR_UPSTREAM',
    `could not reach CoinGecko at ${host}: ${redact(rootCause(error), secrets)}`,
    {
      cause: error,
    },
  )
}

/** The innermost cause's code or message: `ECONNREFUSED` says more than `fetch failed`. */
function rootCause(error: unknown): string {
  let current: unknown = error
  for (let depth = 0; depth < 5; depth++) {
    const next = (current as { cause?: unknown } | null)?.cause
    if (next === undefined || next === null) break
    current = next
  }
  const code = (current as { code?: unknown } | null)?.code
  if (typeof code === 'string') return code
  return current instanceof Error ? current.message : String(current)
}

/** Reads a body as UTF-8, refusing one larger than `maxBytes` without reading the rest. */
async function readLimited(
  body: ReadableStream<Uint8Array> | undefined,
  maxBytes: number,
): Promise<string> {
  if (!body) return ''
  const reader = body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > maxBytes) {
      await reader.cancel().catch(() => {})
      throw new CryptorgError(
        'ERR_UPSTREAM',
        `CoinGecko sent an answer larger than ${maxBytes / 1024} KiB; it was not read`,
      )
    }
    chunks.push(value)
  }
  return Buffer.concat(chunks).toString('utf8')
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)]
}
