// "tick fan-out": one tick for 10,000 organizations (20,000 rows) against the mock CoinGecko,
// against a raw prepared-statement insert of the same rows in one transaction.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { orgsDatabase } from '../lib/dataset.js'
import { nextMessage, startWorker, stop } from '../lib/proc.js'
import { median, round } from '../lib/stats.js'

export const name = 'tick fan-out'
export const timeoutMs = 120_000

const ROUNDS = 7

export async function run({ log }) {
  const base = await orgsDatabase(10_000, 0, log)
  const warm = await orgsDatabase(1000, 10, log)
  const tmp = mkdtempSync(join(tmpdir(), 'cryptorg-bench-fanout-'))
  const { child: mock, ready } = await startWorker('mock-coingecko.js')
  try {
    const { child } = await startWorker(
      'fanout.js',
      [base.path, warm.path, tmp, ready.url, String(ROUNDS)],
      { waitReady: false },
    )
    const result = await nextMessage(child, 'result', timeoutMs - 10_000)
    await stop(child)
    if (result.rows !== 20_000) throw new Error(`the tick wrote ${result.rows} rows, not 20000`)
    const tickMs = median(result.tick_ms)
    const rawMs = median(result.raw_ms)
    const ratio = tickMs / rawMs
    return [
      {
        scenario: 'tick fan-out',
        figure: 'poller.tick() for 10,000 orgs (20,000 rows) / raw insert of the same rows',
        value: round(ratio, 3),
        unit: 'x',
        display: `${ratio.toFixed(2)}x (${tickMs.toFixed(1)} ms / ${rawMs.toFixed(1)} ms)`,
        target: '<= 2x',
        status: ratio <= 2 ? 'met' : 'missed',
        details: {
          tick_median_ms: round(tickMs, 2),
          raw_insert_median_ms: round(rawMs, 2),
          rows: result.rows,
          rounds: ROUNDS,
          tick_ms: result.tick_ms.map((t) => round(t, 2)),
          raw_insert_ms: result.raw_ms.map((t) => round(t, 2)),
        },
      },
    ]
  } finally {
    await stop(mock)
    rmSync(tmp, { recursive: true, force: true })
  }
}
