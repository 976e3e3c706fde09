/**
 * The deployment the Postgres backend exists for: two `serve` replicas and two daemons on one
 * database, a load running through both servers, and the leading daemon killed partway. Every
 * request must be answered, every tick written exactly once (the standby writing the slots
 * after the kill), and both servers must show the same data. Postgres project only.
 */
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { open } from '../../src/index.js'
import { ADMIN } from '../helpers/admin.js'
import {
  TEST_BACKEND,
  postgresFor,
  queryPostgres,
  schemaFor,
  testPgUrl,
} from '../helpers/backend.js'
import { FAST_HASHING } from '../helpers/cli.js'
import { type MockCoinGecko, MOCK_API_PATH, startMockCoinGecko } from '../helpers/mock-coingecko.js'
import { type RunningProcess, assertBuilt, runBin, startBin, waitFor } from '../helpers/process.js'

const ORGS = 4
const SYMBOLS = ['BTC', 'ETH'] as const
const INTERVAL_MS = 1000
const WORKERS = 8
/** Ticks each daemon must store before the test moves on (leader, then standby). */
const TICKS_EACH = 3

interface Price {
  id: number
  org_id: string
  symbol: string
  price: string
  timestamp: string
  source: string
}

let directory: string
/** The path-like key the test helpers map to this test's schema. */
let key: string
let databaseUrl: string
let mock: MockCoinGecko
const started: RunningProcess[] = []
const orgIds: string[] = []

const environment = (): NodeJS.ProcessEnv => ({
  PATH: process.env['PATH'],
  HOME: directory,
  CRYPTORG_DB: databaseUrl,
  CRYPTORG_COINGECKO_URL: mock.url,
})

function start(args: string[]): RunningProcess {
  const proc = startBin(args, environment())
  started.push(proc)
  return proc
}

const isRunning = (proc: RunningProcess) =>
  proc.child.exitCode === null && proc.child.signalCode === null

/** Starts `serve --port 0` and waits for the address it prints. */
async function serve(): Promise<{ proc: RunningProcess; url: string }> {
  const proc = start(['serve', '--port', '0'])
  let url: string | undefined
  await waitFor(() => {
    for (const line of proc.lines) url ??= /listening on (http:\/\/[^\s"]+)/.exec(line)?.[1]
    return url !== undefined || !isRunning(proc)
  }, 15_000)
  if (url === undefined) throw new Error(`serve exited early:\n${proc.lines.join('\n')}`)
  return { proc, url }
}

const storedTicks = (proc: RunningProcess) =>
  proc.lines.filter((l) => /stored [1-9]\d* prices/.test(l)).length

/** The pid in a lease holder (`host:pid:random`). */
function pidOf(holder: string): number {
  const match = /:(\d+):[0-9a-f]+$/.exec(holder)
  if (!match) throw new Error(`unexpected lease holder ${holder}`)
  return Number(match[1])
}

/** Every page of an organization's prices through one server. */
async function allPrices(url: string, token: string, orgId: string): Promise<Price[]> {
  const prices: Price[] = []
  for (let offset = 0; ; offset += 1000) {
    const response = await fetch(
      `${url}/api/crypto-prices/?org_id=${orgId}&limit=1000&offset=${offset}`,
      { headers: { authorization: `Bearer ${token}` } },
    )
    expect(response.status).toBe(200)
    const page = (await response.json()) as { results: Price[]; next: string | null }
    prices.push(...page.results)
    if (page.next === null) return prices
  }
}

async function latest(url: string, token: string, orgId: string): Promise<Price[]> {
  const response = await fetch(`${url}/api/crypto-prices/latest/?org_id=${orgId}`, {
    headers: { authorization: `Bearer ${token}` },
  })
  expect(response.status).toBe(200)
  return (await response.json()) as Price[]
}

async function login(url: string): Promise<string> {
  const response = await fetch(`${url}/api/token/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(ADMIN),
  })
  expect(response.status).toBe(200)
  return ((await response.json()) as { access: string }).access
}

describe.skipIf(TEST_BACKEND !== 'postgres')('two servers and two daemons on one Postgres', () => {
  beforeAll(async () => {
    assertBuilt()
    directory = mkdtempSync(join(tmpdir(), 'cryptorg-pg-cluster-'))
    // A key no other test uses, so the schema is this test's alone.
    key = join(directory, `cluster-${randomUUID()}.db`)
    databaseUrl = await postgresFor(key)

    // Prices change on every request, so a server reading stale data would show.
    let request = 0
    mock = await startMockCoinGecko({
      fallback: (r) => {
        if (r.path !== `${MOCK_API_PATH}/simple/price`) return { status: 404 }
        request += 1
        const now = Math.floor(Date.now() / 1000)
        return {
          body: {
            bitcoin: { usd: 60_000 + request + 0.25, last_updated_at: now },
            ethereum: { usd: 2_000 + request / 100, last_updated_at: now },
          },
        }
      },
    })

    const c = await open({ database: databaseUrl, passwordHashing: FAST_HASHING })
    try {
      await c.auth.bootstrap(ADMIN)
      const admin = c.as(await c.auth.actorFor(ADMIN.username))
      for (let i = 0; i < ORGS; i++) orgIds.push((await admin.orgs.create(`Cluster ${i}`)).id)
    } finally {
      await c.close()
    }
  })

  afterAll(async () => {
    // Only the processes this file started, each by its own pid.
    for (const proc of started) {
      if (isRunning(proc)) {
        proc.child.kill('SIGKILL')
        await proc.exited
      }
    }
    await mock?.close()
    if (key) {
      const client = new pg.Client({ connectionString: testPgUrl() })
      await client.connect()
      try {
        await client.query(`drop schema if exists "${schemaFor(key)}" cascade`)
      } finally {
        await client.end()
      }
    }
    if (directory) rmSync(directory, { recursive: true, force: true })
  }, 20_000)

  it('answers every request, writes each tick once across a leader kill, agrees', async () => {
    const [a, b] = await Promise.all([serve(), serve()])
    const servers = [a.url, b.url]
    const interval = `${INTERVAL_MS / 1000}s`
    const first = start(['daemon', '--interval', interval])
    await waitFor(() => first.lines.some((l) => l.includes('holds the leader lease')), 15_000)
    const second = start(['daemon', '--interval', interval])
    await waitFor(() => second.lines.some((l) => l.includes('standing by')), 15_000)
    const daemons = [first, second]

    // Tokens signed by one server and used on the other: the signing secret lives in the
    // database, so replicas accept each other's tokens.
    const tokens = [await login(b.url), await login(a.url)]

    const answered = new Map<number, number>()
    const failures: string[] = []
    let stop = false
    let posted = 0
    const worker = async (w: number): Promise<void> => {
      // One symbol per worker, orgs in turn: no two manual rows of one (org, symbol) are
      // written at the same moment, so any duplicate key found later is the daemons'.
      const symbol = `LOAD${w}`
      for (let i = 0; !stop; i++) {
        const server = (w + i) % 2
        const org = orgIds[(w + i) % ORGS]!
        const headers = {
          authorization: `Bearer ${tokens[server]}`,
          'content-type': 'application/json',
        }
        const request =
          i % 2 === 0
            ? fetch(`${servers[server]}/api/crypto-prices/`, {
                method: 'POST',
                headers,
                body: JSON.stringify({
                  org_id: org,
                  symbol,
                  price: `${w + 1}.${i}`,
                  currency: 'usd',
                }),
              })
            : fetch(`${servers[server]}/api/crypto-prices/latest/?org_id=${org}`, { headers })
        try {
          const response = await request
          const body = await response.text()
          answered.set(response.status, (answered.get(response.status) ?? 0) + 1)
          if (response.status >= 300) failures.push(`${response.status} ${body.slice(0, 200)}`)
          else if (i % 2 === 0) posted += 1
        } catch (error) {
          failures.push(`no answer from ${servers[server]}: ${String(error)}`)
        }
      }
    }
    const load = Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)))

    try {
      // Who leads, as an operator would find out.
      const status = await runBin(['daemon', 'status', '--json'], environment())
      const holder = (JSON.parse(status.stdout) as { leader: { holder: string } }).leader.holder
      const [lease] = await queryPostgres<{ holder: string }>(
        key,
        "select holder from daemon_lease where name = 'poller'",
      )
      expect(lease?.holder).toBe(holder)
      const leaderPid = pidOf(holder)
      const leader = daemons.find((d) => d.child.pid === leaderPid)
      const standby = daemons.find((d) => d.child.pid !== leaderPid)
      if (!leader || !standby) throw new Error(`lease holder ${holder} is none of the daemons`)

      await waitFor(() => storedTicks(leader) >= TICKS_EACH, 20_000)
      // On a loaded machine the lease may have changed hands before this point (a stall
      // longer than its lifetime), so the standby's own ticks are counted from the kill on.
      const standbyTicksBefore = storedTicks(standby)
      leader.child.kill('SIGKILL')
      const killedAt = Date.now()
      await leader.exited

      await waitFor(() => standby.lines.some((l) => l.includes('holds the leader lease')), 10_000)
      await waitFor(() => storedTicks(standby) >= standbyTicksBefore + TICKS_EACH, 20_000)
      stop = true
      await load
      standby.child.kill('SIGTERM')
      expect((await standby.exited).code).toBe(0)

      // Every request answered, and answered well.
      const total = [...answered.values()].reduce((sum, n) => sum + n, 0)
      expect(failures).toEqual([])
      expect(total).toBeGreaterThan(100)
      expect([...answered.keys()].sort()).toEqual([200, 201])

      // Each (org, symbol, timestamp) once, manual rows included.
      const [{ duplicates } = { duplicates: -1 }] = await queryPostgres<{ duplicates: number }>(
        key,
        `select count(*)::int as duplicates from (select 1 from crypto_prices
         group by org_id, symbol, timestamp having count(*) > 1) d`,
      )
      expect(duplicates).toBe(0)
      const [{ manual } = { manual: -1 }] = await queryPostgres<{ manual: number }>(
        key,
        "select count(*)::int as manual from crypto_prices where source = 'manual'",
      )
      expect(manual).toBe(posted)

      // Every successful tick has its full set of rows, and every slot with rows has its record.
      const perSlot = await queryPostgres<{ slot: string; n: number }>(
        key,
        `select timestamp as slot, count(*)::int as n from crypto_prices
         where source = 'coingecko' group by timestamp order by timestamp`,
      )
      const ticks = await queryPostgres<{ slot_at: string; holder: string; rows_written: number }>(
        key,
        `select slot_at, holder, rows_written from daemon_ticks
         where outcome = 'ok' and rows_written > 0 order by slot_at`,
      )
      // No slot ticked twice, even where the unique index would have hidden the second write,
      // and nothing failed: the mock CoinGecko always answers.
      const repeated = await queryPostgres<{ slot_at: string; n: number }>(
        key,
        `select slot_at, count(*)::int as n from daemon_ticks where outcome = 'ok'
         group by slot_at having count(*) > 1`,
      )
      expect(repeated).toEqual([])
      const failed = await queryPostgres(key, "select * from daemon_ticks where outcome <> 'ok'")
      expect(failed).toEqual([])
      for (const { n } of perSlot) expect(n).toBe(ORGS * SYMBOLS.length)
      expect(ticks.map((t) => t.slot_at)).toEqual(perSlot.map((s) => s.slot))
      for (const tick of ticks) expect(tick.rows_written).toBe(ORGS * SYMBOLS.length)

      // The leader wrote the slots up to the kill, the standby every slot after it.
      const afterKill = ticks.filter((t) => Date.parse(t.slot_at) > killedAt)
      expect(afterKill.length).toBeGreaterThanOrEqual(TICKS_EACH - 1)
      for (const tick of afterKill) expect(pidOf(tick.holder)).toBe(standby.child.pid)
      const byLeader = ticks.filter((t) => pidOf(t.holder) === leaderPid)
      expect(byLeader.length).toBeGreaterThanOrEqual(TICKS_EACH)
      for (const tick of byLeader) expect(Date.parse(tick.slot_at)).toBeLessThanOrEqual(killedAt)
      const slots = ticks.map((t) => Date.parse(t.slot_at))
      for (const slot of slots) expect(slot % INTERVAL_MS).toBe(0)
      const missed = (slots.at(-1)! - slots[0]!) / INTERVAL_MS + 1 - slots.length

      // Both servers see the same data, and all of it.
      const counts = await queryPostgres<{ org_id: string; n: number }>(
        key,
        'select org_id, count(*)::int as n from crypto_prices group by org_id',
      )
      for (const orgId of orgIds) {
        const [latestA, latestB] = await Promise.all(
          servers.map((url, i) => latest(url, tokens[i]!, orgId)),
        )
        expect(latestA).toEqual(latestB)
        expect(latestA!.map((p) => p.symbol)).toEqual(expect.arrayContaining([...SYMBOLS]))
        const [listA, listB] = await Promise.all(
          servers.map((url, i) => allPrices(url, tokens[i]!, orgId)),
        )
        expect(listA).toEqual(listB)
        expect(listA!.length).toBe(counts.find((c) => c.org_id === orgId)?.n)
      }

      console.info(
        `postgres cluster: ${total} requests answered ` +
          `(${JSON.stringify(Object.fromEntries(answered))}), ` +
          `${posted} prices posted, ${ticks.length} ticks (${byLeader.length} by the leader, ` +
          `${afterKill.length} by the standby after the kill), ${missed} slot(s) missed ` +
          'across the handover',
      )
      expect(standby.lines.join('\n')).not.toMatch(/"level":"error"/)
      for (const { proc } of [a, b]) expect(proc.lines.join('\n')).not.toMatch(/"level":"error"/)
    } finally {
      stop = true
      await load
    }
  }, 60_000)
})
