// "write contention": 4 processes adding prices through the library for 30 s while the real
// daemon (`cryptorg daemon --interval 1s`, pointed at the mock CoinGecko) ticks for 1,000
// organizations in the same database file. Counts rows per second and every error that reaches
// a caller (ERR_STORAGE, SQLITE_BUSY) or the daemon's log and tick records.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawn } from 'node:child_process'

import Database from 'better-sqlite3'

import { copyDatabase, orgsDatabase } from '../lib/dataset.js'
import { BIN } from '../lib/paths.js'
import { nextMessage, startWorker, stop, track } from '../lib/proc.js'
import { median, round } from '../lib/stats.js'
import { ownerOf } from '../lib/tokens.js'

export const name = 'write contention'
export const timeoutMs = 120_000

const WRITERS = 4
const DURATION_MS = 30_000

export async function run({ log }) {
  const base = await orgsDatabase(1000, 10, log)
  const tmp = mkdtempSync(join(tmpdir(), 'cryptorg-bench-contention-'))
  const path = copyDatabase(base.path, join(tmp, 'contention.db'))
  const { child: mock, ready } = await startWorker('mock-coingecko.js')
  const writers = []
  let daemon
  let daemonLog = ''
  try {
    daemon = spawn(
      process.execPath,
      [BIN, '--db', path, 'daemon', '--interval', '1s', '--log-format', 'json'],
      {
        env: {
          PATH: process.env.PATH,
          HOME: tmp,
          CRYPTORG_CONFIG_DIR: join(tmp, 'config'),
          CRYPTORG_COINGECKO_URL: ready.url,
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    )
    track(daemon)
    daemon.stderr.setEncoding('utf8').on('data', (chunk) => (daemonLog += chunk))
    // Wait for the daemon's first tick, so the writers meet a daemon that is ticking.
    const firstTick = Date.now()
    while (!/"stored \d+ price/.test(daemonLog)) {
      if (Date.now() - firstTick > 20_000)
        throw new Error(`daemon did not tick: ${daemonLog.slice(-500)}`)
      if (daemon.exitCode !== null) throw new Error(`daemon exited: ${daemonLog.slice(-500)}`)
      await new Promise((r) => setTimeout(r, 100))
    }
    for (let i = 0; i < WRITERS; i++) {
      const owner = ownerOf(base.meta, i)
      writers.push(
        (
          await startWorker('writer.js', [
            path,
            owner.username,
            owner.orgs.map((o) => o.id).join(','),
            String(DURATION_MS),
            String(1000 + i),
          ])
        ).child,
      )
    }
    const startedAt = new Date().toISOString()
    const results = writers.map((child) => nextMessage(child, 'result', DURATION_MS + 30_000))
    for (const child of writers) child.send({ type: 'go' })
    const done = await Promise.all(results)
    const finishedAt = new Date().toISOString()
    await stop(daemon, 5000)

    const db = new Database(path, { readonly: true })
    const ticks = db
      .prepare(
        `select outcome, count(*) n, sum(rows_written) rows,
           max((julianday(finished_at) - julianday(started_at)) * 86400000) max_ms
         from daemon_ticks where started_at >= ? and started_at <= ? group by outcome`,
      )
      .all(startedAt, finishedAt)
    db.close()
    const ok = ticks.find((t) => t.outcome === 'ok') ?? { n: 0, rows: 0, max_ms: 0 }
    const failedTicks = ticks.find((t) => t.outcome === 'failed')?.n ?? 0
    const daemonErrors = daemonLog.split('\n').filter((line) => /"level":"error"/.test(line))
    const failures = {}
    for (const result of done) {
      for (const [code, n] of Object.entries(result.failures))
        failures[code] = (failures[code] ?? 0) + n
    }
    const busy =
      Object.values(failures).reduce((a, b) => a + b, 0) + failedTicks + daemonErrors.length
    const added = done.reduce((sum, r) => sum + r.added, 0)
    const seconds = Math.min(...done.map((r) => r.per_second.length))
    const perSecond = Array.from({ length: seconds }, (_, s) =>
      done.reduce((sum, r) => sum + r.per_second[s], 0),
    )
    const rate = median(perSecond)
    log(`  ${added} prices added by ${WRITERS} writers, ${ok.n} daemon ticks, ${busy} errors`)
    return [
      {
        scenario: 'write contention',
        figure: `errors surfaced (${WRITERS} writers + daemon ticking every 1 s, 30 s)`,
        value: busy,
        unit: 'errors',
        display: `${busy} (${JSON.stringify(failures)}, ${failedTicks} failed ticks, ${daemonErrors.length} daemon error lines)`,
        target: '0 busy errors',
        status: busy === 0 ? 'met' : 'missed',
        details: {
          writer_failures: failures,
          failed_ticks: failedTicks,
          daemon_error_lines: daemonErrors.slice(0, 5),
        },
      },
      {
        scenario: 'write contention',
        figure: 'prices.add rows per second (4 writers together; daemon rows aside)',
        value: round(rate, 1),
        unit: 'rows/s',
        display: `${rate.toFixed(0)} rows/s (+ ${Math.round((ok.rows ?? 0) / (DURATION_MS / 1000))} daemon rows/s)`,
        target: 'reported',
        status: 'reported',
        details: {
          median_of_one_second_windows: round(rate, 1),
          mean_rows_per_s: round(added / (DURATION_MS / 1000), 1),
          added,
          per_writer: done.map((r) => ({
            added: r.added,
            p50_ms: round(r.p50_ms, 2),
            p99_ms: round(r.p99_ms, 2),
            max_ms: round(r.max_ms, 1),
          })),
          daemon_ticks_ok: ok.n,
          daemon_rows: ok.rows,
          daemon_longest_tick_ms: round(ok.max_ms ?? 0, 0),
        },
      },
    ]
  } finally {
    for (const child of writers) await stop(child)
    if (daemon) await stop(daemon, 5000)
    await stop(mock)
    rmSync(tmp, { recursive: true, force: true })
  }
}
