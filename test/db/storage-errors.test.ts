import Database from 'better-sqlite3'
import { afterEach, describe, expect, it } from 'vitest'

import { guardStorage, isDriverError } from '../../src/db/storage-errors.js'
import { CryptorgError, open } from '../../src/index.js'
import { fakeClock, fakeSleep } from '../helpers/fake-clock.js'
import { noNetworkFetch, tempDir } from '../helpers/open-test-db.js'

const dirs: { remove(): void }[] = []
afterEach(() => dirs.splice(0).forEach((dir) => dir.remove()))

/** A database file in which `sql` has damaged the schema behind cryptorg's back. */
async function damagedDatabase(sql: string): Promise<string> {
  const dir = tempDir()
  dirs.push(dir)
  const path = `${dir.path}/damaged.db`
  await (await open({ databasePath: path })).close()
  const raw = new Database(path)
  raw.exec(sql)
  raw.close()
  return path
}

describe('storage errors', () => {
  it.each([
    ['orgs.list', (c: Awaited<ReturnType<typeof open>>) => c.system.orgs.list(), 'organizations'],
    ['coins.list', (c: Awaited<ReturnType<typeof open>>) => c.system.coins.list(), 'tracked_coins'],
    ['poller.tick', (c: Awaited<ReturnType<typeof open>>) => c.poller.tick(), 'tracked_coins'],
  ])('reports ERR_STORAGE from %s when a table is missing', async (_name, call, table) => {
    const path = await damagedDatabase(`drop table ${table}`)
    const c = await open({ databasePath: path, fetch: noNetworkFetch })
    try {
      await expect(call(c)).rejects.toMatchObject({
        code: 'ERR_STORAGE',
        message: expect.stringContaining(`no such table: ${table}`),
      })
    } finally {
      await c.close()
    }
  })

  it('stops the poll loop with ERR_STORAGE when the database breaks', async () => {
    const path = await damagedDatabase('drop table tracked_coins')
    const clock = fakeClock()
    const c = await open({
      databasePath: path,
      clock,
      sleep: fakeSleep(clock),
      fetch: noNetworkFetch,
    })
    try {
      await expect(c.poller.run({ intervalMs: 1000 })).rejects.toMatchObject({
        code: 'ERR_STORAGE',
      })
    } finally {
      await c.close()
    }
  })

  it('refuses calls after close with ERR_STORAGE instead of a driver error', async () => {
    const c = await open({ databasePath: ':memory:' })
    await c.close()
    await expect(c.system.orgs.list()).rejects.toMatchObject({
      code: 'ERR_STORAGE',
      message: 'the database is closed',
    })
    await expect(c.poller.tick()).rejects.toBeInstanceOf(CryptorgError)
  })

  it('lets errors that are not from the driver through unchanged', async () => {
    const bug = new TypeError('a programming error')
    const service = guardStorage({ fail: async () => Promise.reject(bug) }, () => false)
    await expect(service.fail()).rejects.toBe(bug)
  })

  it('recognises better-sqlite3 errors as driver errors', () => {
    const raw = new Database(':memory:')
    let caught: unknown
    try {
      raw.exec('select * from nowhere')
    } catch (error) {
      caught = error
    }
    raw.close()
    expect(isDriverError(caught)).toBe(true)
    expect(isDriverError(new Error('plain'))).toBe(false)
  })
})

describe('Postgres and connection failures', () => {
  const withCode = (message: string, fields: Record<string, unknown>) =>
    Object.assign(new Error(message), fields)

  it.each([
    [
      'a server error with a SQLSTATE',
      withCode('relation "x" does not exist', { code: '42P01', severity: 'ERROR' }),
    ],
    [
      'a refused connection',
      withCode('connect ECONNREFUSED 127.0.0.1:9', { code: 'ECONNREFUSED', syscall: 'connect' }),
    ],
    [
      'an untrusted certificate',
      withCode('self-signed certificate', { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }),
    ],
    [
      'a wrong host name in the certificate',
      withCode('Hostname/IP does not match', { code: 'ERR_TLS_CERT_ALTNAME_INVALID' }),
    ],
    [
      'no password for SCRAM',
      new Error('SASL: SCRAM-SERVER-FIRST-MESSAGE: client password must be a string'),
    ],
    ['TLS asked of a server without it', new Error('The server does not support SSL connections')],
    ['a pool that gave up', new Error('timeout exceeded when trying to connect')],
  ])('counts %s as a storage failure, not a bug', (_what, error) => {
    expect(isDriverError(error)).toBe(true)
  })

  it('leaves plain errors and our own bugs alone', () => {
    expect(isDriverError(withCode('oops', { code: 'ERR_SOMETHING' }))).toBe(false)
    expect(isDriverError(new TypeError('x is not a function'))).toBe(false)
  })

  it('says what to do when the server wants a password and none was given', async () => {
    const guarded = guardStorage({
      run: async () => {
        throw new Error('SASL: SCRAM-SERVER-FIRST-MESSAGE: client password must be a string')
      },
    })
    await expect(guarded.run()).rejects.toMatchObject({
      code: 'ERR_STORAGE',
      message:
        'database error: the server asks for a password and none was given ' +
        '(put it in the URL or PGPASSWORD)',
    })
  })
})
