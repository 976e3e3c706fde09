// "tick fan-out": one `poller.tick()` through the library for 10,000 organizations against the
// mock CoinGecko, and the baseline: a raw better-sqlite3 prepared insert of the same 20,000
// rows in one transaction. Every measurement starts from a fresh copy of the same database
// (organizations, no prices), in this one process, alternating which goes first.
// Sends `{ type: 'result', tick_ms: [...], raw_ms: [...], rows: n }`.
import { copyFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'

import Database from 'better-sqlite3'

import { importLibrary } from '../lib/paths.js'
import { failWorker } from '../lib/proc.js'
import { nowMs } from '../lib/stats.js'

const [basePath, warmPath, tmpDir, mockUrl, roundsText] = process.argv.slice(2)
const rounds = Number(roundsText)
let copies = 0

function freshCopy(source) {
  const target = join(tmpDir, `fanout-${process.pid}-${copies++}.db`)
  copyFileSync(source, target)
  return target
}
function remove(path) {
  for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true })
}

async function timeTick(source) {
  const { open } = await importLibrary()
  const path = freshCopy(source)
  const c = await open({ databasePath: path, coingecko: { baseUrl: mockUrl } })
  try {
    const started = nowMs()
    const result = await c.poller.tick()
    const elapsed = nowMs() - started
    return { ms: elapsed, rows: result.rows_written }
  } finally {
    await c.close()
    remove(path)
  }
}

/** The same rows the tick writes, inserted the plainest way better-sqlite3 allows. */
function timeRawInsert(source) {
  const path = freshCopy(source)
  const db = new Database(path)
  try {
    // The product's connection settings (src/db/sqlite.ts).
    db.pragma('journal_mode = WAL')
    db.pragma('busy_timeout = 5000')
    db.pragma('foreign_keys = ON')
    db.pragma('synchronous = NORMAL')
    const orgIds = db.prepare('select id from organizations').pluck().all()
    const timestamp = new Date().toISOString()
    const quotedAt = new Date(Date.now() - 20_000).toISOString()
    const quotes = [
      ['BTC', '64213.1200000000'],
      ['ETH', '2318.4700000000'],
    ]
    const insert = db.prepare(
      `insert into crypto_prices (org_id, symbol, price, currency, timestamp, source, quoted_at)
       values (?, ?, ?, ?, ?, ?, ?)`,
    )
    const writeAll = db.transaction(() => {
      for (const [symbol, price] of quotes) {
        for (const id of orgIds)
          insert.run(id, symbol, price, 'usd', timestamp, 'coingecko', quotedAt)
      }
    })
    const started = nowMs()
    writeAll()
    const elapsed = nowMs() - started
    return { ms: elapsed, rows: orgIds.length * quotes.length }
  } finally {
    db.close()
    remove(path)
  }
}

try {
  // Warm-up on a smaller database: loads every module and gets both paths through the JIT.
  for (let i = 0; i < 3; i++) {
    await timeTick(warmPath)
    timeRawInsert(warmPath)
  }
  const tick = []
  const raw = []
  let rows = 0
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? ['tick', 'raw'] : ['raw', 'tick']
    for (const which of order) {
      if (which === 'tick') {
        const result = await timeTick(basePath)
        tick.push(result.ms)
        rows = result.rows
      } else {
        const result = timeRawInsert(basePath)
        raw.push(result.ms)
        if (result.rows !== rows && rows !== 0)
          throw new Error('tick and baseline wrote different row counts')
      }
    }
  }
  process.send({ type: 'result', tick_ms: tick, raw_ms: raw, rows })
} catch (error) {
  failWorker(error)
}
