/**
 * `open()` wires the database, the clock, the logger and the CoinGecko client into the
 * services. The CLI, the daemon and library users all start here.
 *
 * @module
 */
import {
  type CoinGeckoClient,
  type CoinGeckoOptions,
  createCoinGeckoClient,
} from './coingecko/client.js'
import { type PasswordHashing, checkHashing } from './auth/password.js'
import { type Actor, SYSTEM } from './core/actor.js'
import { type AuditService, createAuditService } from './core/audit.js'
import {
  type AuthOptions,
  type AuthService,
  checkAuthOptions,
  createAuthService,
} from './core/auth.js'
import { type CoinService, createCoinService } from './core/coins.js'
import type { CoreContext } from './core/context.js'
import { type MemberService, createMemberService } from './core/members.js'
import { type OrgService, createOrgService } from './core/orgs.js'
import { type PriceService, createPriceService } from './core/prices.js'
import { type UserService, createUserService } from './core/users.js'
import { type Poller, createPoller } from './daemon/poller.js'
import { openDatabase } from './db/connect.js'
import { parseDatabaseLocation } from './db/location.js'
import { type PostgresOptions, checkPostgresOptions } from './db/postgres.js'
import { guardStorage } from './db/storage-errors.js'
import {
  type Clock,
  type FetchLike,
  type Logger,
  type Sleep,
  realSleep,
  silentLogger,
  systemClock,
} from './deps.js'
import { validationError } from './errors.js'

/** Workspaces kept for reuse by {@link Cryptorg.as}, one per user. */
const MAX_CACHED_WORKSPACES = 1000

/** Options of {@link open}. */
export interface OpenOptions {
  /**
   * Where the data lives: a SQLite file (created with its schema if missing), `:memory:` for a
   * throwaway one, a `sqlite:` URL, or a `postgres://user@host:5432/name` URL (its schema is
   * created or migrated in the connection's current schema).
   */
  database?: string
  /** The same as `database`; the name from before Postgres was supported. */
  databasePath?: string
  /** Pool size, statement timeout and TLS for a Postgres database. */
  postgres?: PostgresOptions
  /** @default systemClock */
  clock?: Clock
  /** Receives debug to error events. @default silentLogger */
  logger?: Logger
  /** Used for CoinGecko requests. @default globalThis.fetch */
  fetch?: FetchLike
  /** Used by the poll loop between ticks. @default a timer that wakes early on abort */
  sleep?: Sleep
  /** CoinGecko settings; checked when open() runs. @default the public API without a key */
  coingecko?: CoinGeckoOptions
  /** Used for tick jitter. @default Math.random */
  random?: () => number
  /** Identifies this process in the daemon's leader lease. @default host:pid:random */
  daemonId?: string
  /** Token lifetimes and the signing secret. */
  auth?: AuthOptions
  /**
   * scrypt cost for new password hashes. Lower it only in tests: existing hashes keep the cost
   * they were made with. @default DEFAULT_PASSWORD_HASHING
   */
  passwordHashing?: Partial<PasswordHashing>
}

/**
 * Everything one actor may do. Each operation checks the actor's rights in the database when it
 * runs: organizations the actor is not a member of are not found, changes beyond the actor's
 * role are forbidden.
 */
export interface Workspace {
  readonly actor: Actor
  readonly orgs: OrgService
  readonly prices: PriceService
  readonly members: MemberService
  readonly users: UserService
  readonly coins: CoinService
  readonly audit: AuditService
}

/** An open cryptorg installation. Close it when done (or use `await using`). */
export interface Cryptorg extends AsyncDisposable {
  /** Sign-in, tokens and the first administrator. */
  readonly auth: AuthService
  /** Acts as a user (from `auth.authenticate()` or `auth.actorFor()`). */
  as(actor: Actor): Workspace
  /** Acts as the installation itself, which sees and may do everything. */
  readonly system: Workspace
  readonly poller: Poller
  /** Closes the database. Safe to call more than once. */
  close(): Promise<void>
}

/**
 * Opens (and if needed creates and migrates) a cryptorg database.
 *
 * @throws CryptorgError `ERR_VALIDATION` for bad options, `ERR_STORAGE` when the database
 *   cannot be opened or migrated.
 *
 * @example
 * ```ts
 * import { open } from 'cryptorg'
 *
 * const c = await open({ databasePath: './prices.db' })
 * const alice = await c.auth.actorFor('alice')
 * const acme = await c.as(alice).orgs.create('Acme')
 * await c.as(alice).prices.add({ org: acme.id, symbol: 'BTC', price: '45000.5' })
 * console.log(await c.as(alice).prices.latest('Acme'))
 * await c.close()
 * ```
 */
export async function open(options: OpenOptions): Promise<Cryptorg> {
  if (!options || typeof options !== 'object') {
    throw validationError('database', 'open() needs options with a database')
  }
  const location = parseDatabaseLocation(options.database ?? options.databasePath, 'database')
  const postgres = checkPostgresOptions(options.postgres)
  const clock = options.clock ?? systemClock
  const logger = options.logger ?? silentLogger
  const fetchImpl = options.fetch ?? globalThis.fetch
  const sleep = options.sleep ?? realSleep
  const hashing = checkHashing(options.passwordHashing)
  const authOptions = checkAuthOptions(options.auth)
  // Built now so that a bad setting fails at open(), not at the first tick.
  const client: CoinGeckoClient = createCoinGeckoClient(options.coingecko ?? {}, {
    fetch: fetchImpl,
    clock,
  })

  const { db, dialect } = await openDatabase(location, {
    logger,
    ...(postgres && { postgres }),
  })

  const context: CoreContext = Object.freeze({ db, dialect, clock, logger })
  let closed: Promise<void> | undefined
  const close = () => (closed ??= db.destroy())
  const guard = <T extends object>(service: T) => guardStorage(service, () => closed !== undefined)
  const build = (actor: Actor): Workspace =>
    Object.freeze({
      actor,
      orgs: guard(createOrgService(context, actor)),
      prices: guard(createPriceService(context, actor)),
      members: guard(createMemberService(context, actor)),
      users: guard(createUserService(context, actor, { hashing })),
      coins: guard(createCoinService(context, actor)),
      audit: guard(createAuditService(context, actor)),
    })
  // A server calls as() on every request; the services hold no per-user state (rights are read
  // at each call), so one workspace per user id serves them all.
  const workspaces = new Map<string, Workspace>()
  const as = (actor: Actor): Workspace => {
    if (actor?.kind !== 'user' || typeof actor.id !== 'string') return build(actor)
    let workspace = workspaces.get(actor.id)
    if (!workspace) {
      if (workspaces.size >= MAX_CACHED_WORKSPACES) workspaces.clear()
      workspace = build(actor)
      workspaces.set(actor.id, workspace)
    }
    return workspace
  }
  const system = as(SYSTEM)
  const poller = createPoller(context, {
    client,
    prices: system.prices,
    sleep,
    random: options.random ?? Math.random,
    ...(options.daemonId !== undefined && { daemonId: options.daemonId }),
  })

  return Object.freeze({
    auth: guard(createAuthService(context, { ...authOptions, hashing })),
    as,
    system,
    poller: guard(poller),
    close,
    [Symbol.asyncDispose]: close,
  })
}
