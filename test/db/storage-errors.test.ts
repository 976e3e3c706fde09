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
