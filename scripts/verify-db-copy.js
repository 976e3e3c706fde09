#!/usr/bin/env node
// Checks `cryptorg db copy` end to end at a realistic size: builds a SQLite installation with
// a million prices (by default), copies it to a fresh Postgres schema and back to a new SQLite
// file with the real CLI, then compares all three databases row by row, every column.
//
//   npm run build
//   node scripts/verify-db-copy.js [--rows N] [--pg postgres://...]
//
// --rows  price rows to generate (default 1000000)
// --pg    the Postgres database to copy into; a schema of its own is created there and dropped
//         at the end (default: $CRYPTORG_TEST_PG)
//
// Exits 0 when the three databases hold the same data, 1 on any difference or failure.
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

import Database from 'better-sqlite3'
import pg from 'pg'

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)))
const BIN = join(ROOT, 'bin', 'cryptorg.js')
const LIBRARY = join(ROOT, 'dist', 'index.js')

const SLOT_MS = 5 * 60 * 1000
const ORGS = 12
const OWNERS = 4
/** Differences shown per table before the rest are only counted. */
const SHOWN_DIFFERENCES = 5
/** Rows fetched from Postgres per query when walking a table by its integer key. */
const PG_PAGE = 20_000

const { values: flags } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    pg: { type: 'string', default: process.env.CRYPTORG_TEST_PG ?? '' },
  },
})
const ROWS = Number(flags.rows)
if (!Number.isSafeInteger(ROWS) || ROWS < 100) fail('--rows must be a whole number >= 100')
if (!flags.pg) fail('name a Postgres database with --pg or CRYPTORG_TEST_PG')
if (!existsSync(LIBRARY)) fail('dist/ is missing: run "npm run build" first')

function fail(message) {
  console.error(`verify-db-copy: ${message}`)
  process.exit(1)
}

const log = (message) => console.log(message)
const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`
const count = (n) => n.toLocaleString('en')

// ---------------------------------------------------------------------------------------------
// The installation

/** A clock moved by hand, so creation times spread over the history as they would in use. */
function manualClock(startMs) {
  let current = startMs
  return { clock: { now: () => new Date(current) }, set: (ms) => (current = ms) }
}

/** Canonical price text (10 decimals), as the product stores it. */
const canonical = (value, decimals) => value.toFixed(decimals) + '0'.repeat(10 - decimals)

/**
 * Users, organizations, memberships, sessions, coins and a few manual prices through the
 * library, so their rows are exactly what the product writes; then the bulk of the price
 * history, the tick records and the lease with better-sqlite3 in one transaction, which is
 * what makes a million rows take seconds rather than an hour.
 */
async function buildSource(path) {
  const { open } = await import(LIBRARY)
  const perSlot = ORGS * 3
  // Every 97th slot records a failed tick and no prices (see below).
  const slots = Math.ceil(((ROWS / perSlot) * 97) / 96) + 1
  const lastSlot = Math.floor(Date.now() / SLOT_MS) * SLOT_MS
  const firstSlot = lastSlot - (slots - 1) * SLOT_MS
  const time = manualClock(firstSlot - 3 * 86_400_000)

  const c = await open({ databasePath: path, clock: time.clock })
  const orgs = []
  let libraryPrices = 0
  try {
    await c.auth.bootstrap({ username: 'admin', password: 'verify admin password' })
    const admin = c.as(await c.auth.actorFor('admin'))
    await admin.coins.track({ symbol: 'SOL', coinId: 'solana' })
    const owners = []
    for (let i = 0; i < OWNERS; i++) {
      const username = `owner-${i}`
      await admin.users.create({ username, password: `owner ${i} password`, admin: i === 0 })
      owners.push({ username, workspace: c.as(await c.auth.actorFor(username)) })
      // A session (and its refresh token id) per user, as a sign-in leaves.
      await c.auth.login(username, `owner ${i} password`)
    }
    // Names that a careless copy would mangle: quotes, accents, symbols outside Latin-1.
    const odd = [
      "O'Brien & Sons",
      'Zürich Crédit',
      'Ökonomie ☃ 株式会社',
      'Back\\slash "quoted" – dash',
    ]
    for (let i = 0; i < ORGS; i++) {
      time.set(firstSlot - 86_400_000 + i * 61_001)
      const owner = owners[i % OWNERS]
      const org = await owner.workspace.orgs.create(odd[i] ?? `Verify Org ${i}`)
      orgs.push(org)
      const other = owners[(i + 1) % OWNERS]
      await owner.workspace.members.add(org.id, other.username, i % 2 ? 'viewer' : 'member')
    }
    // Manual prices at the edges of numeric(20, 10): the smallest, the largest, many digits.
    const edges = ['0.0000000001', '9999999999.9999999999', '1234567890.0987654321', '1', '0.5']
    for (let i = 0; i < orgs.length; i++) {
      for (const [k, price] of edges.entries()) {
        time.set(firstSlot + (i * edges.length + k) * 7_919 + 123)
        const owner = owners[i % OWNERS].workspace
        await owner.prices.add({ org: orgs[i].id, symbol: 'EURC', price, currency: 'eur' })
        libraryPrices++
      }
    }
  } finally {
    await c.close()
  }

  const db = new Database(path)
  db.pragma('synchronous = OFF')
  const insertPrice = db.prepare(
    `insert into crypto_prices (org_id, symbol, price, currency, timestamp, source, quoted_at)
     values (?, ?, ?, ?, ?, ?, ?)`,
  )
  const insertTick = db.prepare(
    `insert into daemon_ticks (holder, slot_at, started_at, finished_at, outcome,
       rows_written, error_code, error) values (?, ?, ?, ?, ?, ?, ?, ?)`,
  )
  const markets = [
    { symbol: 'BTC', price: 42_000, decimals: 2 },
    { symbol: 'ETH', price: 2_300, decimals: 2 },
    { symbol: 'SOL', price: 98, decimals: 6 },
  ]
  // A fixed seed: the prices follow the same path on every run.
  let seed = 20_240_214
  const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648
  let written = libraryPrices
  let ticks = 0
  const started = performance.now()
  db.transaction(() => {
    // Until exactly --rows prices exist; the last slots may fall a little past now.
    for (let s = 0; written < ROWS; s++) {
      const at = firstSlot + s * SLOT_MS
      const slot = new Date(at).toISOString()
      const holder = `verify-host:${1000 + (s >> 12)}:a1b2c3`
      // Every 97th slot fails upstream, as a real history has some.
      if (s % 97 === 96) {
        const done = new Date(at + 10_000).toISOString()
        const error = 'CoinGecko answered 429 "Too Many Requests"; retry after 60s'
        insertTick.run(holder, slot, slot, done, 'failed', 0, 'ERR_RATE_LIMITED', error)
        ticks++
        continue
      }
      let rows = 0
      for (const market of markets) {
        market.price *= 1 + (random() - 0.5) * 0.004
        const price = canonical(market.price, market.decimals)
        const quotedAt = new Date(at - 5_000 - Math.floor(random() * 55_000)).toISOString()
        for (const org of orgs) {
          if (written >= ROWS) break
          insertPrice.run(org.id, market.symbol, price, 'usd', slot, 'coingecko', quotedAt)
          written++
          rows++
        }
      }
      const finished = new Date(at + 150 + Math.floor(random() * 900)).toISOString()
      insertTick.run(holder, slot, slot, finished, 'ok', rows, null, null)
      ticks++
    }
    const now = new Date(lastSlot).toISOString()
    const expires = new Date(lastSlot + 30_000).toISOString()
    db.prepare(
      `insert into daemon_lease (name, holder, acquired_at, renewed_at, expires_at,
         interval_ms, next_tick_at) values ('poller', ?, ?, ?, ?, ?, ?)`,
    ).run('verify-host:1000:a1b2c3', now, now, expires, SLOT_MS, expires)
  })()
  db.close()
  return {
    orgs: orgs.length,
    // Every slot has its tick record.
    days: ticks / 288,
    prices: written,
    ticks,
    bulkSeconds: (performance.now() - started) / 1000,
  }
}

// ---------------------------------------------------------------------------------------------
// The copies

/** Runs the CLI with its output shown as it comes (the progress goes to stderr). */
function runCli(args, home) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      // No CRYPTORG_DB or user configuration: the command works only on what it is given.
      env: { PATH: process.env.PATH, HOME: home },
      stdio: ['ignore', 'inherit', 'inherit'],
    })
    child.once('error', reject)
    child.once('exit', (code, signal) => resolve({ code, signal }))
  })
}

async function timedCopy(label, from, to, home) {
  log(`\n== ${label}\n$ cryptorg db copy --from ${redact(from)} --to ${redact(to)}`)
  const started = performance.now()
  const { code, signal } = await runCli(['db', 'copy', '--from', from, '--to', to], home)
  const ms = performance.now() - started
  log(`-- ${label}: exit ${signal ?? code} after ${seconds(ms)}`)
  if (code !== 0) throw new Error(`db copy (${label}) failed with exit ${signal ?? code}`)
  return ms
}

function redact(location) {
  if (!/^postgres(ql)?:/i.test(location)) return location
  const url = new URL(location)
  if (url.password) url.password = '***'
  return url.href
}

// ---------------------------------------------------------------------------------------------
// The comparisons

/** Tables of a SQLite file with their columns and primary key, the SQLite way. */
function describeSqlite(db) {
  const names = db
    .prepare("select name from sqlite_master where type = 'table' and name not like 'sqlite_%'")
    .pluck()
    .all()
    .sort()
  return names.map((name) => {
    const columns = db.prepare(`pragma table_info("${name}")`).all()
    const key = columns
      .filter((c) => c.pk > 0)
      .sort((a, b) => a.pk - b.pk)
      .map((c) => c.name)
    return { name, columns: columns.map((c) => c.name), key }
  })
}

/**
 * The migrations' own record: each database notes when *it* was migrated (the copy migrates
 * its destination itself), so only the list of applied migrations is compared, not the times.
 */
const MIGRATION_TABLES = new Set(['cryptorg_migrations'])

function comparedColumns(table) {
  if (!MIGRATION_TABLES.has(table.name)) return table.columns
  return table.columns.includes('name') ? ['name'] : table.key
}

function sameSqliteValue(a, b) {
  if (Buffer.isBuffer(a) || Buffer.isBuffer(b)) {
    return Buffer.isBuffer(a) && Buffer.isBuffer(b) && a.equals(b)
  }
  // Strict: an integer that came back as text, or a real, is a difference.
  return typeof a === typeof b && Object.is(a, b)
}

class Differences {
  constructor(table) {
    this.table = table
    this.count = 0
  }

  add(message) {
    this.count++
    if (this.count <= SHOWN_DIFFERENCES) log(`   ! ${this.table}: ${message}`)
  }
}

const show = (value) => (typeof value === 'string' ? JSON.stringify(value) : String(value))

/** Orders keys as SQLite does: integers by value, text by its UTF-8 bytes (BINARY). */
function compareKeys(a, b) {
  for (let i = 0; i < a.length; i++) {
    const [x, y] = [a[i], b[i]]
    const order =
      typeof x === 'number' && typeof y === 'number'
        ? x - y
        : Buffer.compare(Buffer.from(String(x)), Buffer.from(String(y)))
    if (order !== 0) return order
  }
  return 0
}

/**
 * Walks two row sources sorted by the same key side by side and pairs the rows with equal
 * keys, so that a missing row is reported once rather than shifting every row after it.
 */
async function mergeByKey(left, right, keys, handlers) {
  let x = await left.next()
  let y = await right.next()
  let pairs = 0
  while (!x.done || !y.done) {
    const order = x.done ? 1 : y.done ? -1 : compareKeys(keys.left(x.value), keys.right(y.value))
    if (order === 0) {
      handlers.pair(x.value, y.value)
      pairs++
      x = await left.next()
      y = await right.next()
    } else if (order < 0) {
      handlers.leftOnly(x.value)
      x = await left.next()
    } else {
      handlers.rightOnly(y.value)
      y = await right.next()
    }
  }
  return pairs
}

const keyColumns = (table, columns) => (table.key.length > 0 ? table.key : columns)

function sqliteWalk(db, table, columns) {
  const list = columns.map((c) => `"${c}"`).join(', ')
  const order = keyColumns(table, columns)
    .map((c) => `"${c}"`)
    .join(', ')
  return db.prepare(`select ${list} from "${table.name}" order by ${order}`).raw().iterate()
}

/** The original and the round-tripped file, walked side by side in primary-key order. */
async function compareSqliteFiles(originalPath, copyPath) {
  const left = new Database(originalPath, { readonly: true })
  const right = new Database(copyPath, { readonly: true })
  const report = []
  try {
    const rightTables = new Map(describeSqlite(right).map((t) => [t.name, t]))
    for (const table of describeSqlite(left)) {
      const differences = new Differences(table.name)
      const other = rightTables.get(table.name)
      rightTables.delete(table.name)
      if (!other) {
        differences.add('missing from the round-tripped file')
        report.push({ table: table.name, rows: 0, differences: differences.count })
        continue
      }
      if (other.columns.join() !== table.columns.join()) {
        differences.add(`columns ${table.columns.join()} became ${other.columns.join()}`)
        report.push({ table: table.name, rows: 0, differences: differences.count })
        continue
      }
      const columns = comparedColumns(table)
      const keyAt = keyColumns(table, columns).map((c) => columns.indexOf(c))
      const keyOf = (row) => keyAt.map((i) => row[i])
      const rows = await mergeByKey(
        sqliteWalk(left, table, columns),
        sqliteWalk(right, table, columns),
        { left: keyOf, right: keyOf },
        {
          pair: (x, y) => {
            for (let i = 0; i < columns.length; i++) {
              if (sameSqliteValue(x[i], y[i])) continue
              differences.add(
                `${rowKey(table, columns, x)} ${columns[i]}: ${show(x[i])} (${typeof x[i]}) ` +
                  `became ${show(y[i])} (${typeof y[i]})`,
              )
            }
          },
          leftOnly: (x) => differences.add(`${rowKey(table, columns, x)} was lost`),
          rightOnly: (y) => differences.add(`${rowKey(table, columns, y)} was added`),
        },
      )
      report.push({ table: table.name, rows, differences: differences.count })
    }
    for (const name of rightTables.keys()) {
      new Differences(name).add('only in the round-tripped file')
      report.push({ table: name, rows: 0, differences: 1 })
    }
  } finally {
    left.close()
    right.close()
  }
  return report
}

function rowKey(table, columns, row) {
  return keyColumns(table, columns)
    .map((name) => `${name}=${show(row[columns.indexOf(name)])}`)
    .join(',')
}

// Postgres type ids (pg_type.oid), fixed in the catalog.
const OID = { bool: 16, int8: 20, int4: 23, numeric: 1700, timestamptz: 1184, uuid: 2950 }
const INTEGER_OIDS = new Set([OID.int8, OID.int4])

/**
 * A Postgres value as text (the connection parses nothing), in the form SQLite stores it, so
 * that the check is independent of the product's own type parsers.
 */
function sqliteFormOf(text, typeId) {
  if (text === null) return null
  if (typeId === OID.timestamptz) {
    const match = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(?:\.(\d+))?\+00$/.exec(text)
    if (!match) return `unparsed timestamptz ${text}`
    // Digits past milliseconds would be lost on the way back to SQLite: kept, to show.
    const fraction = (match[3] ?? '').padEnd(3, '0')
    return `${match[1]}T${match[2]}.${fraction}Z`
  }
  if (typeId === OID.bool) return text === 't' ? '1' : '0'
  return text
}

function sqliteAsText(value) {
  if (value === null) return null
  if (typeof value === 'number' || typeof value === 'bigint') return String(value)
  return value
}

/**
 * A table's rows from Postgres in SQLite's key order: paged by the key when it is one integer
 * (the large tables), otherwise read whole and sorted here, since Postgres need not sort text
 * and uuids the way SQLite does. Yields `{ row, fields }`.
 */
async function* postgresRows(client, table, columns) {
  const list = columns.map((c) => `"${c}"`).join(', ')
  const keys = keyColumns(table, columns)
  const probe = await client.query({
    text: `select ${list} from "${table.name}" limit 0`,
    rowMode: 'array',
  })
  const fields = probe.fields
  const keyAt = keys.map((c) => columns.indexOf(c))
  if (keys.length === 1 && INTEGER_OIDS.has(fields[keyAt[0]].dataTypeID)) {
    let after = null
    for (;;) {
      const page = await client.query({
        text:
          `select ${list} from "${table.name}" ` +
          (after === null ? '' : `where "${keys[0]}" > $1 `) +
          `order by "${keys[0]}" limit ${PG_PAGE}`,
        values: after === null ? [] : [after],
        rowMode: 'array',
      })
      for (const row of page.rows) yield { row, fields }
      if (page.rows.length < PG_PAGE) return
      after = page.rows.at(-1)[keyAt[0]]
    }
  }
  const all = await client.query({ text: `select ${list} from "${table.name}"`, rowMode: 'array' })
  const keyOf = (row) => keyAt.map((i) => postgresKeyValue(row[i], fields[i].dataTypeID))
  all.rows.sort((a, b) => compareKeys(keyOf(a), keyOf(b)))
  for (const row of all.rows) yield { row, fields }
}

function postgresKeyValue(text, typeId) {
  return INTEGER_OIDS.has(typeId) ? Number(text) : sqliteFormOf(text, typeId)
}

/** The Postgres copy against the original file, table by table and row by row. */
async function comparePostgres(url, originalPath) {
  const client = new pg.Client({
    connectionString: url,
    types: { getTypeParser: () => (text) => text },
  })
  await client.connect()
  const sqlite = new Database(originalPath, { readonly: true })
  const report = []
  try {
    await client.query("set timezone = 'UTC'")
    const { rows: pgTables } = await client.query(
      `select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
       where n.nspname = current_schema() and c.relkind = 'r'`,
    )
    const pgNames = new Set(pgTables.map((t) => t.name))
    for (const table of describeSqlite(sqlite)) {
      const differences = new Differences(`postgres ${table.name}`)
      if (!pgNames.delete(table.name)) {
        differences.add('missing')
        report.push({ table: table.name, rows: 0, differences: differences.count })
        continue
      }
      const columns = comparedColumns(table)
      const keyAt = keyColumns(table, columns).map((c) => columns.indexOf(c))
      const rows = await mergeByKey(
        sqliteWalk(sqlite, table, columns),
        postgresRows(client, table, columns),
        {
          left: (row) => keyAt.map((i) => row[i]),
          right: ({ row, fields }) =>
            keyAt.map((i) => postgresKeyValue(row[i], fields[i].dataTypeID)),
        },
        {
          pair: (x, { row, fields }) => {
            for (let i = 0; i < columns.length; i++) {
              const expected = sqliteAsText(x[i])
              if (expected === sqliteFormOf(row[i], fields[i].dataTypeID)) continue
              differences.add(
                `${rowKey(table, columns, x)} ${columns[i]}: ${show(expected)} is ` +
                  `${show(row[i])} in Postgres`,
              )
            }
          },
          leftOnly: (x) => differences.add(`${rowKey(table, columns, x)} is missing`),
          rightOnly: ({ row }) =>
            differences.add(`${rowKey(table, columns, row)} is only in Postgres`),
        },
      )
      report.push({ table: table.name, rows, differences: differences.count })
    }
    for (const name of pgNames) {
      new Differences(`postgres ${name}`).add('only in Postgres')
      report.push({ table: name, rows: 0, differences: 1 })
    }
  } finally {
    sqlite.close()
    await client.end()
  }
  return report
}

function printReport(title, report) {
  log(`\n${title}`)
  for (const { table, rows, differences } of report) {
    const verdict = differences === 0 ? 'identical' : `${count(differences)} difference(s)`
    log(`   ${table.padEnd(22)} ${count(rows).padStart(10)} rows  ${verdict}`)
  }
  return report.reduce((sum, t) => sum + t.differences, 0)
}

// ---------------------------------------------------------------------------------------------

const directory = mkdtempSync(join(tmpdir(), 'cryptorg-verify-copy-'))
const original = join(directory, 'original.db')
const roundTrip = join(directory, 'round-trip.db')
const schema = `cryptorg_verify_${randomBytes(6).toString('hex')}`
let schemaCreated = false

async function dropSchema() {
  if (!schemaCreated) return
  const client = new pg.Client({ connectionString: flags.pg })
  await client.connect()
  try {
    await client.query(`drop schema if exists "${schema}" cascade`)
    schemaCreated = false
  } finally {
    await client.end()
  }
}

let cleaning
const cleanUp = () =>
  (cleaning ??= (async () => {
    await dropSchema().catch((error) => console.error(`could not drop ${schema}: ${error}`))
    rmSync(directory, { recursive: true, force: true })
  })())

// Ctrl-C reaches the CLI child too; the schema and the files are still removed.
process.once('SIGINT', () => {
  console.error('\ninterrupted; cleaning up')
  cleanUp().finally(() => process.exit(130))
})

let exitCode = 1
try {
  log(`Building a SQLite installation with ${count(ROWS)} prices in ${directory}`)
  const built = await buildSource(original)
  log(
    `   ${built.orgs} organizations, ${OWNERS + 1} users, ${count(built.prices)} prices over ` +
      `${built.days.toFixed(1)} days of 5-minute slots, ${count(built.ticks)} tick records ` +
      `(bulk insert ${built.bulkSeconds.toFixed(1)} s); ` +
      `${(statSync(original).size / 1e6).toFixed(0)} MB`,
  )

  const admin = new pg.Client({ connectionString: flags.pg })
  await admin.connect()
  try {
    await admin.query(`create schema "${schema}"`)
    schemaCreated = true
  } finally {
    await admin.end()
  }
  const pgUrl = new URL(flags.pg)
  pgUrl.searchParams.set('options', `-c search_path=${schema}`)

  const toPostgres = await timedCopy('SQLite -> Postgres', original, pgUrl.href, directory)
  const back = await timedCopy('Postgres -> SQLite', pgUrl.href, roundTrip, directory)

  log('\nComparing, row by row and column by column...')
  let started = performance.now()
  const sqliteReport = await compareSqliteFiles(original, roundTrip)
  const sqliteMs = performance.now() - started
  started = performance.now()
  const pgReport = await comparePostgres(pgUrl.href, original)
  const pgMs = performance.now() - started
  const differences =
    printReport(`original vs round-tripped SQLite (${seconds(sqliteMs)})`, sqliteReport) +
    printReport(`original vs Postgres schema ${schema} (${seconds(pgMs)})`, pgReport)

  const prices = sqliteReport.find((t) => t.table === 'crypto_prices')?.rows ?? 0
  const rate = (ms) => `${count(Math.round(prices / (ms / 1000)))} prices/s`
  log(
    `\nSQLite -> Postgres ${seconds(toPostgres)} (${rate(toPostgres)}), ` +
      `Postgres -> SQLite ${seconds(back)} (${rate(back)})`,
  )
  if (differences === 0) {
    log('All three databases hold the same data.')
    exitCode = 0
  } else {
    log(`${count(differences)} difference(s) found.`)
  }
} catch (error) {
  console.error(`verify-db-copy: ${error instanceof Error ? error.message : error}`)
} finally {
  await cleanUp()
}
process.exit(exitCode)
