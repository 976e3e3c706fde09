// Generated databases, cached under bench/.data/ by their parameters and by the schema (the
// built migrations), so a re-run reuses them and a schema change regenerates them.
//
// The schema, users, organizations and tracked coins are made through the library, exactly as
// the product makes them (with the production password cost); only the price history is
// bulk-inserted with a raw prepared statement, in the order the daemon writes it: slot after
// slot, and within a slot one symbol after the other for every organization that exists then.
import { createHash } from 'node:crypto'
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { basename, join } from 'node:path'

import Database from 'better-sqlite3'

import { DATA_DIR, DIST, importLibrary } from './paths.js'
import { nowMs, prng } from './stats.js'

/** Bump when the generated data changes shape, to regenerate every cached database. */
const GENERATOR_VERSION = 3
const SLOT_MS = 5 * 60 * 1000
const REBUILD_INDEXES = process.env.BENCH_ORGANIC_INDEXES !== '1'

export const ADMIN = { username: 'admin', password: 'bench admin password' }
const ownerName = (i) => `owner-${String(i).padStart(3, '0')}`
const ownerPassword = (i) => `owner ${i} bench password`

/** The history databases of the latency scenarios, by nominal size. */
export const HISTORY_SIZES = {
  '10k': { rows: 10_000, orgs: 10, owners: 5 },
  '1M': { rows: 1_000_000, orgs: 100, owners: 10 },
  '10M': { rows: 10_000_000, orgs: 300, owners: 20 },
}

function schemaHash() {
  const folder = join(DIST, 'db', 'migrations')
  const hash = createHash('sha256')
  for (const name of readdirSync(folder)
    .filter((n) => n.endsWith('.js'))
    .sort()) {
    hash.update(name).update(readFileSync(join(folder, name)))
  }
  return hash.digest('hex').slice(0, 10)
}

function cachePath(kind, params) {
  const key = Object.entries(params)
    .map(([k, v]) => `${k}${v}`)
    .join('-')
  return join(DATA_DIR, `${kind}-${key}-g${GENERATOR_VERSION}-s${schemaHash()}.db`)
}

/**
 * A history database of about `rows` prices (see HISTORY_SIZES), generated on first use.
 * Resolves to `{ path, meta }`; `meta` lists the organizations, owners and what was written.
 */
export async function historyDatabase(size, log = () => {}) {
  const params = HISTORY_SIZES[size]
  if (!params) throw new Error(`unknown size ${size}`)
  return cached('history', params, log, (path) => buildHistory(path, params, log))
}

/**
 * A database with `orgs` organizations, owned by `owners` users (or by nobody when 0: made by
 * the installation itself), BTC and ETH tracked, and no prices yet.
 */
export async function orgsDatabase(orgs, owners, log = () => {}) {
  const params = { orgs, owners }
  return cached('orgs', params, log, (path) => buildOrgsOnly(path, params, log))
}

/** Copies a cached database to `target` (a scenario that writes works on its own copy). */
export function copyDatabase(source, target) {
  copyFileSync(source, target)
  return target
}

async function cached(kind, params, log, build) {
  mkdirSync(DATA_DIR, { recursive: true })
  const path = cachePath(kind, params)
  const metaPath = `${path}.json`
  // The same data set made by an older generator or for an older schema is dead weight.
  const stem = basename(path).replace(/-g\d+-s[0-9a-f]+\.db$/, '-g')
  for (const name of readdirSync(DATA_DIR)) {
    if (name.startsWith(stem) && !name.startsWith(basename(path))) {
      rmSync(join(DATA_DIR, name), { force: true })
    }
  }
  if (existsSync(path) && existsSync(metaPath)) {
    return { path, meta: JSON.parse(readFileSync(metaPath, 'utf8')), generated: false }
  }
  const temporary = `${path}.tmp-${process.pid}`
  for (const suffix of ['', '-wal', '-shm']) rmSync(temporary + suffix, { force: true })
  const started = nowMs()
  log(`generating ${kind} database ${JSON.stringify(params)} (cached afterwards)`)
  const meta = await build(temporary)
  meta.generation_seconds = Math.round((nowMs() - started) / 100) / 10
  for (const suffix of ['-wal', '-shm']) rmSync(temporary + suffix, { force: true })
  renameSync(temporary, path)
  writeFileSync(metaPath, JSON.stringify(meta, null, 1))
  log(`generated ${path} in ${meta.generation_seconds} s`)
  return { path, meta, generated: true }
}

/** A clock the generator moves by hand, so created_at values spread over the history. */
function manualClock(start) {
  let current = start
  return {
    clock: { now: () => new Date(current) },
    set: (ms) => {
      current = ms
    },
  }
}

const ADJECTIVES = [
  'Northern',
  'Blue',
  'Silver',
  'Rapid',
  'Quiet',
  'Golden',
  'Open',
  'Prime',
  'Bright',
  'Solid',
  'Green',
  'Iron',
  'Clear',
  'First',
  'Grand',
  'Red',
  'Stellar',
  'Urban',
]
const NOUNS = [
  'Capital',
  'Ventures',
  'Labs',
  'Holdings',
  'Partners',
  'Trading',
  'Systems',
  'Analytics',
  'Foundation',
  'Markets',
  'Digital',
  'Finance',
  'Works',
  'Group',
  'Exchange',
]
const orgName = (i) =>
  `${ADJECTIVES[i % ADJECTIVES.length]} ${NOUNS[Math.floor(i / ADJECTIVES.length) % NOUNS.length]} ${i}`

/**
 * Creates the admin, the owners and the organizations through the library. `createdAt(i)`
 * gives organization i's creation time; organization i is owned by owner i % owners (or made
 * by the installation when there are no owners).
 */
async function populate(path, { orgs, owners, createdAt, firstMs, beforeOrgs }) {
  const { open } = await importLibrary()
  const time = manualClock(firstMs)
  const c = await open({ databasePath: path, clock: time.clock })
  try {
    await c.auth.bootstrap(ADMIN)
    const admin = c.as(await c.auth.actorFor(ADMIN.username))
    const ownerActors = []
    // Production password cost: scrypt runs on libuv's pool, so these hash side by side.
    await Promise.all(
      Array.from({ length: owners }, (_, i) =>
        admin.users.create({ username: ownerName(i), password: ownerPassword(i) }),
      ),
    )
    for (let i = 0; i < owners; i++) {
      ownerActors.push(c.as(await c.auth.actorFor(ownerName(i))))
    }
    await beforeOrgs?.(admin, time)
    const created = []
    for (let i = 0; i < orgs; i++) {
      time.set(createdAt(i))
      const workspace = owners > 0 ? ownerActors[i % owners] : c.system
      const org = await workspace.orgs.create(orgName(i))
      created.push({ id: org.id, name: org.name, owner: owners > 0 ? i % owners : null })
    }
    return created
  } finally {
    await c.close()
  }
}

async function buildOrgsOnly(path, { orgs, owners }) {
  const now = Date.now()
  const created = await populate(path, {
    orgs,
    owners,
    firstMs: now - 86_400_000,
    createdAt: (i) => now - 86_400_000 + i * 10,
  })
  return {
    kind: 'orgs',
    orgs: created,
    owners: Array.from({ length: owners }, (_, i) => ({
      username: ownerName(i),
      password: ownerPassword(i),
    })),
    admin: ADMIN,
    price_rows: 0,
  }
}

/**
 * The shape of a history: a quarter of the organizations exist from the first slot, the others
 * are created one after another over the first 85% of it; BTC and ETH are tracked throughout
 * and SOL from the middle on; every tenth organization also records a manual EURC price in EUR
 * about once a day. Returns what each slot writes.
 */
function historyPlan(orgs, slots) {
  const founders = Math.max(1, Math.round(orgs * 0.25))
  const createdSlot = Array.from({ length: orgs }, (_, i) =>
    i < founders ? 0 : Math.floor(((i - founders + 1) / (orgs - founders + 1)) * slots * 0.85),
  )
  const solFrom = Math.floor(slots / 2)
  return { createdSlot, solFrom, founders }
}

function coingeckoRows(orgs, slots) {
  const { createdSlot, solFrom } = historyPlan(orgs, slots)
  let total = 0
  for (const slot of createdSlot) {
    const alive = slots - slot
    const withSol = Math.max(0, slots - Math.max(slot, solFrom))
    total += 2 * alive + withSol
  }
  return total
}

async function buildHistory(path, { rows, orgs, owners }, log) {
  const rand = prng(20_240_214 + rows)
  // Manual rows: every tenth organization, about one a day: small next to the daemon's.
  let slots = 1
  while (coingeckoRows(orgs, slots * 2) < rows) slots *= 2
  let low = slots
  let high = slots * 2
  while (high - low > 1) {
    const mid = (low + high) >> 1
    if (coingeckoRows(orgs, mid) < rows * 0.997) low = mid
    else high = mid
  }
  slots = high
  const { createdSlot, solFrom, founders } = historyPlan(orgs, slots)
  const lastSlot = Math.floor(Date.now() / SLOT_MS) * SLOT_MS
  const firstSlot = lastSlot - (slots - 1) * SLOT_MS
  const slotMs = (s) => firstSlot + s * SLOT_MS

  const created = await populate(path, {
    orgs,
    owners,
    firstMs: firstSlot - 3 * 86_400_000,
    // Founders a few days before the history starts; the others just before their first slot.
    createdAt: (i) =>
      i < founders
        ? firstSlot - 86_400_000 - (founders - i) * 60_000
        : slotMs(createdSlot[i]) - Math.floor(rand() * SLOT_MS),
    beforeOrgs: async (admin, time) => {
      time.set(slotMs(solFrom) - 60_000)
      await admin.coins.track({ symbol: 'SOL', coinId: 'solana' })
      time.set(firstSlot - 2 * 86_400_000)
    },
  })

  log(
    `  ${orgs} organizations and their owners made through the library; ` +
      `${slots} slots of 5 minutes (${(slots / 288).toFixed(1)} days) to insert`,
  )
  const db = new Database(path)
  db.pragma('journal_mode = DELETE')
  db.pragma('synchronous = OFF')
  db.pragma('cache_size = -200000')
  db.pragma('threads = 2')
  // The price indexes are dropped during the bulk insert and rebuilt from their own
  // definitions afterwards: the same schema, ten times faster to generate (see bench/README.md).
  const indexes = db
    .prepare(
      `select name, sql from sqlite_master
       where type = 'index' and tbl_name = 'crypto_prices' and sql is not null`,
    )
    .all()
  if (REBUILD_INDEXES) for (const { name } of indexes) db.exec(`drop index "${name}"`)
  const INSERT = `insert into crypto_prices
    (org_id, symbol, price, currency, timestamp, source, quoted_at) values `
  const insertOne = db.prepare(`${INSERT} (?, ?, ?, ?, ?, ?, ?)`)
  // Rows go in 64 at a time (one statement call each), to keep the JavaScript side cheap.
  const MANY = 64
  const insertMany = db.prepare(INSERT + Array(MANY).fill('(?, ?, ?, ?, ?, ?, ?)').join(', '))
  let pending = []
  const insert = {
    run(...values) {
      pending.push(...values)
      if (pending.length === MANY * 7) {
        insertMany.run(pending)
        pending = []
      }
    },
    flush() {
      for (let i = 0; i < pending.length; i += 7) insertOne.run(pending.slice(i, i + 7))
      pending = []
    },
  }
  // Each symbol's price wanders like a market: a small random step per slot.
  const markets = [
    { symbol: 'BTC', price: 42_000, decimals: 2, from: 0 },
    { symbol: 'ETH', price: 2_300, decimals: 2, from: 0 },
    { symbol: 'SOL', price: 98, decimals: 4, from: solFrom },
  ]
  const manualOrgs = created.map((_, i) => i).filter((i) => i % 10 === 3)
  let eurc = 0.9231
  let written = 0
  let manual = 0
  const BATCH_SLOTS = Math.max(1, Math.floor(100_000 / (orgs * 3)))
  const writeSlots = db.transaction((from, to) => {
    for (let s = from; s < to; s++) {
      const at = slotMs(s)
      const timestamp = new Date(at).toISOString()
      for (const market of markets) {
        if (s < market.from) continue
        market.price *= 1 + (rand() - 0.5) * 0.004
        const price = market.price.toFixed(market.decimals) + '0'.repeat(10 - market.decimals)
        const quotedAt = new Date(at - 5_000 - Math.floor(rand() * 55_000)).toISOString()
        for (let i = 0; i < orgs; i++) {
          if (createdSlot[i] > s) continue
          insert.run(created[i].id, market.symbol, price, 'usd', timestamp, 'coingecko', quotedAt)
          written++
        }
      }
      for (const i of manualOrgs) {
        if (createdSlot[i] > s || rand() >= 1 / 288) continue
        eurc *= 1 + (rand() - 0.5) * 0.01
        const when = new Date(at + Math.floor(rand() * SLOT_MS)).toISOString()
        insert.run(created[i].id, 'EURC', eurc.toFixed(10), 'eur', when, 'manual', null)
        manual++
      }
    }
    insert.flush()
  })
  const started = nowMs()
  for (let s = 0; s < slots; s += BATCH_SLOTS) {
    writeSlots(s, Math.min(slots, s + BATCH_SLOTS))
    if (s % (BATCH_SLOTS * 40) === 0 && s > 0) {
      const rate = Math.round(written / ((nowMs() - started) / 1000))
      log(`  ${written.toLocaleString('en')} rows (${rate.toLocaleString('en')}/s)`)
    }
  }
  log(
    `  ${(written + manual).toLocaleString('en')} rows in ${((nowMs() - started) / 1000).toFixed(1)} s`,
  )
  if (REBUILD_INDEXES) {
    for (const { name, sql } of indexes) {
      const at = nowMs()
      db.exec(sql)
      log(`  index ${name} rebuilt in ${((nowMs() - at) / 1000).toFixed(1)} s`)
    }
  }
  db.pragma('journal_mode = WAL')
  db.close()
  return {
    kind: 'history',
    orgs: created,
    owners: Array.from({ length: owners }, (_, i) => ({
      username: ownerName(i),
      password: ownerPassword(i),
    })),
    admin: ADMIN,
    slots,
    days: Math.round((slots / 288) * 10) / 10,
    first_slot: new Date(firstSlot).toISOString(),
    last_slot: new Date(lastSlot).toISOString(),
    price_rows: written + manual,
    coingecko_rows: written,
    manual_rows: manual,
    symbols: ['BTC', 'ETH', 'SOL (second half)', 'EURC (manual, every tenth org)'],
  }
}
