/**
 * Several daemon processes on one database, killed and stopped the hard way: one leader
 * writes each tick exactly once, a standby takes over, and no kill leaves a partial tick.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import Database from 'better-sqlite3'
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'

import { bootstrapAdmin } from '../helpers/admin.js'
import { type MockCoinGecko, startMockCoinGecko } from '../helpers/mock-coingecko.js'
import { assertBuilt, runBin, startBin, waitFor } from '../helpers/process.js'

let mock: MockCoinGecko
let directory: string
let databasePath: string
let adminToken: string

const environment = (): NodeJS.ProcessEnv => ({
  PATH: process.env['PATH'],
  HOME: directory,
  CRYPTORG_DB: databasePath,
  CRYPTORG_COINGECKO_URL: mock.url,
  CRYPTORG_TOKEN: adminToken,
})

/** Rows per timestamp and per (org, symbol, timestamp), straight from the file. */
function readTicks(): { perTimestamp: Map<string, number>; duplicates: number } {
  const db = new Database(databasePath, { readonly: true })
  try {
    const rows = db
      .prepare('select timestamp, count(*) as n from crypto_prices group by timestamp')
      .all() as { timestamp: string; n: number }[]
    const { duplicates } = db
      .prepare(
        `select count(*) as duplicates from (select 1 from crypto_prices
         group by org_id, symbol, timestamp having count(*) > 1)`,
      )
      .get() as { duplicates: number }
    return { perTimestamp: new Map(rows.map((r) => [r.timestamp, r.n])), duplicates }
  } finally {
    db.close()
  }
}

/** Slots of the successful tick records, as stored. */
function recordedSlots(): string[] {
  const db = new Database(databasePath, { readonly: true })
  try {
    return db
      .prepare("select slot_at from daemon_ticks where outcome = 'ok' and rows_written > 0")
      .pluck()
      .all()
      .map(String)
      .sort()
  } finally {
    db.close()
  }
}

async function createOrgs(count: number): Promise<void> {
  // Many organizations make each tick's write long enough for a kill to land inside it.
  const db = new Database(databasePath)
  db.exec(`
    with recursive series(value) as (
      select 1 union all select value + 1 from series where value < ${count}
    )
    insert into organizations (id, name, name_key, created_at)
    select lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' ||
             substr(hex(randomblob(2)), 2) || '-a' || substr(hex(randomblob(2)), 2) || '-' ||
             hex(randomblob(6))),
           'Org ' || value, 'org ' || value, '2024-01-01T00:00:00.000Z'
    from series`)
  db.close()
}

beforeAll(assertBuilt)

beforeEach(async () => {
  directory = mkdtempSync(join(tmpdir(), 'cryptorg-cluster-'))
  databasePath = join(directory, 'cryptorg.db')
  adminToken = await bootstrapAdmin(databasePath)
  mock = await startMockCoinGecko()
  expect((await runBin(['org', 'create', 'Acme'], environment())).code).toBe(0)
})

afterEach(async () => {
  await mock.close()
  rmSync(directory, { recursive: true, force: true })
})

describe('daemons sharing one database', () => {
  it('writes every tick once with two daemons, and the standby takes over after SIGKILL', async () => {
    await runBin(['org', 'create', 'Globex'], environment())
    const first = startBin(['daemon', '--interval', '2s'], environment())
    await waitFor(() => first.lines.some((l) => l.includes('holds the leader lease')), 10_000)
    const second = startBin(['daemon', '--interval', '2s'], environment())
    await waitFor(() => second.lines.some((l) => l.includes('standing by')), 10_000)

    await waitFor(
      () => first.lines.filter((l) => l.includes('stored 4 prices')).length >= 3,
      15_000,
    )
    first.child.kill('SIGKILL')
    const killedAt = Date.now()
    await first.exited

    await waitFor(() => second.lines.some((l) => l.includes('holds the leader lease')), 10_000)
    // The lease lives at most one interval; the standby checks it every third of one.
    expect(Date.now() - killedAt).toBeLessThan(2000 + 700 + 1000)
    await waitFor(
      () => second.lines.filter((l) => l.includes('stored 4 prices')).length >= 2,
      15_000,
    )
    second.child.kill('SIGTERM')
    expect((await second.exited).code).toBe(0)

    const { perTimestamp, duplicates } = readTicks()
    expect(duplicates).toBe(0)
    for (const count of perTimestamp.values()) expect(count).toBe(4)
    const slots = [...perTimestamp.keys()].map((t) => Date.parse(t)).sort((a, b) => a - b)
    for (const slot of slots) expect(slot % 2000).toBe(0)
    // No slot between the first and the last tick went missing across the handover.
    expect(slots.length).toBe((slots.at(-1)! - slots[0]!) / 2000 + 1)
    const standbyLog = second.lines.join('\n')
    expect(standbyLog).not.toMatch(/"level":"error"/)
  }, 60_000)

  it('leaves no partial tick and a sound file after SIGKILL mid-tick, again and again', async () => {
    await createOrgs(15_000)
    const orgCount = 15_001
    for (let round = 0; round < 8; round++) {
      const daemon = startBin(['daemon', '--interval', '1s'], environment())
      await waitFor(() => daemon.lines.some((l) => l.includes('holds the leader lease')), 10_000)
      // Land somewhere in the next ticks: inside a write some rounds, between ticks others.
      await new Promise((resolve) => setTimeout(resolve, 300 + ((round * 377) % 1400)))
      // On a loaded machine every kill may land before a commit: the last round waits for
      // one stored tick, so there is always something to check.
      if (round === 7) await waitFor(() => daemon.lines.some((l) => l.includes('stored ')), 20_000)
      daemon.child.kill('SIGKILL')
      await daemon.exited
    }

    const db = new Database(databasePath, { readonly: true })
    const integrity = db.pragma('integrity_check', { simple: true })
    db.close()
    expect(integrity).toBe('ok')
    const { perTimestamp, duplicates } = readTicks()
    expect(duplicates).toBe(0)
    expect(perTimestamp.size).toBeGreaterThan(0)
    for (const count of perTimestamp.values()) expect(count).toBe(orgCount * 2)
    // A tick's record commits with its rows: every stored slot has one, and no record lies.
    expect(recordedSlots()).toEqual([...perTimestamp.keys()].sort())
  }, 90_000)

  it('exits 0 within a few seconds on SIGTERM while a request hangs, writing nothing', async () => {
    mock.setFallback({ fixture: 'simple-price-usd', delayMs: 60_000 })
    const daemon = startBin(['daemon', '--interval', '1m'], environment())
    await mock.waitForRequests(1, 10_000)

    const stoppedAt = Date.now()
    daemon.child.kill('SIGTERM')
    const exit = await daemon.exited

    expect(exit).toEqual({ code: 0, signal: null })
    expect(Date.now() - stoppedAt).toBeLessThan(6000)
    expect(readTicks().perTimestamp.size).toBe(0)
    expect(daemon.lines.join('\n')).toContain('nothing was written')
  }, 30_000)
})
