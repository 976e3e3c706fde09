/**
 * Price history per organization: manual entries, the latest price of each symbol, filtered
 * history, and pruning by age.
 *
 * @module
 */
import { type Kysely, sql } from 'kysely'

import { encodeTimestamp } from '../db/dialect.js'
import type { CryptoPriceTable, Database, PriceSource } from '../db/schema.js'
import { CryptorgError, isCryptorgError, validationError } from '../errors.js'
import {
  type Access,
  type Actor,
  findVisibleOrg,
  requireAdmin,
  requireRole,
  resolveAccess,
  resolveOrgAccess,
} from './actor.js'
import type { CoreContext } from './context.js'
import { parsePrice, quoteInput } from './money.js'
import { formatTimestamp, parseDuration, toMoment } from './time.js'
import {
  normalizeCurrency,
  normalizeSymbol,
  parseBoundedInteger,
  requireObject,
} from './validate.js'

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

/** Filters and page of {@link PriceService.list}. */
export interface PriceListOptions {
  /** Only this organization's prices (id or name). @default every organization the actor sees */
  org?: string
  symbol?: string
  since?: Date | string
  until?: Date | string
  /** @default DEFAULT_HISTORY_LIMIT, at most MAX_HISTORY_LIMIT */
  limit?: number | string
  /** Rows to skip, for paging. @default 0 */
  offset?: number | string
}

/** One page of prices and the number of rows matching the filters. */
export interface PricePage {
  count: number
  results: Price[]
}

/** Fields of {@link PriceService.update}; absent fields keep their value. */
export interface UpdatePriceInput {
  /** Moves the price to another organization (id or name); needs the member role in both. */
  org?: string
  symbol?: string
  price?: string
  currency?: string
}

/** Offsets beyond this are refused: paging that deep is a scan, use `until` instead. */
export const MAX_LIST_OFFSET = 1_000_000

/** Options of {@link PriceService.prune}. */
export interface PrunePricesOptions {
  /** Prices recorded strictly before this moment are deleted. */
  olderThan: Date
  /** Only this organization's prices (id or name). @default every organization */
  org?: string
  /** Counts what would be deleted and deletes nothing. @default false */
  dryRun?: boolean
  /** Rows deleted per transaction, 1 to MAX_PRUNE_BATCH_SIZE. @default DEFAULT_PRUNE_BATCH_SIZE */
  batchSize?: number
  /** Checked between batches: once aborted, no further batch starts. */
  signal?: AbortSignal
}

/** What {@link PriceService.prune} did, or would do on a dry run. */
export interface PruneResult {
  /** The cutoff as ISO-8601 UTC: prices before it were (or would be) deleted. */
  cutoff: string
  /** Rows deleted, or that would be deleted on a dry run. */
  deleted: number
  dry_run: boolean
}

export const DEFAULT_PRUNE_BATCH_SIZE = 5000
export const MAX_PRUNE_BATCH_SIZE = 100_000
/**
 * The shortest age front ends accept for pruning: a day. The daemon stores a row every few
 * minutes, so a slip such as `1s` or `90m` for `90d` would otherwise wipe nearly all history.
 */
export const MIN_PRUNE_AGE_MS = 86_400_000

/**
 * Price operations, acting as one user (or the system). Reading needs any role in the
 * organization, adding the member role, pruning one organization the owner role and pruning
 * every organization an administrator.
 */
export interface PriceService {
  /**
   * Records a manual price at the current time.
   *
   * @throws CryptorgError `ERR_VALIDATION` for a bad symbol, price or currency (nothing is
   *   written), `ERR_NOT_FOUND` for an organization the actor cannot see, `ERR_FORBIDDEN`
   *   for a viewer.
   */
  add(input: AddPriceInput): Promise<Price>
  /**
   * One price by id. A price of an organization the actor cannot see is not found.
   *
   * @throws CryptorgError `ERR_NOT_FOUND`
   */
  get(id: number | string): Promise<Price>
  /** Changes a price (member role). @throws CryptorgError `ERR_NOT_FOUND`, `ERR_FORBIDDEN` */
  update(id: number | string, input: UpdatePriceInput): Promise<Price>
  /** Deletes one price (member role). @throws CryptorgError `ERR_NOT_FOUND`, `ERR_FORBIDDEN` */
  delete(id: number | string): Promise<Price>
  /** Prices of every organization the actor sees, or of one, newest first, a page at a time. */
  list(options?: PriceListOptions): Promise<PricePage>
  /** The newest price of each symbol of an organization, by symbol. */
  latest(org: string): Promise<Price[]>
  /** Prices of an organization, newest first. */
  history(org: string, options?: PriceHistoryOptions): Promise<Price[]>
  /**
   * Deletes prices recorded before `options.olderThan`, in batches of `batchSize` rows, each
   * batch its own short transaction, so readers and the poller are never held up for long.
   * When the signal aborts, the batches already deleted stay deleted and the count says so.
   *
   * @throws CryptorgError `ERR_VALIDATION` for an invalid date or batch size and
   *   `ERR_NOT_FOUND` for an unknown organization, both before anything is deleted;
   *   `ERR_STORAGE` when a batch fails (earlier batches stay deleted).
   *
   * @example
   * ```ts
   * const ninetyDaysAgo = new Date(Date.now() - 90 * 86_400_000)
   * const { deleted } = await c.prices.prune({ olderThan: ninetyDaysAgo, org: 'Acme' })
   * ```
   */
  prune(options: PrunePricesOptions): Promise<PruneResult>
}

export function createPriceService(context: CoreContext, actor: Actor): PriceService {
  const { db, clock } = context
  /** A price and its organization, if the actor may see them; otherwise not found. */
  const findVisiblePrice = async (access: Access, id: number, from: Kysely<Database> = db) => {
    const row = await from
      .selectFrom('crypto_prices')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst()
    if (row) {
      try {
        return { row, org: await findVisibleOrg(from, access, row.org_id) }
      } catch (error) {
        if (!isCryptorgError(error) || error.code !== 'ERR_NOT_FOUND') throw error
      }
    }
    throw new CryptorgError('ERR_NOT_FOUND', `price ${id} not found`, { details: { id } })
  }
  const visibleOrg = (ref: string) => resolveOrgAccess(db, actor, ref)

  return {
    async add(input) {
      requireObject(input, 'price input')
      if (typeof input.price !== 'string') {
        throw validationError('price', 'price must be given as a decimal string')
      }
      const symbol = normalizeSymbol(input.symbol)
      const price = parsePrice(input.price)
      const currency = normalizeCurrency(input.currency ?? 'usd')
      const { access, org: visible } = await visibleOrg(input.org)
      requireRole(access, visible, 'member', 'adding prices to')
      const org = visible.row

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
      const org = (await visibleOrg(orgRef)).org.row
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

    async get(idInput) {
      const id = parsePriceId(idInput)
      const access = await resolveAccess(db, actor)
      return toPrice((await findVisiblePrice(access, id)).row)
    },

    async update(idInput, input) {
      const id = parsePriceId(idInput)
      requireObject(input, 'price input')
      if (input.price !== undefined && typeof input.price !== 'string') {
        throw validationError('price', 'price must be given as a decimal string')
      }
      const changes: Partial<
        Pick<CryptoPriceTable, 'org_id' | 'symbol' | 'price' | 'currency' | 'source' | 'quoted_at'>
      > = {}
      if (input.symbol !== undefined) changes.symbol = normalizeSymbol(input.symbol)
      if (input.price !== undefined) changes.price = parsePrice(input.price)
      if (input.currency !== undefined) changes.currency = normalizeCurrency(input.currency)
      const access = await resolveAccess(db, actor)
      return db.transaction().execute(async (trx) => {
        const { row, org } = await findVisiblePrice(access, id, trx)
        requireRole(access, org, 'member', 'changing prices of')
        if (input.org !== undefined) {
          const target = await findVisibleOrg(trx, access, input.org)
          requireRole(access, target, 'member', 'moving prices to')
          changes.org_id = target.row.id
        }
        if (Object.keys(changes).length > 0) {
          // An edited quote is no longer what CoinGecko said: it becomes a manual price.
          changes.source = 'manual'
          changes.quoted_at = null
          await trx.updateTable('crypto_prices').set(changes).where('id', '=', id).execute()
        }
        return toPrice({ ...row, ...changes })
      })
    },

    async delete(idInput) {
      const id = parsePriceId(idInput)
      const access = await resolveAccess(db, actor)
      return db.transaction().execute(async (trx) => {
        const { row, org } = await findVisiblePrice(access, id, trx)
        requireRole(access, org, 'member', 'deleting prices of')
        await trx.deleteFrom('crypto_prices').where('id', '=', id).execute()
        return toPrice(row)
      })
    },

    async list(options = {}) {
      requireObject(options, 'list options')
      const { symbol, since, until, limit } = parseFilters(options)
      const offset =
        options.offset === undefined
          ? 0
          : parseBoundedInteger(options.offset, 'offset', 0, MAX_LIST_OFFSET)
      const access = await resolveAccess(db, actor)

      let query = db.selectFrom('crypto_prices')
      if (options.org !== undefined) {
        query = query.where('org_id', '=', (await findVisibleOrg(db, access, options.org)).row.id)
      } else if (!access.unrestricted) {
        query = query.where('org_id', 'in', (eb) =>
          eb
            .selectFrom('memberships')
            .select('org_id')
            .where('user_id', '=', access.userId as string),
        )
      }
      if (symbol) query = query.where('symbol', '=', symbol)
      if (since) query = query.where('timestamp', '>=', encodeTimestamp(since))
      if (until) query = query.where('timestamp', '<=', encodeTimestamp(until))
      const [{ count }, rows] = await Promise.all([
        query
          .select((eb) => eb.fn.countAll<number | string>().as('count'))
          .executeTakeFirstOrThrow(),
        query
          .selectAll()
          .orderBy('timestamp', 'desc')
          .orderBy('id', 'desc')
          .limit(limit)
          .offset(offset)
          .execute(),
      ])
      return { count: Number(count), results: rows.map(toPrice) }
    },

    async history(orgRef, options = {}) {
      requireObject(options, 'history options')
      const { symbol, since, until, limit } = parseFilters(options)
      const org = (await visibleOrg(orgRef)).org.row

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

    async prune(options) {
      if (!(options?.olderThan instanceof Date)) {
        throw validationError('olderThan', 'olderThan must be a Date')
      }
      const cutoff = encodeTimestamp(toMoment(options.olderThan, 'olderThan'))
      const batchSize =
        options.batchSize === undefined
          ? DEFAULT_PRUNE_BATCH_SIZE
          : parseBoundedInteger(options.batchSize, 'batchSize', 1, MAX_PRUNE_BATCH_SIZE)
      const access = await resolveAccess(db, actor)
      let orgId: string | undefined
      if (options.org === undefined) {
        requireAdmin(access, 'pruning every organization')
      } else {
        const org = await findVisibleOrg(db, access, options.org)
        requireRole(access, org, 'owner', 'pruning prices of')
        orgId = org.row.id
      }
      const target = { cutoff, orgId }

      const deleted = options.dryRun
        ? await countPrunable(db, target)
        : await deleteInBatches(db, target, batchSize, options.signal)
      return { cutoff: formatTimestamp(cutoff), deleted, dry_run: Boolean(options.dryRun) }
    },
  }
}

interface PruneTarget {
  /** Encoded like stored timestamps, so text comparison is time order. */
  cutoff: string
  orgId: string | undefined
}

function prunable(db: Kysely<Database>, target: PruneTarget) {
  let query = db.selectFrom('crypto_prices').where('timestamp', '<', target.cutoff)
  if (target.orgId !== undefined) query = query.where('org_id', '=', target.orgId)
  return query
}

async function countPrunable(db: Kysely<Database>, target: PruneTarget): Promise<number> {
  const { count } = await prunable(db, target)
    .select((eb) => eb.fn.countAll<number | string>().as('count'))
    .executeTakeFirstOrThrow()
  return Number(count)
}

async function deleteInBatches(
  db: Kysely<Database>,
  target: PruneTarget,
  batchSize: number,
  signal: AbortSignal | undefined,
): Promise<number> {
  let total = 0
  while (!signal?.aborted) {
    // One statement is one transaction of its own; oldest rows go first, so an interrupted
    // prune leaves a clean cutoff behind.
    const batch = prunable(db, target).select('id').orderBy('timestamp').limit(batchSize)
    const result = await db.deleteFrom('crypto_prices').where('id', 'in', batch).executeTakeFirst()
    const deleted = Number(result.numDeletedRows)
    total += deleted
    if (deleted < batchSize) break
    // better-sqlite3 runs each statement synchronously: yielding to the event loop between
    // batches lets timers, signals and other queries on this connection through.
    await new Promise((resolve) => setTimeout(resolve, 0))
  }
  return total
}

/**
 * Parses how old prices must be to go (`90d`, `12w`), as used by `prices prune --older-than`
 * and the daemon's `--retention`, refusing anything under {@link MIN_PRUNE_AGE_MS}.
 *
 * @throws CryptorgError `ERR_VALIDATION` for text that is not a duration or is under a day.
 */
export function parsePruneAge(text: string, field: string): number {
  const ageMs = parseDuration(text, field)
  if (ageMs < MIN_PRUNE_AGE_MS) {
    throw validationError(
      field,
      `${field} must be at least 1d so that a typo cannot delete recent history, ` +
        `got ${quoteInput(text)}`,
    )
  }
  return ageMs
}

/** The filters history and list share, checked before anything is read. */
function parseFilters(options: PriceHistoryOptions | PriceListOptions) {
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
  return { symbol, since, until, limit }
}

/** Price ids are positive integers; anything else names no price. */
function parsePriceId(value: number | string): number {
  const text = String(value).trim()
  const id = /^[1-9]\d{0,15}$/.test(text) ? Number(text) : Number.NaN
  if (!Number.isSafeInteger(id)) {
    throw new CryptorgError('ERR_NOT_FOUND', `price ${quoteInput(text)} not found`, {
      details: { id: text },
    })
  }
  return id
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
