// "latest query scaling" and "history page": one library call at a time, as a signed-in owner,
// at 10k, 1M and 10M rows. Each size runs in fresh processes, interleaved, several times.
import { historyDatabase } from '../lib/dataset.js'
import { nextMessage, startWorker, stop } from '../lib/proc.js'
import { median, round } from '../lib/stats.js'
import { mintToken, ownerOf } from '../lib/tokens.js'

export const name = 'latest query scaling / history page'
export const timeoutMs = 240_000

const SIZES = ['10k', '1M', '10M']
const MODES = ['latest', 'history', 'latest-sql', 'history-sql']
const RUNS = 3
const CALLS = 1200
const WARMUP = 200

async function measure(path, token, orgs) {
  const { child } = await startWorker(
    'library-latency.js',
    [path, token, MODES.join(','), orgs.join(','), String(CALLS), String(WARMUP)],
    { waitReady: false },
  )
  try {
    return (await nextMessage(child, 'result', 90_000)).results
  } finally {
    await stop(child)
  }
}

export async function run({ log }) {
  const sets = {}
  for (const size of SIZES) {
    const { path, meta } = await historyDatabase(size, log)
    const owner = ownerOf(meta, 0)
    const token = await mintToken(path, owner.username, owner.password)
    sets[size] = { path, meta, token, orgs: owner.orgs.map((o) => o.id) }
  }
  const samples = Object.fromEntries(
    SIZES.map((s) => [s, Object.fromEntries(MODES.map((m) => [m, []]))]),
  )
  for (let r = 0; r < RUNS; r++) {
    for (const size of SIZES) {
      const { path, token, orgs } = sets[size]
      const results = await measure(path, token, orgs)
      for (const mode of MODES) samples[size][mode].push(results[mode])
    }
    log(
      `  run ${r + 1}/${RUNS}: latest ${SIZES.map((s) => `${s} ${samples[s].latest.at(-1).median_ms.toFixed(3)} ms`).join(', ')}`,
    )
  }
  const fig = (size, mode, key = 'median_ms') => median(samples[size][mode].map((x) => x[key]))
  const rows = []
  for (const size of SIZES) {
    const value = fig(size, 'latest')
    rows.push({
      scenario: 'latest query scaling',
      figure: `prices.latest() at ${size} rows`,
      value: round(value, 4),
      unit: 'ms',
      display: `${value.toFixed(3)} ms`,
      target: '< 0.2 ms',
      status: value < 0.2 ? 'met' : 'missed',
      details: {
        rows_in_database: sets[size].meta.price_rows,
        organizations: sets[size].meta.orgs.length,
        days_of_history: sets[size].meta.days,
        symbols_returned: samples[size].latest[0].rows,
        p90_ms: round(fig(size, 'latest', 'p90_ms'), 4),
        p99_ms: round(fig(size, 'latest', 'p99_ms'), 4),
        same_sql_on_better_sqlite3_ms: round(fig(size, 'latest-sql'), 4),
        runs: samples[size].latest.map((x) => round(x.median_ms, 4)),
        calls_per_run: CALLS,
      },
    })
  }
  const ratio = fig('10M', 'latest') / fig('10k', 'latest')
  rows.push({
    scenario: 'latest query scaling',
    figure: 'prices.latest() 10M rows / 10k rows',
    value: round(ratio, 3),
    unit: 'x',
    display: `${ratio.toFixed(2)}x`,
    target: '<= 1.5x',
    status: ratio <= 1.5 ? 'met' : 'missed',
    details: { sql_only_ratio: round(fig('10M', 'latest-sql') / fig('10k', 'latest-sql'), 3) },
  })
  const history = fig('10M', 'history')
  rows.push({
    scenario: 'history page',
    figure: 'prices.history(org, {symbol, limit: 100}) at 10M rows',
    value: round(history, 4),
    unit: 'ms',
    display: `${history.toFixed(3)} ms`,
    target: '< 1 ms',
    status: history < 1 ? 'met' : 'missed',
    details: {
      p90_ms: round(fig('10M', 'history', 'p90_ms'), 4),
      p99_ms: round(fig('10M', 'history', 'p99_ms'), 4),
      same_sql_on_better_sqlite3_ms: round(fig('10M', 'history-sql'), 4),
      same_sql_at_10k_ms: round(fig('10k', 'history-sql'), 4),
      at_10k_ms: round(fig('10k', 'history'), 4),
      at_1M_ms: round(fig('1M', 'history'), 4),
      rows_returned: samples['10M'].history[0].rows,
      runs: samples['10M'].history.map((x) => round(x.median_ms, 4)),
    },
  })
  return rows
}
