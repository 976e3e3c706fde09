/**
 * `cryptorg db status | migrate | copy`. The copy's own guarantees are tested in
 * test/db/copy.test.ts; here, what the operator sees.
 */
import { existsSync, symlinkSync } from 'node:fs'
import { join } from 'node:path'

import Database from 'better-sqlite3'

import { afterEach, beforeEach, describe, expect, it } from 'vitest'

import { open } from '../../src/index.js'
import { TEST_BACKEND, postgresFor } from '../helpers/backend.js'
import { FAST_HASHING, runCli } from '../helpers/cli.js'
import { tempDir } from '../helpers/open-test-db.js'

let dir: ReturnType<typeof tempDir>
beforeEach(() => {
  dir = tempDir()
})
afterEach(() => dir.remove())

const file = (name: string) => `sqlite:${join(dir.path, name)}`
const MIGRATIONS = ['0001-init', '0002-daemon', '0003-auth']

/**
 * An installation with an administrator and an organization, made through the library: the
 * CLI's own open() would be redirected to a schema on the postgres project, `sqlite:` is not.
 */
async function installation(name: string): Promise<string> {
  const location = file(name)
  const c = await open({ database: location, passwordHashing: FAST_HASHING })
  try {
    await c.auth.bootstrap({ username: 'admin', password: 'admin password' })
    await c.as(await c.auth.actorFor('admin')).orgs.create('Acme')
  } finally {
    await c.close()
  }
  return location
}

describe('db status and db migrate', () => {
  it('lists pending migrations without applying them, then applies them once', async () => {
    const db = file('fresh.db')
    // An empty file, as a new SQLite database is (status never creates one).
    new Database(db.slice('sqlite:'.length)).close()
    const before = await runCli(['--db', db, 'db', 'status', '--json'])
    expect(before.code).toBe(0)
    expect(JSON.parse(before.stdout)).toMatchObject({
      backend: 'sqlite',
      pending: MIGRATIONS,
      migrations: MIGRATIONS.map((name) => ({ name, applied_at: null })),
    })
    // Still pending: status wrote nothing.
    const again = await runCli(['--db', db, 'db', 'status', '--json'])
    expect(JSON.parse(again.stdout).pending).toEqual(MIGRATIONS)

    const migrated = await runCli(['--db', db, 'db', 'migrate'])
    expect(migrated.code).toBe(0)
    expect(migrated.stdout).toMatch(/^Applied 0001-init, 0002-daemon, 0003-auth to \//)
    const twice = await runCli(['--db', db, 'db', 'migrate', '--json'])
    expect(JSON.parse(twice.stdout)).toMatchObject({ applied: [] })

    const after = await runCli(['--db', db, 'db', 'status'])
    expect(after.stdout).toMatch(/^backend\tsqlite$/m)
    for (const name of MIGRATIONS) {
      expect(after.stdout).toMatch(new RegExp(`^${name}\\t\\d{4}-\\d\\d-\\d\\dT`, 'm'))
    }
  })

  it('fails with exit 1 and no password when Postgres cannot be reached', async () => {
    const url = 'postgres://cryptorg:pa55-w0rd-x@127.0.0.1:9/cryptorg'
    const result = await runCli(['--db', url, 'db', 'status'])
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/^cryptorg: .*ECONNREFUSED/)
    expect(result.stderr.trim().split('\n')).toHaveLength(1)
    expect(result.stderr + result.stdout).not.toContain('pa55-w0rd-x')
  })

  it('refuses a URL it cannot use, naming the flag', async () => {
    const result = await runCli(['--db', 'mysql://u@h/d', 'db', 'status'])
    expect(result.code).toBe(2)
    expect(result.stderr).toBe(
      'cryptorg: --db URL scheme "mysql" is not supported (use a file path, sqlite: or postgres://)\n',
    )
  })
})

describe('db copy', () => {
  async function destination(name: string): Promise<string> {
    return TEST_BACKEND === 'postgres' ? postgresFor(join(dir.path, name)) : file(name)
  }

  it('copies, prints its progress on stderr and the counts on stdout', async () => {
    const from = await installation('from.db')
    const to = await destination('to.db')
    const result = await runCli(['db', 'copy', '--from', from, '--to', to])
    expect(result.code).toBe(0)
    expect(result.stderr).toMatch(/^users: 1\/1 rows \(100%\)$/m)
    expect(result.stdout).toMatch(/^users\t1\t1$/m)
    expect(result.stdout).toMatch(/row counts match\n$/)

    const json = await runCli(['db', 'copy', '--from', from, '--to', file('again.db'), '--json'])
    expect(json.code).toBe(0)
    const report = JSON.parse(json.stdout)
    expect(report.tables.find((t: { table: string }) => t.table === 'users')).toEqual({
      table: 'users',
      source: 1,
      destination: 1,
    })
  })

  it('refuses to copy a database onto itself, or onto one with data', async () => {
    const from = await installation('from.db')
    const same = await runCli(['db', 'copy', '--from', from, '--to', from])
    expect(same.code).toBe(2)
    expect(same.stderr).toBe('cryptorg: --from and --to name the same database\n')

    const busy = await installation('busy.db')
    const onto = await runCli(['db', 'copy', '--from', from, '--to', busy])
    expect(onto.code).toBe(3)
    expect(onto.stderr).toMatch(
      /already holds data \(organizations\); copy into a new, empty database/,
    )
  })

  it.each(['0', '3001', 'ten', '1e3'])('refuses --batch-size %s', async (size) => {
    const result = await runCli(['db', 'copy', '--to', file('x.db'), '--batch-size', size])
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/--batch-size must be a whole number from 1 to 3000/)
  })
})

describe('db commands never create or mistake a database', () => {
  it('db status names a missing file instead of creating it', async () => {
    const missing = join(dir.path, 'typo.db')
    const result = await runCli(['--db', missing, 'db', 'status'])
    expect(result.code).toBe(3)
    expect(result.stderr).toBe(`cryptorg: no database at ${missing}\n`)
    expect(existsSync(missing)).toBe(false)
  })

  it("db status refuses what db migrate refuses: another application's tables", async () => {
    const foreign = join(dir.path, 'foreign.db')
    const raw = new Database(foreign)
    raw.exec('create table invoices (id integer primary key)')
    raw.close()
    const result = await runCli(['--db', foreign, 'db', 'status'])
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/holds tables of another application/)
  })

  it('db copy from a missing source creates neither the source nor the destination', async () => {
    const to = join(dir.path, 'to.db')
    const result = await runCli(['db', 'copy', '--from', join(dir.path, 'typo.db'), '--to', to])
    expect(result.code).toBe(3)
    expect(existsSync(join(dir.path, 'typo.db'))).toBe(false)
    expect(existsSync(to)).toBe(false)
  })

  it('db copy names the side it cannot reach', async () => {
    const from = await installation('from.db')
    const result = await runCli([
      'db',
      'copy',
      '--from',
      from,
      '--to',
      'postgres://cryptorg:pa55-w0rd-x@127.0.0.1:9/cryptorg',
    ])
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(
      /^cryptorg: could not reach the destination postgres:\/\/cryptorg:\*\*\*@127\.0\.0\.1:9\/cryptorg: .*ECONNREFUSED/,
    )
    expect(result.stderr).not.toContain('pa55-w0rd-x')
  })

  it('db copy sees the same file through another spelling or a symbolic link', async () => {
    const from = await installation('from.db')
    const path = from.slice('sqlite:'.length)
    const dotted = await runCli([
      'db',
      'copy',
      '--from',
      from,
      '--to',
      join(dir.path, '.', 'x', '..', 'from.db'),
    ])
    expect(dotted.code).toBe(2)
    expect(dotted.stderr).toBe('cryptorg: --from and --to name the same database\n')
    symlinkSync(path, join(dir.path, 'link.db'))
    const linked = await runCli(['db', 'copy', '--from', from, '--to', join(dir.path, 'link.db')])
    expect(linked.code).toBe(2)
    expect(linked.stderr).toBe('cryptorg: the source and the destination are the same database\n')
  })

  it.skipIf(TEST_BACKEND !== 'postgres')(
    'db copy sees the same Postgres schema through another spelling of its URL',
    async () => {
      const url = await postgresFor(join(dir.path, 'pg.db'))
      const from = await installation('from.db')
      expect((await runCli(['db', 'copy', '--from', from, '--to', url])).code).toBe(0)
      // The same schema named as Postgres also reads it, which the URLs alone do not show.
      const other = new URL(url)
      const schema = (other.searchParams.get('options') ?? '').replace(/^-c search_path=/, '')
      other.searchParams.set('options', `--search_path=${schema}`)
      const result = await runCli(['db', 'copy', '--from', url, '--to', other.href])
      expect(result.code).toBe(2)
      expect(result.stderr).toBe('cryptorg: the source and the destination are the same database\n')
    },
  )
})

describe('Postgres settings from the environment', () => {
  it('takes 0 as no statement timeout and refuses more than a day, naming the variable', async () => {
    const db = file('fresh.db')
    const none = await runCli(['--db', db, 'db', 'migrate'], {
      env: { CRYPTORG_DB_STATEMENT_TIMEOUT: '0' },
    })
    expect(none.code).toBe(0)
    const long = await runCli(['--db', db, 'db', 'status'], {
      env: { CRYPTORG_DB_STATEMENT_TIMEOUT: '2d' },
    })
    expect(long.code).toBe(2)
    expect(long.stderr).toBe(
      'cryptorg: CRYPTORG_DB_STATEMENT_TIMEOUT must be at most 1d (or 0 for none), got "2d"\n',
    )
  })
})
