// Times calls in a fresh process, for each mode given (comma-separated), one after the other:
// `latest` is `prices.latest(org)` and `history` is `prices.history(org, {symbol: 'BTC',
// limit: 100})` through the library, acting as a signed-in user (the organizations' owner),
// cycling over that user's organizations; `latest-sql` and `history-sql` run the same SQL on
// better-sqlite3 directly (the floor under the library, for the analysis). Warm-up calls first,
// then timed ones, each timed on its own. Sends `{ type: 'result', results: {mode: {median_ms,
// p90_ms, p99_ms, rows}} }`.
import { failWorker } from '../lib/proc.js'
import { importLibrary } from '../lib/paths.js'
import { median, nowMs, percentile } from '../lib/stats.js'

const [databasePath, token, modes, orgList, callsText, warmupText] = process.argv.slice(2)
const orgIds = orgList.split(',')
const calls = Number(callsText)
const warmup = Number(warmupText)

// The product's own SQL, run straight on better-sqlite3: the floor under the library's
// figure (diagnostic only; it skips the permission checks and kysely).
const LATEST_SQL = `
  with recursive symbols(symbol) as (
    select min(symbol) from crypto_prices where org_id = ?
    union all
    select (select min(p.symbol) from crypto_prices p where p.org_id = ? and p.symbol > symbols.symbol)
    from symbols where symbols.symbol is not null
  )
  select cp.* from symbols
  join crypto_prices cp on cp.id = (
    select p.id from crypto_prices p where p.org_id = ? and p.symbol = symbols.symbol
    order by p.timestamp desc, p.id desc limit 1
  )
  order by cp.symbol`
const HISTORY_SQL = `select * from crypto_prices where org_id = ? and symbol = ?
  order by timestamp desc, id desc limit 100`

async function sqlCall(kind) {
  const { default: Database } = await import('better-sqlite3')
  const db = new Database(databasePath)
  db.pragma('busy_timeout = 5000')
  db.pragma('foreign_keys = ON')
  db.pragma('synchronous = NORMAL')
  const statement = db.prepare(kind === 'latest' ? LATEST_SQL : HISTORY_SQL)
  return {
    call: async (org) =>
      kind === 'latest' ? statement.all(org, org, org) : statement.all(org, 'BTC'),
    close: async () => db.close(),
  }
}

async function libraryCall(kind) {
  const { open } = await importLibrary()
  const c = await open({ databasePath })
  const w = c.as(await c.auth.authenticate(token))
  return {
    call:
      kind === 'latest'
        ? (org) => w.prices.latest(org)
        : (org) => w.prices.history(org, { symbol: 'BTC', limit: 100 }),
    close: () => c.close(),
  }
}

async function timeCalls(call, calls, warmup) {
  let rows = 0
  for (let i = 0; i < warmup; i++) rows = (await call(orgIds[i % orgIds.length])).length
  if (rows === 0) throw new Error('no rows returned: the data set is not what it seems')
  const times = new Array(calls)
  for (let i = 0; i < calls; i++) {
    const org = orgIds[i % orgIds.length]
    const started = nowMs()
    await call(org)
    times[i] = nowMs() - started
  }
  return {
    median_ms: median(times),
    p90_ms: percentile(times, 90),
    p99_ms: percentile(times, 99),
    rows,
  }
}

try {
  const results = {}
  for (const mode of modes.split(',')) {
    const [kind, via] = mode.split('-')
    const c = via === 'sql' ? await sqlCall(kind) : await libraryCall(kind)
    // A history page reads 100 rows: fewer calls keep the run short.
    const count = kind === 'history' ? Math.ceil(calls / 2) : calls
    results[mode] = await timeCalls(c.call, count, warmup)
    await c.close()
  }
  process.send({ type: 'result', results })
} catch (error) {
  failWorker(error)
}
