/**
 * The built `cryptorg` binary run as a user runs it: a real process, a real database file and
 * a mock CoinGecko on 127.0.0.1. `npm test` builds dist/ before these run.
 */
import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import Database from 'better-sqlite3'
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'

import { open } from '../../src/index.js'
import { type MockCoinGecko, startMockCoinGecko } from '../helpers/mock-coingecko.js'
import { bootstrapAdmin } from '../helpers/admin.js'
import { BIN, assertBuilt, runBin, startBin, waitFor } from '../helpers/process.js'

let mock: MockCoinGecko
let directory: string
let databasePath: string
let adminToken: string

function environment(): NodeJS.ProcessEnv {
  return {
    PATH: process.env['PATH'],
    HOME: directory,
    CRYPTORG_DB: databasePath,
    CRYPTORG_COINGECKO_URL: mock.url,
    CRYPTORG_TOKEN: adminToken,
  }
}

const cryptorg = (...args: string[]) => runBin(args, environment())
const startDaemon = (...args: string[]) => startBin(['daemon', ...args], environment())

/** Rows per tick timestamp, read through the library. */
async function rowsPerTick(): Promise<Map<string, number>> {
  const c = await open({ databasePath })
  try {
    const counts = new Map<string, number>()
    for (const org of await c.system.orgs.list()) {
      for (const price of await c.system.prices.history(org.id, { limit: 10_000 })) {
        counts.set(price.timestamp, (counts.get(price.timestamp) ?? 0) + 1)
      }
    }
    return counts
  } finally {
    await c.close()
  }
}

beforeAll(assertBuilt)

beforeEach(async () => {
  directory = mkdtempSync(join(tmpdir(), 'cryptorg-e2e-'))
  databasePath = join(directory, 'cryptorg.db')
  adminToken = await bootstrapAdmin(databasePath)
  mock = await startMockCoinGecko()
})

afterEach(async () => {
  await mock.close()
  rmSync(directory, { recursive: true, force: true })
})

describe('cryptorg binary', () => {
  it('stores and shows the fixture prices after org create and two daemon --once runs', async () => {
    expect((await cryptorg('org', 'create', 'Acme')).code).toBe(0)

    const first = await cryptorg('daemon', '--once')
    expect(first.code).toBe(0)
    expect(first.stdout).toMatch(/^stored 2 prices \(BTC, ETH for 1 organization\)/)

    const latest = await cryptorg('prices', 'latest', '--org', 'Acme', '--json')
    expect(latest.code).toBe(0)
    const prices = JSON.parse(latest.stdout) as { symbol: string; price: string }[]
    expect(prices.map((p) => [p.symbol, p.price])).toEqual([
      ['BTC', '64213.0000000000'],
      ['ETH', '2318.4700000000'],
    ])

    expect((await cryptorg('daemon', '--once')).code).toBe(0)
    const history = await cryptorg('prices', 'history', '--org', 'acme', '--json')
    const rows = JSON.parse(history.stdout) as { symbol: string }[]
    expect(rows.filter((r) => r.symbol === 'BTC')).toHaveLength(2)
    expect(rows.filter((r) => r.symbol === 'ETH')).toHaveLength(2)
    expect(mock.requests).toHaveLength(2)
  })

  it('prints the help of every command and exits 0', async () => {
    const help = await cryptorg('--help')
    expect(help.code).toBe(0)
    expect(help.stdout).toContain('Usage: cryptorg')
    for (const noun of ['org', 'prices', 'coins', 'daemon']) expect(help.stdout).toContain(noun)
  })

  it('exits 5 and writes nothing when CoinGecko answers 500 to daemon --once', async () => {
    await cryptorg('org', 'create', 'Acme')
    mock.setFallback({ status: 500, body: 'upstream exploded', contentType: 'text/plain' })

    const result = await cryptorg('daemon', '--once')
    expect(result.code).toBe(5)
    expect(result.stderr).toMatch(/^cryptorg: CoinGecko answered HTTP 500/)
    expect((await rowsPerTick()).size).toBe(0)
  })

  it('ticks every 2s with two organizations and exits 0 on SIGTERM with whole ticks', async () => {
    await cryptorg('org', 'create', 'Acme')
    await cryptorg('org', 'create', 'Globex')

    const { child, lines, exited } = startDaemon('--interval', '2s')
    const stored = () => lines.filter((line) => line.includes('stored 4 prices')).length
    await waitFor(() => stored() >= 2, 10_000)
    const stoppedAt = Date.now()
    child.kill('SIGTERM')
    const exit = await exited

    expect(exit).toEqual({ code: 0, signal: null })
    expect(Date.now() - stoppedAt).toBeLessThan(5000)
    for (const line of lines.filter((l) => l !== '')) expect(() => JSON.parse(line)).not.toThrow()
    expect(lines.some((line) => line.includes('SIGTERM received'))).toBe(true)

    const ticks = await rowsPerTick()
    expect(ticks.size).toBe(stored())
    for (const count of ticks.values()) expect(count).toBe(4)
  })

  it('finishes the tick in flight before exiting on SIGTERM', async () => {
    await cryptorg('org', 'create', 'Acme')
    mock.setFallback({ fixture: 'simple-price-usd', delayMs: 1500 })

    const { child, lines, exited } = startDaemon('--interval', '1m')
    await mock.waitForRequests(1, 10_000)
    child.kill('SIGTERM')
    const exit = await exited

    expect(exit.code).toBe(0)
    expect(lines.some((line) => line.includes('stored 2 prices'))).toBe(true)
    expect([...(await rowsPerTick()).values()]).toEqual([2])
  })

  it('exits 0 quietly when the reader of org list closes the pipe early', async () => {
    expect((await cryptorg('org', 'create', 'First')).code).toBe(0)
    const db = new Database(databasePath)
    try {
      const insert = db.prepare(
        'insert into organizations (id, name, name_key, created_at) values (?, ?, ?, ?)',
      )
      db.transaction(() => {
        for (let i = 0; i < 2000; i++) {
          const name = `Organization number ${String(i).padStart(4, '0')}`
          insert.run(randomUUID(), name, name.toLowerCase(), '2024-09-17T12:00:00.000Z')
        }
      })()
    } finally {
      db.close()
    }

    /** Runs `org list` and closes its stdout at the first chunk, as `head -1` does. */
    const listAndHangUp = () =>
      new Promise<{ code: number | null; signal: string | null; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [BIN, 'org', 'list'], {
          env: environment(),
          stdio: ['ignore', 'pipe', 'pipe'],
        })
        let stderr = ''
        child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
        child.stdout.once('data', () => child.stdout.destroy())
        child.once('close', (code, signal) => resolve({ code, signal, stderr }))
      })

    for (let run = 0; run < 5; run++) {
      const result = await listAndHangUp()
      expect(result).toEqual({ code: 0, signal: null, stderr: '' })
    }
  })
})

describe('cryptorg binary: daemon unit', () => {
  it('takes --environment-file even when the file does not exist yet', async () => {
    const envFile = join(directory, 'not-yet', 'cryptorg.env')
    const result = await cryptorg('daemon', 'unit', '--environment-file', envFile)
    expect(result.code).toBe(0)
    expect(result.stdout).toContain(`EnvironmentFile=-${envFile}`)
  })
})
