/**
 * Price history per organization: manual entries, the latest price of each symbol, and
 * filtered history.
 *
 * @module
 */
import { sql } from 'kysely'

import { encodeTimestamp } from '../db/dialect.js'
import type { CryptoPriceTable, PriceSource } from '../db/schema.js'
import { validationError } from '../errors.js'
import type { CoreContext } from './context.js'
import { parsePrice } from './money.js'
import { findOrgRow } from './orgs.js'
import { formatTimestamp, parseMoment } from './time.js'
import { normalizeCurrency, normalizeSymbol, parseBoundedInteger } from './validate.js'

/** A price as the library returns it and the CLI and API print it. */
export interface Price {
  id: number
  org_id: string
  /** Upper-case ticker such as `BTC`. */
  symbol: string
  /** Exact decimal string with 10 decimals, such as `45000.0000000000`. */
  price: string
  /** Quote currency, lower-case, such as `usd`. */
  currency: string
  /** ISO-8601 UTC time the price was recorded. */
  timestamp: string
  source: PriceSource
}

/** Input of {@link PriceService.add}. */
export interface AddPriceInput {
  /** Organization id or name. */
  org: string
  symbol: string
  /** A plain decimal string; numbers are refused so that no float is involved. */
  price: string
  /** @default 'usd' */
  currency?: string
}

/** Filters of {@link PriceService.history}. */
export interface PriceHistoryOptions {
  symbol?: string
  /** Earliest timestamp, inclusive: a Date or ISO-8601 text. */
  since?: Date | string
  /** Latest timestamp, inclusive: a Date or ISO-8601 text. */
  until?: Date | string
  /** @default DEFAULT_HISTORY_LIMIT, at most MAX_HISTORY_LIMIT */
  limit?: number
}

export const DEFAULT_HISTORY_LIMIT = 100
export const MAX_HISTORY_LIMIT = 10_000

export interface PriceService {
  /**
   * Records a manual price at the current time.
   *
   * @throws CryptorgError `ERR_VALIDATION` for a bad symbol, price or currency (nothing is
   *   written), `ERR_NOT_FOUND` for an unknown organization.
   */
  add(input: AddPriceInput): Promise<Price>
  /** The newest price of each symbol of an organization, by symbol. */
  latest(org: string): Promise<Price[]>
  /** Prices of an organization, newest first. */
  history(org: string, options?: PriceHistoryOptions): Promise<Price[]>
}

export function createPriceService(context: CoreContext): PriceService {
  const { db, clock } = context

  return {
    async add(input) {
      if (typeof input.price !== 'string') {
        throw validationError('price', 'price must be given as a decimal string')
      }
      const symbol = normalizeSymbol(input.symbol)
      const price = parsePrice(input.price)
      const currency = normalizeCurrency(input.currency ?? 'usd')
      const org = await findOrgRow(db, input.org)

      const row = {
        org_id: org.id,
        symbol,
        price,
        currency,
        timestamp: encodeTimestamp(clock.now()),
        source: 'manual' as const,
        quoted_at: null,
      }
      const { id } = await db
        .insertInto('crypto_prices')
        .values(row)
        .returning('id')
        .executeTakeFirstOrThrow()
      return toPrice({ ...row, id: Number(id) })
    },

    async latest(orgRef) {
      const org = await findOrgRow(db, orgRef)
      // Walks the distinct symbols of the organization through the (org_id, symbol, timestamp)
      // index, one seek per symbol, then takes each symbol's newest row: the cost depends on
      // the number of symbols, not on the length of the history.
      const { rows } = await sql<CryptoPriceTable & { id: number }>`
        with recursive symbols(symbol) as (
          select min(symbol) from crypto_prices where org_id = ${org.id}
          union all
          select (
            select min(p.symbol) from crypto_prices p
            where p.org_id = ${org.id} and p.symbol > symbols.symbol
          )
          from symbols where symbols.symbol is not null
        )
        select cp.* from symbols
        join crypto_prices cp on cp.id = (
          select p.id from crypto_prices p
          where p.org_id = ${org.id} and p.symbol = symbols.symbol
          order by p.timestamp desc, p.id desc
          limit 1
        )
        order by cp.symbol
      `.execute(db)
      return rows.map(toPrice)
    },

    async history(orgRef, options = {}) {
      const symbol = options.symbol === undefined ? undefined : normalizeSymbol(options.symbol)
      const since = options.since === undefined ? undefined : toMoment(options.since, 'since')
      const until = options.until === undefined ? undefined : toMoment(options.until, 'until')
      if (since && until && since > until) {
        throw validationError('since', 'since must not be later than until')
      }
      const limit =
        options.limit === undefined
          ? DEFAULT_HISTORY_LIMIT
          : parseBoundedInteger(options.limit, 'limit', 1, MAX_HISTORY_LIMIT)
      const org = await findOrgRow(db, orgRef)

      let query = db.selectFrom('crypto_prices').selectAll().where('org_id', '=', org.id)
      if (symbol) query = query.where('symbol', '=', symbol)
      if (since) query = query.where('timestamp', '>=', encodeTimestamp(since))
      if (until) query = query.where('timestamp', '<=', encodeTimestamp(until))
      const rows = await query
        .orderBy('timestamp', 'desc')
        .orderBy('id', 'desc')
        .limit(limit)
        .execute()
      return rows.map(toPrice)
    },
  }
}

function toMoment(value: Date | string, field: string): Date {
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw validationError(field, `${field} is an invalid date`)
    return value
  }
  return parseMoment(value, field)
}

export function toPrice(row: Omit<CryptoPriceTable, 'id'> & { id: number }): Price {
  return {
    id: Number(row.id),
    org_id: row.org_id,
    symbol: row.symbol,
    price: row.price,
    currency: row.currency,
    timestamp: formatTimestamp(row.timestamp),
    source: row.source,
  }
}
