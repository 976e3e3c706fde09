import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'

import { afterEach, beforeEach, describe, expect, it } from 'vitest'

import { Command } from 'commander'

import { requestedCommand } from '../../src/cli/main.js'
import { TEST_BACKEND } from '../helpers/backend.js'
import { runCli, tempDatabase } from '../helpers/cli.js'
import { lines, noNetworkFetch } from './support.js'

const packageVersion = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string
  }
).version

let temp: { path: string; cleanup: () => void }
/** A directory of this test's own, holding nothing yet. */
let dir: string

beforeEach(() => {
  temp = tempDatabase()
  dir = dirname(temp.path)
})

afterEach(() => {
  temp.cleanup()
})

const cli = (argv: string[], env: Record<string, string> = {}, stdin?: string) =>
  runCli(argv, {
    env: { CRYPTORG_CONFIG_DIR: join(dir, 'config'), CRYPTORG_CREDENTIAL_STORE: 'file', ...env },
    fetch: noNetworkFetch,
    ...(stdin !== undefined && { stdin }),
  })

/** `cryptorg init` as a script runs it: the first command of a new database. */
const INIT = ['init', '--username', 'admin', '--password-stdin']
const init = (argv: string[], env: Record<string, string> = {}) =>
  cli(argv, env, 'admin password\n')

/** Users of the database at this path, as its administrator sees them. */
async function userNames(databasePath: string): Promise<string[]> {
  const result = await cli(['--db', databasePath, '--json', 'user', 'list'])
  expect(result.code).toBe(0)
  return (JSON.parse(result.stdout) as { username: string }[]).map((u) => u.username)
}

describe('help and version', () => {
  it.each([['--help'], ['-h']])('prints the usage on stdout and exits 0 with %s', async (flag) => {
    const result = await cli([flag])

    expect(result.code).toBe(0)
    expect(result.stderr).toBe('')
    expect(result.stdout).toMatch(/^Usage: cryptorg \[options\] \[command\]\n/)
    for (const command of ['org', 'prices', 'coins', 'daemon']) {
      expect(result.stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'))
    }
  })

  it('prints the usage of a subcommand with --help', async () => {
    const result = await cli(['prices', 'add', '--help'])

    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/^Usage: cryptorg prices add \[options\]/)
    expect(result.stdout).toContain('--price <decimal>')
  })

  it('documents the CoinGecko environment variables in daemon --help', async () => {
    const result = await cli(['daemon', '--help'])

    expect(result.code).toBe(0)
    for (const variable of [
      'CRYPTORG_COINGECKO_URL',
      'COINGECKO_API_KEY',
      'COINGECKO_API_PLAN',
      'CRYPTORG_COINGECKO_TIMEOUT',
    ]) {
      expect(result.stdout).toContain(variable)
    }
  })

  it.each([['--version'], ['-V']])('prints the package.json version with %s', async (flag) => {
    const result = await cli([flag])

    expect(result.code).toBe(0)
    expect(result.stdout).toBe(`${packageVersion}\n`)
    expect(result.stderr).toBe('')
  })
})

describe('requestedCommand', () => {
  const program = new Command('cryptorg')
    .version('1.0.0', '-V, --version')
    .option('--db <location>')
    .option('--json')
    .option('--level [name]')

  it.each([
    [['prices', 'latest', '--org', 'Acme'], 'prices'],
    [['--db', 'prices', 'org', 'list'], 'org'],
    [['--db=x.db', '--json', 'prices'], 'prices'],
    [['--json', '--db', '/tmp/a b.db', 'daemon', '--once'], 'daemon'],
    [['help', 'org'], 'help'],
  ])('finds the command of %j', (argv, command) => {
    expect(requestedCommand(program, argv)).toBe(command)
  })

  it.each([
    [[]],
    [['--json']],
    [['--help']],
    [['-h', 'org']],
    [['--frobnicate', 'org']],
    [['-Vj', 'org']],
    [['--level', 'org']],
    [['--', 'org']],
    [['--db']],
  ])('leaves %j to commander', (argv) => {
    expect(requestedCommand(program, argv)).toBeUndefined()
  })
})

describe('commands registered for a run', () => {
  it('lists every command in help, whatever follows the global options', async () => {
    for (const argv of [['--help'], ['--json', '--help'], ['--db', 'x.db', '--help']]) {
      const result = await cli(argv)
      for (const command of ['init', 'org', 'prices', 'coins', 'user', 'audit', 'db', 'serve']) {
        expect(result.stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'))
      }
    }
  })

  it('reaches a command registered late in the list as well as an early one', async () => {
    // Neither is a usage error: both commands were found (whatever they then said).
    for (const argv of [
      ['--db', temp.path, 'db', 'status', '--json'],
      ['--db', temp.path, 'auth', 'status', '--json'],
    ]) {
      const result = await cli(argv)
      expect(result.code).not.toBe(2)
      expect(result.stderr).not.toMatch(/unknown command/)
    }
  })
})

describe('help command', () => {
  it.each([
    [['help'], /^Usage: cryptorg \[options\] \[command\]\n/],
    [['help', 'org'], /^Usage: cryptorg org \[options\] \[command\]\n/],
    [['org', 'help'], /^Usage: cryptorg org \[options\] \[command\]\n/],
  ])('prints the help on stdout and exits 0 with %j', async (argv, usage) => {
    const result = await cli(argv)

    expect(result.code).toBe(0)
    expect(result.stderr).toBe('')
    expect(result.stdout).toMatch(usage)
  })

  it('still exits 2 with the usage on stderr for a bare org next to org help', async () => {
    const help = await cli(['org', 'help'])
    const bare = await cli(['org'])

    expect(bare.code).toBe(2)
    expect(bare.stdout).toBe('')
    expect(bare.stderr).toBe(help.stdout)
  })
})

describe('usage errors', () => {
  it('exits 2 with a hint on an unknown command', async () => {
    const result = await cli(['frobnicate'])

    expect(result.code).toBe(2)
    expect(result.stdout).toBe('')
    expect(lines(result.stderr)).toEqual([
      "cryptorg: unknown command 'frobnicate'",
      'Run "cryptorg --help" for usage',
    ])
  })

  it('exits 2 with a hint naming the noun on an unknown subcommand', async () => {
    const result = await cli(['org', 'frobnicate'])

    expect(result.code).toBe(2)
    expect(result.stderr).toContain("unknown command 'frobnicate'")
    expect(result.stderr).toContain('Run "cryptorg org --help" for usage')
  })

  it('exits 2 with a hint naming the command on an unknown option', async () => {
    const result = await cli(['org', 'list', '--frob'])

    expect(result.code).toBe(2)
    expect(result.stdout).toBe('')
    expect(lines(result.stderr)).toEqual([
      "cryptorg: unknown option '--frob'",
      'Run "cryptorg org list --help" for usage',
    ])
  })

  it('exits 2 on an unknown option before the command', async () => {
    const result = await cli(['--frob', 'org', 'list'])

    expect(result.code).toBe(2)
    expect(result.stderr).toContain("unknown option '--frob'")
    expect(result.stderr).toContain('Run "cryptorg --help" for usage')
  })

  it('exits 2 on an extra argument', async () => {
    const result = await cli(['org', 'show', 'Acme', 'Globex'])

    expect(result.code).toBe(2)
    expect(result.stderr).toContain('too many arguments')
    expect(result.stderr).toContain('Run "cryptorg org show --help" for usage')
  })

  it('reports a usage error as JSON without the hint with --json', async () => {
    const result = await cli(['org', 'list', '--frob', '--json'])

    expect(result.code).toBe(2)
    expect(result.stdout).toBe('')
    expect(lines(result.stderr)).toHaveLength(1)
    expect(JSON.parse(result.stderr)).toEqual({
      error: { code: 'ERR_USAGE', message: "unknown option '--frob'" },
    })
  })

  it('exits 2 and prints the noun usage on stderr for a bare org', async () => {
    const result = await cli(['org'])

    expect(result.code).toBe(2)
    expect(result.stdout).toBe('')
    expect(result.stderr).toMatch(/^Usage: cryptorg org \[options\] \[command\]/)
  })

  it('exits 2 and prints the usage on stderr without any argument', async () => {
    const result = await cli([])

    expect(result.code).toBe(2)
    expect(result.stdout).toBe('')
    expect(result.stderr).toMatch(/^Usage: cryptorg /)
  })
})

describe('error output', () => {
  it('prints a failure as one JSON document on stderr with --json', async () => {
    await init(['--db', temp.path, ...INIT])
    const result = await cli(['--db', temp.path, '--json', 'org', 'show', 'nope'])

    expect(result.code).toBe(3)
    expect(result.stdout).toBe('')
    expect(result.stderr).toBe(
      '{"error":{"code":"ERR_NOT_FOUND","message":"organization \\"nope\\" not found"}}\n',
    )
  })

  it('adds the stack trace to a failure with --verbose', async () => {
    await init(['--db', temp.path, ...INIT])
    const result = await cli(['--db', temp.path, '--verbose', 'org', 'show', 'nope'])

    expect(result.code).toBe(3)
    const [first, ...rest] = lines(result.stderr)
    expect(first).toBe('cryptorg: organization "nope" not found')
    expect(rest.join('\n')).toMatch(/CryptorgError: organization "nope" not found\n\s+at /)
  })
})

// Where SQLite files go; on the postgres project every database is a schema instead.
describe.skipIf(TEST_BACKEND === 'postgres')('database location (SQLite files)', () => {
  it('exits 1 naming the directory when --db points into a missing directory', async () => {
    const missing = join(dir, 'missing')

    const result = await cli(['--db', join(missing, 'x.db'), 'org', 'list'])

    expect(result.code).toBe(1)
    expect(result.stdout).toBe('')
    expect(result.stderr).toBe(
      `cryptorg: database directory ${JSON.stringify(missing)} does not exist\n`,
    )
    expect(existsSync(missing)).toBe(false)
  })

  it('exits 1 when --db is a directory', async () => {
    const result = await cli(['--db', dir, 'org', 'list'])

    expect(result.code).toBe(1)
    expect(result.stderr).toContain('is a directory')
  })

  it('exits 2 when --db is empty', async () => {
    const result = await cli(['--db', ' ', 'org', 'list'])

    expect(result.code).toBe(2)
    expect(result.stderr).toContain('database must not be empty (--db)')
  })

  it('creates the database file named by --db', async () => {
    const result = await init(['--db', temp.path, ...INIT])

    expect(result.code).toBe(0)
    expect(existsSync(temp.path)).toBe(true)
    expect(await userNames(temp.path)).toEqual(['admin'])
  })

  it('accepts --db after the subcommand', async () => {
    await init([...INIT, '--db', temp.path])

    expect(await userNames(temp.path)).toEqual(['admin'])
  })

  it('uses CRYPTORG_DB when --db is absent', async () => {
    const result = await init(INIT, { CRYPTORG_DB: temp.path })

    expect(result.code).toBe(0)
    expect(existsSync(temp.path)).toBe(true)
    expect(await userNames(temp.path)).toEqual(['admin'])
  })

  it('prefers --db over CRYPTORG_DB', async () => {
    const fromEnv = join(dir, 'from-env.db')

    const env = { CRYPTORG_DB: fromEnv }

    const result = await init(['--db', temp.path, ...INIT], env)

    expect(result.code).toBe(0)
    expect(existsSync(fromEnv)).toBe(false)
    expect(await userNames(temp.path)).toEqual(['admin'])
  })

  it('creates the database in $XDG_DATA_HOME/cryptorg without --db or CRYPTORG_DB', async () => {
    const xdg = join(dir, 'data')
    mkdirSync(xdg)

    const result = await init(INIT, { XDG_DATA_HOME: xdg })

    expect(result.code).toBe(0)
    const expected = join(xdg, 'cryptorg', 'cryptorg.db')
    expect(existsSync(expected)).toBe(true)
    expect(statSync(join(xdg, 'cryptorg')).mode & 0o777).toBe(0o700)
    expect(await userNames(expected)).toEqual(['admin'])
  })

  it('creates missing parents of the default data directory', async () => {
    const xdg = join(dir, 'deep', 'er')

    const result = await init(INIT, { XDG_DATA_HOME: xdg })

    expect(result.code).toBe(0)
    expect(existsSync(join(xdg, 'cryptorg', 'cryptorg.db'))).toBe(true)
  })

  it('prefers CRYPTORG_DB over the default data directory', async () => {
    const xdg = join(dir, 'data')

    await init(INIT, { CRYPTORG_DB: temp.path, XDG_DATA_HOME: xdg })

    expect(existsSync(join(xdg, 'cryptorg'))).toBe(false)
    expect(await userNames(temp.path)).toEqual(['admin'])
  })
})
