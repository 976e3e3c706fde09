/**
 * Shared pieces of the CLI tests: a fresh database per test and a `cli()` that runs against it
 * with a fetch that refuses every request, so no command can reach the network by accident.
 */
import { afterEach, beforeEach } from 'vitest'

import { dirname, join } from 'node:path'

import type { FetchLike } from '../../src/deps.js'
import { bootstrapAdmin } from '../helpers/admin.js'
import { type CliResult, type RunCliOptions, runCli, tempDatabase } from '../helpers/cli.js'

export { ADMIN, bootstrapAdmin } from '../helpers/admin.js'

export const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
/** ISO-8601 UTC, with or without milliseconds. */
export const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$/

/** A fetch that fails the command instead of sending anything. */
export const noNetworkFetch: FetchLike = async (input) => {
  throw new Error(`network disabled in CLI tests (request to ${String(input)})`)
}

export interface TestDatabase {
  /** Path of this test's database file (in a directory of its own). */
  readonly path: string
  /** An access token of the administrator, valid for a year. */
  readonly adminToken: string
  /** Environment of every run: the admin's token and a private configuration directory. */
  readonly env: Record<string, string>
  /** Runs `cryptorg --db <path> ...argv` as the administrator unless `options.env` says else. */
  cli(argv: string[], options?: RunCliOptions): Promise<CliResult>
  /** Runs a command that must succeed and returns its parsed `--json` output. */
  json<T = unknown>(argv: string[], options?: RunCliOptions): Promise<T>
}

/** Registers beforeEach/afterEach hooks giving every test its own temporary database. */
export function useTempDatabase(): TestDatabase {
  let current: { path: string; cleanup: () => void } | undefined
  let token = ''
  beforeEach(async () => {
    current = tempDatabase()
    token = await bootstrapAdmin(current.path)
  })
  afterEach(() => {
    current?.cleanup()
    current = undefined
  })
  const path = () => {
    if (!current) throw new Error('useTempDatabase() is only usable inside a test')
    return current.path
  }
  const env = () => ({
    CRYPTORG_TOKEN: token,
    CRYPTORG_CONFIG_DIR: join(dirname(path()), 'config'),
  })
  const cli = (argv: string[], options: RunCliOptions = {}) =>
    runCli(['--db', path(), ...argv], {
      fetch: noNetworkFetch,
      ...options,
      env: { ...env(), ...options.env },
    })
  return {
    get path() {
      return path()
    },
    get adminToken() {
      return token
    },
    get env() {
      return env()
    },
    cli,
    async json<T>(argv: string[], options: RunCliOptions = {}): Promise<T> {
      const result = await cli(['--json', ...argv], options)
      if (result.code !== 0) {
        throw new Error(`${argv.join(' ')} exited ${result.code}: ${result.stderr}`)
      }
      return JSON.parse(result.stdout) as T
    },
  }
}

/** The lines of a stream's text, without the empty string after the last newline. */
export function lines(text: string): string[] {
  const all = text.split('\n')
  if (all[all.length - 1] === '') all.pop()
  return all
}
