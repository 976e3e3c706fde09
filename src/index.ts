/**
 * cryptorg: organizations and their cryptocurrency price history, in a local SQLite file,
 * with a CoinGecko poller.
 *
 * @example
 * ```ts
 * import { open } from 'cryptorg'
 *
 * await using c = await open({ databasePath: 'prices.db' })
 * await c.orgs.create('Acme')
 * await c.poller.tick()
 * console.log(await c.prices.latest('Acme'))
 * ```
 *
 * @module
 */
export { open } from './open.js'
export type { Cryptorg, OpenOptions } from './open.js'
export type { Poller } from './daemon/poller.js'
export type { DaemonStatus } from './daemon/health.js'

export { CryptorgError, EXIT_CODES, HTTP_STATUSES, isCryptorgError } from './errors.js'
export type { CryptorgErrorOptions, ErrorCode } from './errors.js'

export { realSleep, silentLogger, systemClock } from './deps.js'
export type { Clock, FetchLike, LogFields, Logger, Sleep } from './deps.js'

export { PRICE_DECIMALS, parsePrice } from './core/money.js'
export { parseDuration, parseMoment } from './core/time.js'
export type { DeletedOrganization, OrgService, Organization } from './core/orgs.js'
export { DEFAULT_HISTORY_LIMIT, MAX_HISTORY_LIMIT } from './core/prices.js'
export type { AddPriceInput, Price, PriceHistoryOptions, PriceService } from './core/prices.js'
export {
  DEFAULT_PRUNE_BATCH_SIZE,
  MAX_PRUNE_BATCH_SIZE,
  MIN_PRUNE_AGE_MS,
  parsePruneAge,
} from './core/prices.js'
export type { PrunePricesOptions, PruneResult } from './core/prices.js'
export type { CoinService, TrackCoinInput, TrackedCoin } from './core/coins.js'
export type { PriceSource } from './db/schema.js'

export {
  COINGECKO_PRO_URL,
  COINGECKO_PUBLIC_URL,
  DEFAULT_COINGECKO_TIMEOUT_MS,
} from './coingecko/client.js'
export type { CoinGeckoOptions, CoinGeckoPlan } from './coingecko/client.js'
export type { QuoteProblem } from './coingecko/quotes.js'

export {
  DEFAULT_POLL_INTERVAL_MS,
  DEFAULT_SHUTDOWN_GRACE_MS,
  MIN_POLL_INTERVAL_MS,
} from './daemon/loop.js'
export type { LoopSummary, RunLoopOptions } from './daemon/loop.js'
export { describeTick } from './daemon/tick.js'
export type { SkippedQuote, TickResult } from './daemon/tick.js'
