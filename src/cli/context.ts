/**
 * Per-run state of the CLI: the parsed global flags, the output, and a lazily opened
 * installation that is closed when the run ends.
 *
 * @module
 */
import { isAbsolute, join, resolve } from 'node:path'

import { realpathSync } from 'node:fs'

import type { CoinGeckoOptions } from '../coingecko/client.js'
import type { Logger } from '../deps.js'
import { type DatabaseLocation, describeLocation, parseDatabaseLocation } from '../db/location.js'
import { MAX_TIMEOUT_MS, type PostgresOptions } from '../db/postgres.js'
import { CryptorgError } from '../errors.js'
import { type Cryptorg, type OpenOptions, type Workspace, open } from '../open.js'
import { parseDuration } from '../core/time.js'
import type { CliIo } from './io.js'
import { Output } from './output.js'
import { DATABASE_FILE_NAME, defaultDataDirectory, makePrivateDirectory } from './paths.js'

/** Flags every command accepts. */
export interface GlobalFlags {
  db?: string
  json?: boolean
  verbose?: boolean
}

export interface OpenCliOptions {
  coingecko?: CoinGeckoOptions
  logger?: Logger
}

export class CliContext {
  readonly output: Output
  private opened: Cryptorg | undefined

  constructor(
    readonly io: CliIo,
    readonly flags: GlobalFlags,
  ) {
    this.output = new Output(io, { json: Boolean(flags.json), verbose: Boolean(flags.verbose) })
  }

  /**
   * The database from `--db`, then `CRYPTORG_DB`, then the platform default: a SQLite path
   * made absolute, or a `postgres://` URL as given.
   */
  databasePath(): string {
    const location = this.databaseLocation()
    return location.kind === 'sqlite' ? location.path : location.url
  }

  /** The chosen database, parsed (see {@link databasePath}). */
  databaseLocation(): DatabaseLocation {
    const chosen = this.flags.db ?? this.io.env['CRYPTORG_DB']
    if (chosen !== undefined) {
      const from = this.flags.db !== undefined ? '--db' : 'CRYPTORG_DB'
      if (chosen.trim() === '') {
        throw new CryptorgError('ERR_USAGE', `database must not be empty (${from})`)
      }
      return this.resolveLocation(chosen, from)
    }
    const directory = defaultDataDirectory(this.io.env, this.io.homedir, this.io.platform)
    makePrivateDirectory(directory)
    return { kind: 'sqlite', path: join(directory, DATABASE_FILE_NAME) }
  }

  /** Parses a location given on the command line; a relative file path becomes absolute. */
  resolveLocation(text: string, from: string): DatabaseLocation {
    const location = parseDatabaseLocation(text, from)
    if (location.kind === 'postgres' || location.path === ':memory:') return location
    return isAbsolute(location.path) ? location : { kind: 'sqlite', path: resolve(location.path) }
  }

  /** How the database is shown in messages and `--json` output: never with its password. */
  databaseDescription(): string {
    return describeLocation(this.databaseLocation())
  }

  /** Postgres pool settings from `CRYPTORG_DB_POOL_SIZE` and `CRYPTORG_DB_STATEMENT_TIMEOUT`. */
  postgresOptions(): PostgresOptions {
    const env = this.io.env
    const options: PostgresOptions = {}
    const pool = env['CRYPTORG_DB_POOL_SIZE']?.trim()
    if (pool) {
      const size = /^\d{1,4}$/.test(pool) ? Number(pool) : NaN
      if (!(size >= 1 && size <= 1000)) {
        throw new CryptorgError(
          'ERR_USAGE',
          `CRYPTORG_DB_POOL_SIZE must be a whole number from 1 to 1000, got ${JSON.stringify(pool)}`,
        )
      }
      options.poolSize = size
    }
    const timeout = env['CRYPTORG_DB_STATEMENT_TIMEOUT']?.trim()
    if (timeout) {
      // 0 turns the timeout off, as in Postgres's own setting.
      const ms = timeout === '0' ? 0 : parseDuration(timeout, 'CRYPTORG_DB_STATEMENT_TIMEOUT')
      if (ms > MAX_TIMEOUT_MS) {
        throw new CryptorgError(
          'ERR_USAGE',
          `CRYPTORG_DB_STATEMENT_TIMEOUT must be at most 1d (or 0 for none), got ${JSON.stringify(timeout)}`,
        )
      }
      options.statementTimeoutMs = ms
    }
    return options
  }

  /** What {@link connect} needs besides the location. */
  connectOptions(): { postgres: PostgresOptions } {
    return { postgres: this.postgresOptions() }
  }

  /** Opens the installation once per run. */
  async open(options: OpenCliOptions = {}): Promise<Cryptorg> {
    if (!this.opened) {
      this.opened = await open({
        database: this.databasePath(),
        postgres: this.postgresOptions(),
        auth: authOptionsFromEnv(this.io.env),
        ...(this.io.clock && { clock: this.io.clock }),
        ...(this.io.fetch && { fetch: this.io.fetch }),
        ...(this.io.sleep && { sleep: this.io.sleep }),
        ...(options.logger && { logger: options.logger }),
        ...(options.coingecko && { coingecko: options.coingecko }),
        ...this.io.openOverrides,
      })
    }
    return this.opened
  }

  /** Opens the installation and acts as the signed-in user (see src/cli/session.ts). */
  async workspace(): Promise<Workspace> {
    const c = await this.open()
    // Loaded here: the commands that need no user (daemon, help) skip the sign-in code.
    const { signedInActor } = await import('./session.js')
    return c.as(await signedInActor(this, c))
  }

  /**
   * What the stored tokens are keyed by: the database's absolute, resolved path, or its URL
   * without the password.
   */
  credentialTarget(): string {
    const location = this.databaseLocation()
    if (location.kind === 'postgres') return postgresTarget(location.url)
    const path = location.path
    try {
      return realpathSync(path)
    } catch {
      return path
    }
  }

  now(): number {
    return (this.io.clock?.now() ?? new Date()).getTime()
  }

  async close(): Promise<void> {
    await this.opened?.close()
    this.opened = undefined
  }

  /** Reads a password from stdin (`--password-stdin`), dropping one trailing newline. */
  async passwordFromStdin(): Promise<string> {
    const text = await this.io.readStdin()
    return text.replace(/\r?\n$/, '')
  }

  /** True when a person can answer a question: stdin and stderr are both terminals. */
  canPrompt(): boolean {
    return Boolean(this.io.stdin.isTTY && this.io.stderr.isTTY)
  }
}

/** Token settings from the environment: `CRYPTORG_JWT_SECRET`, `CRYPTORG_ACCESS_TTL` and
 * `CRYPTORG_REFRESH_TTL` (durations such as `5m`, `1d`). */
function authOptionsFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): OpenOptions['auth'] {
  const seconds = (name: string) => {
    const text = env[name]
    if (text === undefined || text.trim() === '') return undefined
    return Math.round(parseDuration(text, name) / 1000)
  }
  const secret = env['CRYPTORG_JWT_SECRET']
  const access = seconds('CRYPTORG_ACCESS_TTL')
  const refresh = seconds('CRYPTORG_REFRESH_TTL')
  return {
    ...(secret !== undefined && secret !== '' && { jwtSecret: secret }),
    ...(access !== undefined && { accessTtlSeconds: access }),
    ...(refresh !== undefined && { refreshTtlSeconds: refresh }),
  }
}

/**
 * One key per Postgres database and schema however its URL is spelled (postgres: or
 * postgresql:, with or without the default port, options encoded either way), without the
 * password. Host names are kept as written: localhost and 127.0.0.1 stay two keys.
 */
function postgresTarget(url: string): string {
  const parsed = new URL(url)
  const user = parsed.username === '' ? '' : `${decodeURIComponent(parsed.username)}@`
  const options = parsed.searchParams.get('options')
  const host = parsed.hostname || (parsed.searchParams.get('host') ?? '')
  const query = options ? `?options=${options.trim().replace(/\s+/g, ' ')}` : ''
  return `postgres://${user}${host.toLowerCase()}:${parsed.port || '5432'}${parsed.pathname}${query}`
}
