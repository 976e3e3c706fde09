/**
 * Reads a `/simple/price` answer coin by coin. CoinGecko leaves out unknown ids, sends `{}` for
 * a coin without a price in the asked currency, and may send null: each of those becomes a
 * named problem for that coin alone, never a zero.
 *
 * @module
 */
import { type UpstreamPriceProblem, priceFromNumberText } from '../core/money.js'
import { type JsonValue, JsonNumber, isJsonObject } from '../lossless-json.js'

/** One price the poller asks CoinGecko for. */
export interface QuoteRequest {
  coinId: string
  currency: string
}

export type QuoteProblem = UpstreamPriceProblem | 'missing-coin' | 'missing-price' | 'null-price'

export type Quote =
  | { ok: true; coinId: string; currency: string; price: string; quotedAt: Date | null }
  | { ok: false; coinId: string; currency: string; problem: QuoteProblem }

/** Human wording of each problem, for log lines. */
export const QUOTE_PROBLEM_TEXT: Readonly<Record<QuoteProblem, string>> = {
  'missing-coin': 'CoinGecko does not know this coin id',
  'missing-price': 'CoinGecko sent no price in this currency',
  'null-price': 'CoinGecko sent a null price',
  'not-a-number': 'CoinGecko sent a price that is not a number',
  'not-positive': 'CoinGecko sent a price that is zero or negative',
  'rounds-to-zero': 'the price is below 0.00000000005 and would round to zero',
  'too-large': 'the price has more than 10 digits before the decimal point',
}

/** Pairs each request with what the body says about it, in request order. */
export function readQuotes(body: JsonValue, requests: readonly QuoteRequest[]): Quote[] {
  const coins = isJsonObject(body) ? body : {}
  return requests.map(({ coinId, currency }) => {
    const coin = coins[coinId]
    if (!isJsonObject(coin)) return { ok: false, coinId, currency, problem: 'missing-coin' }

    const raw = coin[currency]
    if (raw === undefined) return { ok: false, coinId, currency, problem: 'missing-price' }
    if (raw === null) return { ok: false, coinId, currency, problem: 'null-price' }
    if (!(raw instanceof JsonNumber)) {
      return { ok: false, coinId, currency, problem: 'not-a-number' }
    }

    const converted = priceFromNumberText(raw.text)
    if (!converted.ok) return { ok: false, coinId, currency, problem: converted.problem }
    return { ok: true, coinId, currency, price: converted.price, quotedAt: readUnixSeconds(coin) }
  })
}

function readUnixSeconds(coin: { [key: string]: JsonValue }): Date | null {
  const raw = coin['last_updated_at']
  if (!(raw instanceof JsonNumber) || !/^\d{1,12}$/.test(raw.text)) return null
  return new Date(Number(raw.text) * 1000)
}
