/**
 * cryptorg: organizations and their cryptocurrency price history, in a local SQLite file,
 * with a CoinGecko poller.
 *
 * @example
 * ```ts
 * import { open } from 'cryptorg'
 *
 * await using c = await open({ databasePath: 'prices.db' })
 * const { access } = await c.auth.login('alice', process.env.PASSWORD!)
 * const alice = c.as(await c.auth.authenticate(access))
 * await alice.orgs.create('Acme')
 * await c.poller.tick()
 * console.log(await alice.prices.latest('Acme'))
 * ```
 *
 * @module
 */
export { open } from './open.js'
export type { Cryptorg, OpenOptions, Workspace } from './open.js'
export { SYSTEM } from './core/actor.js'
export type { Actor, SystemActor, UserActor } from './core/actor.js'
export { DEFAULT_ACCESS_TTL_SECONDS, DEFAULT_REFRESH_TTL_SECONDS } from './core/auth.js'
export type { AuthOptions, AuthService, TokenPair } from './core/auth.js'
export type { TokenClaims, TokenType } from './auth/tokens.js'
export { DEFAULT_PASSWORD_HASHING, PASSWORD_MIN_LENGTH } from './auth/password.js'
export type { PasswordHashing } from './auth/password.js'
export type { ChangePasswordInput, CreateUserInput, User, UserService } from './core/users.js'
export type { Member, MemberService } from './core/members.js'
export type { AuditAction, AuditEvent, AuditListOptions, AuditService } from './core/audit.js'
export type { Role } from './db/schema.js'
export type { Poller } from './daemon/poller.js'
export type { DaemonStatus } from './daemon/health.js'

export { CryptorgError, EXIT_CODES, HTTP_STATUSES, isCryptorgError } from './errors.js'
export type { CryptorgErrorOptions, ErrorCode } from './errors.js'

export { realSleep, silentLogger, systemClock } from './deps.js'
export type { Clock, FetchLike, LogFields, Logger, Sleep } from './deps.js'

export { PRICE_DECIMALS, parsePrice } from './core/money.js'
export { parseDuration, parseMoment } from './core/time.js'
export { ORG_ORDERINGS } from './core/orgs.js'
export type {
  DeletedOrganization,
  OrgListOptions,
  OrgOrdering,
  OrgService,
  Organization,
} from './core/orgs.js'
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
