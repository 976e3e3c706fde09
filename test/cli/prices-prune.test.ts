import { afterEach, beforeEach, describe, expect, it } from 'vitest'

import { type Cryptorg, open } from '../../src/index.js'
import { type CliResult, type RunCliOptions, runCli, tempDatabase } from '../helpers/cli.js'
import { bootstrapAdmin } from './support.js'
import { type FakeClock, fakeClock } from '../helpers/fake-clock.js'
import { noNetworkFetch } from '../helpers/open-test-db.js'

const DAY_MS = 86_400_000

let database: { path: string; cleanup: () => void }
let clock: FakeClock
let adminToken: string

function cli(argv: string[], options: RunCliOptions = {}): Promise<CliResult> {
  return runCli(['--db', database.path, ...argv], {
    clock,
    env: { CRYPTORG_TOKEN: adminToken },
    ...options,
  })
}

/** Opens the test database directly, for seeding and counting without going through the CLI. */
async function withLibrary<T>(body: (c: Cryptorg) => Promise<T>): Promise<T> {
  const c = await open({ databasePath: database.path, clock, fetch: noNetworkFetch })
  try {
    return await body(c)
  } finally {
    await c.close()
  }
}

function count(org: string): Promise<number> {
  return withLibrary(async (c) => (await c.system.prices.history(org, { limit: 10_000 })).length)
}

beforeEach(async () => {
  database = tempDatabase()
  adminToken = await bootstrapAdmin(database.path)
  clock = fakeClock('2024-01-01T00:00:00.000Z')
  // Ten daily prices per organization, 2024-01-01 to 2024-01-10; "now" is then 2024-01-11.
  await withLibrary(async (c) => {
    await c.system.orgs.create('Acme')
    await c.system.orgs.create('Globex')
    for (let day = 0; day < 10; day++) {
      await c.system.prices.add({ org: 'Acme', symbol: 'BTC', price: '1' })
      await c.system.prices.add({ org: 'Globex', symbol: 'BTC', price: '1' })
      clock.advance(DAY_MS)
    }
  })
})

afterEach(() => {
  database.cleanup()
})

describe('prices prune', () => {
  it('deletes prices older than the age with --yes and says how many', async () => {
    const result = await cli(['prices', 'prune', '--older-than', '5d', '--yes'])

    expect(result).toMatchObject({ code: 0, stderr: '', questions: [] })
    expect(result.stdout).toBe('Deleted 10 prices older than 2024-01-06T00:00:00Z\n')
    expect(await count('Acme')).toBe(5)
    expect(await count('Globex')).toBe(5)
  })

  it('limits the deletion to --org and names it', async () => {
    const result = await cli(['prices', 'prune', '--older-than', '5d', '--org', 'acme', '--yes'])

    expect(result.stdout).toBe('Deleted 5 prices of "Acme" older than 2024-01-06T00:00:00Z\n')
    expect(await count('Acme')).toBe(5)
    expect(await count('Globex')).toBe(10)
  })

  it('counts with --dry-run, deletes nothing, and needs neither --yes nor a terminal', async () => {
    const result = await cli(['prices', 'prune', '--older-than', '1w', '--dry-run'])

    expect(result).toMatchObject({ code: 0, questions: [] })
    expect(result.stdout).toBe('Would delete 6 prices older than 2024-01-04T00:00:00Z\n')
    expect(await count('Acme')).toBe(10)
  })

  it('prints the result object with --json', async () => {
    const dry = await cli(['--json', 'prices', 'prune', '--older-than', '9d', '--dry-run'])
    const real = await cli(['--json', 'prices', 'prune', '--older-than', '9d', '--yes'])

    expect(JSON.parse(dry.stdout)).toEqual({
      cutoff: '2024-01-02T00:00:00Z',
      deleted: 2,
      dry_run: true,
    })
    expect(JSON.parse(real.stdout)).toEqual({
      cutoff: '2024-01-02T00:00:00Z',
      deleted: 2,
      dry_run: false,
    })
  })

  it('refuses to delete without --yes when not on a terminal, with exit code 2', async () => {
    const result = await cli(['--json', 'prices', 'prune', '--older-than', '5d'])

    expect(result.code).toBe(2)
    expect(result.stdout).toBe('')
    expect(JSON.parse(result.stderr)).toMatchObject({ error: { code: 'ERR_USAGE' } })
    expect(result.questions).toEqual([])
    expect(await count('Acme')).toBe(10)
  })

  it('asks on a terminal and deletes when the answer is yes', async () => {
    const result = await cli(['prices', 'prune', '--older-than', '5d', '--org', 'Acme'], {
      interactive: true,
      confirmAnswer: true,
    })

    expect(result.questions).toEqual(['Delete 5 prices of "Acme" older than 2024-01-06T00:00:00Z?'])
    expect(result.code).toBe(0)
    expect(await count('Acme')).toBe(5)
  })

  it('deletes nothing when the answer on a terminal is no', async () => {
    const result = await cli(['prices', 'prune', '--older-than', '5d'], {
      interactive: true,
      confirmAnswer: false,
    })

    expect(result).toMatchObject({ code: 0, stdout: '', stderr: 'Nothing deleted\n' })
    expect(result.questions).toHaveLength(1)
    expect(await count('Acme')).toBe(10)
  })

  it('does not ask with --yes on a terminal', async () => {
    const result = await cli(['prices', 'prune', '--older-than', '5d', '--yes'], {
      interactive: true,
    })

    expect(result).toMatchObject({ code: 0, questions: [] })
    expect(await count('Acme')).toBe(5)
  })

  it.each([
    ['an age under a day', ['--older-than', '1s'], 'ERR_VALIDATION', 2],
    ['23 hours', ['--older-than', '23h'], 'ERR_VALIDATION', 2],
    ['a date instead of an age', ['--older-than', '2024-01-05'], 'ERR_VALIDATION', 2],
    ['an age beyond the calendar', ['--older-than', '9999999999w'], 'ERR_VALIDATION', 2],
    ['an unknown organization', ['--older-than', '5d', '--org', 'Initech'], 'ERR_NOT_FOUND', 3],
    ['a missing --older-than', [], 'ERR_USAGE', 2],
  ])('refuses %s with its exit code and deletes nothing', async (_, flags, code, exit) => {
    const result = await cli(['--json', 'prices', 'prune', ...flags, '--yes'], {
      interactive: true,
      confirmAnswer: true,
    })

    expect(result.code).toBe(exit)
    expect(result.stdout).toBe('')
    expect(JSON.parse(result.stderr.split('\n')[0] ?? '')).toMatchObject({ error: { code } })
    expect(result.questions).toEqual([])
    expect(await count('Acme')).toBe(10)
    expect(await count('Globex')).toBe(10)
  })

  it('names the one-day minimum when the age is too short', async () => {
    const result = await cli(['prices', 'prune', '--older-than', '90m', '--yes'])

    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/older-than must be at least 1d/)
  })
})
