/**
 * Per-run state of the CLI: the parsed global flags, the output, and a lazily opened
 * installation that is closed when the run ends.
 *
 * @module
 */
import { mkdirSync } from 'node:fs'
import { isAbsolute, join, resolve } from 'node:path'

import type { CoinGeckoOptions } from '../coingecko/client.js'
import type { Logger } from '../deps.js'
import { CryptorgError } from '../errors.js'
import { type Cryptorg, open } from '../open.js'
import type { CliIo } from './io.js'
import { Output } from './output.js'
import { DATABASE_FILE_NAME, defaultDataDirectory } from './paths.js'

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

  /** The database path from `--db`, then `CRYPTORG_DB`, then the platform default. */
  databasePath(): string {
    const chosen = this.flags.db ?? this.io.env['CRYPTORG_DB']
    if (chosen !== undefined) {
      if (chosen.trim() === '') {
        throw new CryptorgError(
          'ERR_USAGE',
          'database path must not be empty (--db or CRYPTORG_DB)',
        )
      }
      return chosen === ':memory:' || isAbsolute(chosen) ? chosen : resolve(chosen)
    }
    const directory = defaultDataDirectory(this.io.env, this.io.homedir, this.io.platform)
    try {
      mkdirSync(directory, { recursive: true, mode: 0o700 })
    } catch (error) {
      throw new CryptorgError('ERR_STORAGE', `could not create ${directory}`, { cause: error })
    }
    return join(directory, DATABASE_FILE_NAME)
  }

  /** Opens the installation once per run. */
  async open(options: OpenCliOptions = {}): Promise<Cryptorg> {
    if (!this.opened) {
      this.opened = await open({
        databasePath: this.databasePath(),
        ...(this.io.clock && { clock: this.io.clock }),
        ...(this.io.fetch && { fetch: this.io.fetch }),
        ...(this.io.sleep && { sleep: this.io.sleep }),
        ...(options.logger && { logger: options.logger }),
        ...(options.coingecko && { coingecko: options.coingecko }),
      })
    }
    return this.opened
  }

  async close(): Promise<void> {
    await this.opened?.close()
    this.opened = undefined
  }

  /** True when a person can answer a question: stdin and stderr are both terminals. */
  canPrompt(): boolean {
    return Boolean(this.io.stdin.isTTY && this.io.stderr.isTTY)
  }
}
