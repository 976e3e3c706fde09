/**
 * The coins the poller asks CoinGecko for. Each tracked symbol maps to one CoinGecko coin id
 * and one quote currency; symbols are not unique on CoinGecko, so the id is always explicit.
 *
 * @module
 */
import { encodeTimestamp } from '../db/dialect.js'
import { CryptorgError } from '../errors.js'
import { type Actor, requireAdmin, resolveAccess } from './actor.js'
import type { CoreContext } from './context.js'
import { quoteInput } from './money.js'
import { normalizeCoinId, normalizeCurrency, normalizeSymbol, requireObject } from './validate.js'

/** A tracked coin. */
export interface TrackedCoin {
  /** Symbol prices are stored under, such as `BTC`. */
  symbol: string
  /** CoinGecko coin id, such as `bitcoin`. */
  coin_id: string
  /** Quote currency, such as `usd`. */
  vs_currency: string
}

/** Input of {@link CoinService.track}. */
export interface TrackCoinInput {
  symbol: string
  coinId: string
  /** @default 'usd' */
  vsCurrency?: string
}

/** Tracked coins apply to every organization: anyone signed in may read them, admins change them. */
export interface CoinService {
  /** Tracked coins by symbol. A new database tracks BTC (bitcoin) and ETH (ethereum) in usd. */
  list(): Promise<TrackedCoin[]>
  /**
   * Starts tracking a coin, or changes the coin id or currency of a tracked symbol.
   *
   * @throws CryptorgError `ERR_VALIDATION`
   */
  track(input: TrackCoinInput): Promise<TrackedCoin>
  /**
   * Stops tracking a symbol; its stored prices stay.
   *
   * @throws CryptorgError `ERR_NOT_FOUND` when the symbol is not tracked.
   */
  untrack(symbol: string): Promise<TrackedCoin>
}

export function createCoinService(context: CoreContext, actor: Actor): CoinService {
  const { db, clock } = context
  const admin = async (doing: string) => requireAdmin(await resolveAccess(db, actor), doing)

  return {
    async list() {
      await resolveAccess(db, actor)
      return db
        .selectFrom('tracked_coins')
        .select(['symbol', 'coin_id', 'vs_currency'])
        .orderBy('symbol')
        .execute()
    },

    async track(input) {
      requireObject(input, 'coin')
      await admin('tracking coins')
      const coin: TrackedCoin = {
        symbol: normalizeSymbol(input.symbol),
        coin_id: normalizeCoinId(input.coinId),
        vs_currency: normalizeCurrency(input.vsCurrency ?? 'usd', 'vs currency'),
      }
      await db
        .insertInto('tracked_coins')
        .values({ ...coin, created_at: encodeTimestamp(clock.now()) })
        .onConflict((oc) =>
          oc.column('symbol').doUpdateSet({ coin_id: coin.coin_id, vs_currency: coin.vs_currency }),
        )
        .execute()
      return coin
    },

    async untrack(input) {
      const symbol = normalizeSymbol(input)
      await admin('untracking coins')
      const row = await db
        .deleteFrom('tracked_coins')
        .where('symbol', '=', symbol)
        .returning(['symbol', 'coin_id', 'vs_currency'])
        .executeTakeFirst()
      if (!row) {
        throw new CryptorgError('ERR_NOT_FOUND', `coin ${quoteInput(symbol)} is not tracked`, {
          details: { symbol },
        })
      }
      return row
    },
  }
}
