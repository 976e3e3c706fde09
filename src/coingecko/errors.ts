/**
 * Turns a failed CoinGecko answer into a {@link CryptorgError}. CoinGecko has several error
 * body shapes; all are read so the message can carry its error code and text.
 *
 * @module
 */
import { CryptorgError } from '../errors.js'
import { type JsonValue, JsonNumber, isJsonObject, parseJsonLossless } from '../lossless-json.js'

export interface UpstreamErrorBody {
  errorCode?: number
  message?: string
}

/** Reads the error code and message from any of CoinGecko's error shapes, or from none. */
export function readErrorBody(text: string): UpstreamErrorBody {
  let body: JsonValue
  try {
    body = parseJsonLossless(text)
  } catch {
    return {}
  }
  if (!isJsonObject(body)) return {}

  const candidates = [body]
  const error = body['error']
  if (isJsonObject(error)) candidates.push(error)
  for (const holder of [...candidates]) {
    const status = holder['status']
    if (isJsonObject(status)) candidates.push(status)
  }

  const result: UpstreamErrorBody = {}
  for (const holder of candidates) {
    const code = holder['error_code']
    if (result.errorCode === undefined && code instanceof JsonNumber && /^\d+$/.test(code.text)) {
      result.errorCode = Number(code.text)
    }
    const message = holder['error_message']
    if (result.message === undefined && typeof message === 'string') result.message = message
  }
  if (result.message === undefined && typeof error === 'string') result.message = error
  return result
}

/** CoinGecko error codes that mean the key or plan setting is wrong; retrying will not help. */
const KEY_ERROR_CODES = new Set([10002, 10005, 10010, 10011, 10012])

/** Parses Retry-After (seconds or an HTTP date) into milliseconds from `now`. */
export function parseRetryAfter(header: string | null, now: Date): number | undefined {
  if (!header) return undefined
  const trimmed = header.trim()
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000
  const date = Date.parse(trimmed)
  if (Number.isNaN(date)) return undefined
  return Math.max(0, date - now.getTime())
}

/**
 * Builds the error for a non-2xx answer. Upstream text is quoted with every value of `secrets`
 * (the API key) blanked out, in case the server echoes what it was sent.
 */
export function upstreamHttpError(
  status: number,
  bodyText: string,
  retryAfterMs: number | undefined,
  secrets: readonly string[] = [],
): CryptorgError {
  const { errorCode, message } = readErrorBody(bodyText)
  const said = message ? `: ${oneLine(redact(message, secrets))}` : ''
  const coded = errorCode === undefined ? '' : ` (error ${errorCode})`
  const details = { status, upstreamCode: errorCode, retryAfterMs }

  if (status === 429) {
    const wait =
      retryAfterMs === undefined ? '' : `; retry after ${Math.ceil(retryAfterMs / 1000)}s`
    return new CryptorgError('ERR_RATE_LIMITED', `CoinGecko rate limit reached${wait}`, {
      details,
    })
  }
  const keyProblem =
    status === 401 || status === 403 || (errorCode !== undefined && KEY_ERROR_CODES.has(errorCode))
  if (keyProblem) {
    return new CryptorgError(
      'ERR_UPSTREAM',
      `CoinGecko refused the API key${coded}${said}; check COINGECKO_API_KEY and ` +
        'COINGECKO_API_PLAN (demo or pro)',
      { details: { ...details, keyProblem: true } },
    )
  }
  return new CryptorgError('ERR_UPSTREAM', `CoinGecko answered HTTP ${status}${coded}${said}`, {
    details,
  })
}

/** Replaces each secret in `text` with a marker. */
export function redact(text: string, secrets: readonly string[]): string {
  return secrets.reduce(
    (result, secret) => (secret === '' ? result : result.split(secret).join('[redacted]')),
    text,
  )
}

/** Keeps an upstream message to one short line. */
function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim()
  return flat.length > 200 ? `${flat.slice(0, 200)}...` : flat
}
