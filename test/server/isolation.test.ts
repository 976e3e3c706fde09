// Per-user isolation through HTTP (the core's permissions as src/server exposes them): two
// users with an organization each, every organization, member and price operation tried on the
// other's organization answers a 404 indistinguishable from a nonexistent one, and writes
// nothing; a viewer gets 403 on every write and 200 on reads; a member may write prices only.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'

import { dumpTables } from '../helpers/db-rows.js'
import {
  type ApiResponse,
  type Harness,
  MISSING_ID,
  api,
  checkObservedStatuses,
  seedOrgs,
  startHarness,
} from './support.js'

checkObservedStatuses()

const MISSING_PRICE = 987654

let h: Harness
let acme: string
let globex: string
let acmePrice: number
let globexPrice: number

beforeEach(async () => {
  h = await startHarness()
  const seeded = await seedOrgs(h)
  acme = seeded.acme.id
  globex = seeded.globex.id
  acmePrice = seeded.acmePrice
  globexPrice = seeded.globexPrice
})

afterEach(async () => {
  await h.close()
})

interface Operation {
  name: string
  method: string
  path: (org: string, price: number) => string
  body?: (org: string) => unknown
  write: boolean
  /** Needs the owner role (not only member) to write. */
  owner?: boolean
}

const OPERATIONS: Operation[] = [
  { name: 'get org', method: 'GET', path: (o) => `/api/organizations/${o}/`, write: false },
  {
    name: 'put org',
    method: 'PUT',
    path: (o) => `/api/organizations/${o}/`,
    body: () => ({ name: 'Taken Over' }),
    write: true,
    owner: true,
  },
  {
    name: 'patch org',
    method: 'PATCH',
    path: (o) => `/api/organizations/${o}`,
    body: () => ({ name: 'Taken Over' }),
    write: true,
    owner: true,
  },
  {
    name: 'delete org',
    method: 'DELETE',
    path: (o) => `/api/organizations/${o}/`,
    write: true,
    owner: true,
  },
  {
    name: 'list members',
    method: 'GET',
    path: (o) => `/api/organizations/${o}/members/`,
    write: false,
  },
  {
    name: 'add member',
    method: 'POST',
    path: (o) => `/api/organizations/${o}/members/`,
    body: () => ({ username: 'frank', role: 'owner' }),
    write: true,
    owner: true,
  },
  {
    name: 'change role',
    method: 'PATCH',
    path: (o) => `/api/organizations/${o}/members/carol/`,
    body: () => ({ role: 'owner' }),
    write: true,
    owner: true,
  },
  {
    name: 'remove member',
    method: 'DELETE',
    path: (o) => `/api/organizations/${o}/members/carol`,
    write: true,
    owner: true,
  },
  {
    name: 'latest',
    method: 'GET',
    path: (o) => `/api/crypto-prices/latest/?org_id=${o}`,
    write: false,
  },
  {
    name: 'list prices of org',
    method: 'GET',
    path: (o) => `/api/crypto-prices/?org_id=${o}`,
    write: false,
  },
  {
    name: 'add price',
    method: 'POST',
    path: () => '/api/crypto-prices/',
    body: (o) => ({ org_id: o, symbol: 'DOGE', price: '0.1' }),
    write: true,
  },
  { name: 'get price', method: 'GET', path: (_, p) => `/api/crypto-prices/${p}/`, write: false },
  {
    name: 'put price',
    method: 'PUT',
    path: (_, p) => `/api/crypto-prices/${p}/`,
    body: (o) => ({ org_id: o, symbol: 'DOGE', price: '0.1' }),
    write: true,
  },
  {
    name: 'patch price',
    method: 'PATCH',
    path: (_, p) => `/api/crypto-prices/${p}`,
    body: () => ({ price: '0.1' }),
    write: true,
  },
  {
    name: 'delete price',
    method: 'DELETE',
    path: (_, p) => `/api/crypto-prices/${p}/`,
    write: true,
  },
]

const run = (op: Operation, who: string, org: string, price: number) =>
  api(op.method, op.path(org, price), { token: h.tokens[who], body: op.body?.(org) })

/** The answer with the ids in it replaced, so two answers can be compared. */
const shape = (response: ApiResponse, org: string, price: number) => ({
  status: response.status,
  body: response.text.split(org).join('<org>').split(String(price)).join('<price>'),
  type: response.headers.get('content-type'),
  wwwAuthenticate: response.headers.get('www-authenticate'),
})

describe("another user's organization", () => {
  it('answers every operation with the same 404 as a nonexistent organization or price', async () => {
    const before = await dumpTables(h.path)
    for (const op of OPERATIONS) {
      const theirs = await run(op, 'bob', acme, acmePrice)
      const missing = await run(op, 'bob', MISSING_ID, MISSING_PRICE)
      expect(theirs.status, op.name).toBe(404)
      expect(shape(theirs, acme, acmePrice), op.name).toEqual(
        shape(missing, MISSING_ID, MISSING_PRICE),
      )
      // And the same the other way round.
      const back = await run(op, 'alice', globex, globexPrice)
      expect(back.status, op.name).toBe(404)
    }
    expect(await dumpTables(h.path)).toEqual(before)
  })

  it('answers 404 for moving a price of ones own into the other organization', async () => {
    const before = await dumpTables(h.path)
    const theirs = await api('PATCH', `/api/crypto-prices/${acmePrice}/`, {
      token: h.tokens['alice'],
      body: { org_id: globex },
    })
    const missing = await api('PATCH', `/api/crypto-prices/${acmePrice}/`, {
      token: h.tokens['alice'],
      body: { org_id: MISSING_ID },
    })
    expect(theirs.status).toBe(404)
    expect(shape(theirs, globex, 0)).toEqual(shape(missing, MISSING_ID, 0))
    const put = await api('PUT', `/api/crypto-prices/${acmePrice}/`, {
      token: h.tokens['alice'],
      body: { org_id: globex, symbol: 'BTC', price: '1' },
    })
    expect(put.status).toBe(404)
    expect(await dumpTables(h.path)).toEqual(before)
  })

  it('leaves the other organization and its prices out of every list', async () => {
    const orgs = await api('GET', '/api/organizations/', { token: h.tokens['bob'] })
    expect(orgs.json.map((o: { id: string }) => o.id)).toEqual([globex])
    const search = await api('GET', '/api/organizations/?search=acme', { token: h.tokens['bob'] })
    expect(search.json).toEqual([])
    const prices = await api('GET', '/api/crypto-prices/', { token: h.tokens['bob'] })
    expect(prices.json.count).toBe(1)
    expect(prices.json.results.map((p: { id: number }) => p.id)).toEqual([globexPrice])
    const frank = await api('GET', '/api/crypto-prices/?symbol=BTC', { token: h.tokens['frank'] })
    expect(frank.json).toMatchObject({ count: 0, results: [] })
  })

  it('shows an administrator everything, without being a member', async () => {
    const orgs = await api('GET', '/api/organizations/', { token: h.tokens['admin'] })
    expect(orgs.json.map((o: { id: string }) => o.id).sort()).toEqual([acme, globex].sort())
    const prices = await api('GET', '/api/crypto-prices/', { token: h.tokens['admin'] })
    expect(prices.json.count).toBe(2)
    for (const op of OPERATIONS.filter((o) => !o.write)) {
      expect((await run(op, 'admin', acme, acmePrice)).status, op.name).toBe(200)
    }
  })
})

describe('roles', () => {
  it('a viewer reads everything and gets 403 on every write, with nothing written', async () => {
    const before = await dumpTables(h.path)
    for (const op of OPERATIONS) {
      const response = await run(op, 'carol', acme, acmePrice)
      if (op.write) {
        expect(response.status, op.name).toBe(403)
        expect(response.json, op.name).toMatchObject({
          detail: expect.stringContaining('viewer'),
          code: 'permission_denied',
        })
      } else {
        expect(response.status, op.name).toBe(200)
      }
    }
    expect(await dumpTables(h.path)).toEqual(before)
  })

  it('a member writes prices but gets 403 on organization and member changes', async () => {
    for (const op of OPERATIONS) {
      const response = await run(op, 'dave', acme, acmePrice)
      if (op.write && op.owner) {
        expect(response.status, op.name).toBe(403)
      } else {
        expect(response.status, op.name).toBeLessThan(300)
      }
    }
  })

  it('the owner may do everything', async () => {
    for (const op of OPERATIONS) {
      // The price is gone once deleted; recreate one for each operation.
      const price = (await h.as['alice']!.prices.add({ org: acme, symbol: 'BTC', price: '1' })).id
      const response = await run(op, 'alice', acme, price)
      expect(response.status, `${op.name}: ${response.text}`).toBeLessThan(300)
      if (op.name === 'delete org') break
    }
  })

  it('a member moving a price into an organization where they are a viewer gets 403', async () => {
    await h.as['bob']!.members.add(globex, 'dave', 'viewer')
    const response = await api('PATCH', `/api/crypto-prices/${acmePrice}/`, {
      token: h.tokens['dave'],
      body: { org_id: globex },
    })
    expect(response.status).toBe(403)
  })

  it('a user removed from an organization loses it at once: 404', async () => {
    expect((await run(OPERATIONS[0]!, 'carol', acme, acmePrice)).status).toBe(200)
    await h.as['alice']!.members.remove(acme, 'carol')
    const response = await run(OPERATIONS[0]!, 'carol', acme, acmePrice)
    const missing = await run(OPERATIONS[0]!, 'carol', MISSING_ID, MISSING_PRICE)
    expect(shape(response, acme, acmePrice)).toEqual(shape(missing, MISSING_ID, MISSING_PRICE))
  })
})
