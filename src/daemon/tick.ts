/**
 * One poll: a single CoinGecko request for every tracked coin, then one row per organization
 * and usable quote, all written in one transaction.
 *
 * @module
 */
import { type Kysely, sql } from 'kysely'

import type { CoinGeckoClient } from '../coingecko/client.js'
import { QUOTE_PROBLEM_TEXT, type QuoteProblem } from '../coingecko/quotes.js'
import type { CoreContext } from '../core/context.js'
import { SYSTEM } from '../core/actor.js'
import { createCoinService } from '../core/coins.js'
import { encodeTimestamp } from '../db/dialect.js'
import type { Database } from '../db/schema.js'
import { storageError } from '../db/storage-errors.js'
import { CryptorgError, isCryptorgError } from '../errors.js'
import { formatDuration, formatTimestamp } from '../core/time.js'

/** A quote older than this is still stored, with a warning in the log. */
export const STALE_QUOTE_MS = 60 * 60 * 1000

/** A tracked coin whose quote was not stored in a tick, and why. */
export interface SkippedQuote {
  symbol: string
  coin_id: string
  currency: string
  problem: QuoteProblem
  reason: string
}

/** What one tick did. */
export interface TickResult {
  /** ISO-8601 UTC timestamp of every row the tick wrote: its slot, or its start time. */
  started_at: string
  duration_ms: number
  organizations: number
  /** Symbols stored in this tick. */
  symbols: string[]
  rows_written: number
  skipped: SkippedQuote[]
}

/** Options of {@link runTick}. */
export interface TickOptions {
  /** Aborts the CoinGecko request; the write, once started, is never interrupted. */
  signal?: AbortSignal
  /**
   * Timestamp of the rows: the tick's slot in the daemon loop. Writing one slot twice adds no
   * rows the second time.
   * @default the clock's current time
   */
  timestamp?: Date
  /**
   * Runs first inside the write transaction; returning false abandons the tick with
   * `ERR_CONFLICT` and writes nothing. The daemon loop re-checks its leader lease here.
   */
  fence?: (trx: Kysely<Database>) => Promise<boolean>
  /**
   * Runs last inside the write transaction (or a transaction of its own when there was
   * nothing to write), so that what it records commits with the rows or not at all.
   */
  onWritten?: (trx: Kysely<Database>, rowsWritten: number, startedAt: Date) => Promise<void>
}

/**
 * Runs one tick.
 *
 * @throws CryptorgError `ERR_UPSTREAM` or `ERR_RATE_LIMITED` when CoinGecko fails or sends no
 *   usable price (nothing is written), `ERR_STORAGE` when the write fails (nothing is written).
 */
export async function runTick(
  context: CoreContext,
  client: CoinGeckoClient,
  options: TickOptions = {},
): Promise<TickResult> {
  const { db, dialect, clock, logger } = context
  const { signal, fence, onWritten } = options
  const startedAt = clock.now()
  const timestamp = encodeTimestamp(options.timestamp ?? startedAt)
  const coins = await createCoinService(context, SYSTEM).list()
  const knownOrganizations = await countOrganizations(db)
  // Nothing could be stored: spare CoinGecko (and the rate limit) the request.
  if (coins.length === 0 || knownOrganizations === 0) {
    const missing = coins.length === 0 ? 'no coins are tracked' : 'there are no organizations'
    logger.warn(`${missing}; nothing to fetch`, {})
    if (onWritten) await db.transaction().execute((trx) => onWritten(trx, 0, startedAt))
    return emptyResult(timestamp, startedAt, clock.now(), knownOrganizations)
  }

  const quotes = await client.fetchQuotes(
    coins.map((coin) => ({ coinId: coin.coin_id, currency: coin.vs_currency })),
    signal,
  )

  const usable: { symbol: string; price: string; currency: string; quotedAt: Date | null }[] = []
  const skipped: SkippedQuote[] = []
  quotes.forEach((quote, index) => {
    const coin = coins[index]!
    if (!quote.ok) {
      const reason = QUOTE_PROBLEM_TEXT[quote.problem]
      skipped.push({
        symbol: coin.symbol,
        coin_id: coin.coin_id,
        currency: coin.vs_currency,
        problem: quote.problem,
        reason,
      })
      logger.warn(`${coin.symbol} skipped: ${reason}`, { symbol: coin.symbol, coin: coin.coin_id })
      return
    }
    const age = quote.quotedAt ? startedAt.getTime() - quote.quotedAt.getTime() : 0
    if (age > STALE_QUOTE_MS) {
      logger.warn(
        `${coin.symbol} quote is stale: CoinGecko last updated it ${formatDuration(age)} ago`,
        {
          symbol: coin.symbol,
        },
      )
    }
    usable.push({ symbol: coin.symbol, ...quote })
  })
  if (usable.length === 0) {
    const reasons = skipped.map((s) => `${s.symbol}: ${s.reason}`).join('; ')
    throw new CryptorgError('ERR_UPSTREAM', `CoinGecko sent no usable price (${reasons})`, {
      details: { skipped },
    })
  }

  let organizations = 0
  let rowsWritten = 0
  try {
    await db.transaction().execute(async (trx) => {
      if (fence && !(await fence(trx))) {
        throw new CryptorgError(
          'ERR_CONFLICT',
          'another daemon holds the leader lease; this tick was not written',
          { details: { leaseLost: true } },
        )
      }
      organizations = await countOrganizations(trx)
      // One INSERT ... SELECT per symbol fans the quote out to every organization inside the
      // database, whatever the number of organizations.
      for (const quote of usable) {
        const result = await trx
          .insertInto('crypto_prices')
          .columns(['org_id', 'symbol', 'price', 'currency', 'timestamp', 'source', 'quoted_at'])
          .expression((eb) =>
            eb
              .selectFrom('organizations')
              .select((s) => [
                'id',
                s.val(quote.symbol).as('symbol'),
                dialect.typed(quote.price, 'decimal').as('price'),
                s.val(quote.currency).as('currency'),
                dialect.typed(timestamp, 'timestamp').as('timestamp'),
                s.val('coingecko').as('source'),
                dialect
                  .typed(quote.quotedAt ? encodeTimestamp(quote.quotedAt) : null, 'timestamp')
                  .as('quoted_at'),
              ])
              // SQLite reads "SELECT ... FROM t ON CONFLICT" as a join unless a WHERE comes first.
              .where(sql<boolean>`true`),
          )
          // A slot already written (by a daemon that lost the lease mid-tick) stays as it is.
          .onConflict((oc) => oc.doNothing())
          .executeTakeFirst()
        rowsWritten += Number(result.numInsertedOrUpdatedRows ?? 0)
      }
      await onWritten?.(trx, rowsWritten, startedAt)
    })
  } catch (error) {
    throw isCryptorgError(error) ? error : storageError('could not store the prices', error)
  }

  return {
    started_at: formatTimestamp(timestamp),
    duration_ms: clock.now().getTime() - startedAt.getTime(),
    organizations,
    symbols: usable.map((q) => q.symbol),
    rows_written: rowsWritten,
    skipped,
  }
}

async function countOrganizations(db: Kysely<Database>): Promise<number> {
  const { count } = await db
    .selectFrom('organizations')
    .select((eb) => eb.fn.countAll<number | string>().as('count'))
    .executeTakeFirstOrThrow()
  return Number(count)
}

function emptyResult(
  timestamp: string,
  startedAt: Date,
  finishedAt: Date,
  organizations: number,
): TickResult {
  return {
    started_at: formatTimestamp(timestamp),
    duration_ms: finishedAt.getTime() - startedAt.getTime(),
    organizations,
    symbols: [],
    rows_written: 0,
    skipped: [],
  }
}

/** One line saying what a tick did, for logs and the CLI. */
export function describeTick(result: TickResult): string {
  const symbols = result.symbols.length > 0 ? result.symbols.join(', ') : 'no symbols'
  const orgs = `${result.organizations} organization${result.organizations === 1 ? '' : 's'}`
  const skipped =
    result.skipped.length > 0 ? `; skipped ${result.skipped.map((s) => s.symbol).join(', ')}` : ''
  return (
    `stored ${result.rows_written} price${result.rows_written === 1 ? '' : 's'} ` +
    `(${symbols} for ${orgs}) in ${formatDuration(result.duration_ms)}${skipped}`
  )
}
