// A second, reported baseline of "REST throughput": the work the real endpoint must do, with
// nothing in between. node:http, the HS256 signature and expiry checked with node:crypto, the
// same three SQL statements the product runs per request (open session, access to the
// organization, latest per symbol) prepared once on better-sqlite3 with the product's pragmas,
// and the same JSON. No framework, no query builder, no logging or metrics. What it reaches is
// what any implementation of this endpoint could hope for on this machine; the gap between it
// and the bare handler is the work itself. Sends `{ type: 'ready', url }`.
import { createHmac, timingSafeEqual } from 'node:crypto'
import { createServer } from 'node:http'

import Database from 'better-sqlite3'

import { serveOnLoopback } from '../lib/loopback-server.js'

const [databasePath] = process.argv.slice(2)
const db = new Database(databasePath)
db.pragma('journal_mode = WAL')
db.pragma('busy_timeout = 5000')
db.pragma('foreign_keys = ON')
db.pragma('synchronous = NORMAL')

const secret = Buffer.from(
  db.prepare("select value from settings where key = 'jwt_secret'").get().value,
  'base64url',
)
const openSession = db.prepare(`
  select u.*, s.revoked_at from auth_sessions as s inner join users as u on u.id = s.user_id
  where s.id = ? and s.user_id = ?`)
const orgAccess = db.prepare(`
  select o.*, u.is_admin as user_is_admin, u.is_active as user_is_active, m.role
  from users as u
  left join organizations as o on o.id = ?
  left join memberships as m on m.org_id = o.id and m.user_id = u.id
  where u.id = ?`)
const latest = db.prepare(`
  with recursive symbols(symbol) as (
    select min(symbol) from crypto_prices where org_id = ?1
    union all
    select (select min(p.symbol) from crypto_prices p where p.org_id = ?1 and p.symbol > symbols.symbol)
    from symbols where symbols.symbol is not null
  )
  select cp.* from symbols join crypto_prices cp on cp.id = (
    select p.id from crypto_prices p where p.org_id = ?1 and p.symbol = symbols.symbol
    order by p.timestamp desc, p.id desc limit 1
  ) order by cp.symbol`)

function claimsOf(header) {
  const token = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')?.[1]
  const [head, body, signature] = token?.split('.') ?? []
  if (!signature) return undefined
  const expected = createHmac('sha256', secret).update(`${head}.${body}`).digest()
  const given = Buffer.from(signature, 'base64url')
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined
  const claims = JSON.parse(Buffer.from(body, 'base64url').toString())
  return claims.exp > Date.now() / 1000 - 30 && claims.token_type === 'access' ? claims : undefined
}

function answer(response, status, value) {
  const text = JSON.stringify(value)
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  })
  response.end(text)
}

const server = createServer((request, response) => {
  const claims = claimsOf(request.headers.authorization)
  if (!claims) return answer(response, 401, { detail: 'not authenticated' })
  const user = openSession.get(claims.sid, claims.sub)
  if (!user || user.revoked_at !== null || !user.is_active) {
    return answer(response, 401, { detail: 'not authenticated' })
  }
  const orgId = new URL(request.url, 'http://x').searchParams.get('org_id')
  const access = orgAccess.get(orgId, claims.sub)
  if (!access?.id || (access.role === null && !access.user_is_admin)) {
    return answer(response, 404, { detail: 'not found' })
  }
  const rows = latest.all({ 1: orgId }).map((row) => ({
    id: row.id,
    org_id: row.org_id,
    symbol: row.symbol,
    price: row.price,
    currency: row.currency,
    // Stored with milliseconds; printed without them when they are zero, as the product does.
    timestamp: row.timestamp.endsWith('.000Z') ? `${row.timestamp.slice(0, -5)}Z` : row.timestamp,
    source: row.source,
  }))
  answer(response, 200, rows)
})
serveOnLoopback(server)
