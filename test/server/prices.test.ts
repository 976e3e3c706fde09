// The crypto price endpoints over HTTP (src/server/routes/prices.ts and the price parsing of
// src/server/body.ts over the core's PriceService): the seed's examples, exact prices from
// strings and JSON numbers, DRF-style pagination and filters, latest, and single prices.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'

import {
  type Harness,
  ISO_UTC,
  MISSING_ID,
  api,
  checkObservedStatuses,
  startHarness,
} from './support.js'

checkObservedStatuses()

let h: Harness
let alice: string
let orgId: string

beforeEach(async () => {
  h = await startHarness()
  alice = h.tokens['alice'] as string
  orgId = (await api('POST', '/api/organizations/', { token: alice, body: { name: 'Acme' } })).json
    .id
})

afterEach(async () => {
  await h.close()
})

const addPrice = (body: unknown, token = alice) =>
  api('POST', '/api/crypto-prices/', { token, body })

describe('the seed examples', () => {
  it('POST /api/crypto-prices/ answers 201 with the price', async () => {
    const response = await addPrice(
      `{\n    "org_id": "${orgId}",\n    "symbol": "BTC",\n    "price": "45000.0000000000"\n}`,
    )
    expect(response.status).toBe(201)
    expect(response.json).toEqual({
      id: expect.any(Number),
      org_id: orgId,
      symbol: 'BTC',
      price: '45000.0000000000',
      currency: 'usd',
      timestamp: '2024-09-17T12:00:00Z',
      source: 'manual',
    })
    expect(Number.isInteger(response.json.id)).toBe(true)
    expect(response.json.timestamp).toMatch(ISO_UTC)
  })

  it('GET /api/crypto-prices/latest/?org_id= answers the newest price of each symbol', async () => {
    await addPrice({ org_id: orgId, symbol: 'BTC', price: '44000' })
    await addPrice({ org_id: orgId, symbol: 'ETH', price: '2400' })
    h.clock.advance(60_000)
    const btc = (await addPrice({ org_id: orgId, symbol: 'BTC', price: '45000.0000000000' })).json
    const eth = (await addPrice({ org_id: orgId, symbol: 'ETH', price: '2500.0000000000' })).json
    const response = await api('GET', `/api/crypto-prices/latest/?org_id=${orgId}`, {
      token: alice,
    })
    expect(response.status).toBe(200)
    expect(response.json).toEqual([btc, eth])
    expect(response.json.map((p: { price: string }) => p.price)).toEqual([
      '45000.0000000000',
      '2500.0000000000',
    ])
    const noSlash = await api('GET', `/api/crypto-prices/latest?org_id=${orgId}`, { token: alice })
    expect(noSlash.json).toEqual([btc, eth])
  })

  it.each(['a%00b', '%00', 'Acme%0A'])(
    'answers 400, not 500, for an organization reference with a control character (%s)',
    async (ref) => {
      for (const path of [
        `/api/crypto-prices/latest/?org_id=${ref}`,
        `/api/crypto-prices/?org_id=${ref}`,
      ]) {
        const response = await api('GET', path, { token: alice })
        expect(response.status).toBe(400)
        expect(Object.keys(response.json)).toEqual(['org_id'])
      }
    },
  )

  it('latest is an empty array for an organization without prices', async () => {
    const response = await api('GET', `/api/crypto-prices/latest/?org_id=${orgId}`, {
      token: alice,
    })
    expect(response.status).toBe(200)
    expect(response.json).toEqual([])
  })
})

describe('prices as given', () => {
  it('keeps decimal strings exact and canonical with 10 decimals', async () => {
    const cases: [string, string][] = [
      ['45000.5', '45000.5000000000'],
      ['0.0000000001', '0.0000000001'],
      ['9999999999.9999999999', '9999999999.9999999999'],
      ['00012.50', '12.5000000000'],
      [' 7 ', '7.0000000000'],
      ['1.00000000000000000000', '1.0000000000'],
    ]
    for (const [given, stored] of cases) {
      const response = await addPrice({ org_id: orgId, symbol: 'BTC', price: given })
      expect(response.status, given).toBe(201)
      expect(response.json.price).toBe(stored)
      const read = await api('GET', `/api/crypto-prices/${response.json.id}/`, { token: alice })
      expect(read.json.price).toBe(stored)
    }
  })

  it('accepts JSON numbers of at most 15 significant digits, stored exactly', async () => {
    const cases: [string, string][] = [
      ['45000.5', '45000.5000000000'],
      ['0.1', '0.1000000000'],
      ['1e-7', '0.0000001000'],
      ['1E-10', '0.0000000001'],
      ['2.5e3', '2500.0000000000'],
      ['45000', '45000.0000000000'],
      ['123456789.012345', '123456789.0123450000'],
      // 15 significant digits exactly: the most a double keeps.
      ['45000.1234567891', '45000.1234567891'],
      ['100000000000000000000e-11', '1000000000.0000000000'],
      ['0.000123456789012345', '0.0001234568'],
    ]
    for (const [given, stored] of cases) {
      const response = await addPrice(`{"org_id":"${orgId}","symbol":"BTC","price":${given}}`)
      if (given === '0.000123456789012345') {
        // 15 significant digits but 18 decimals: more than the 10 a price keeps.
        expect(response.status, given).toBe(400)
        expect(Object.keys(response.json)).toEqual(['price'])
        continue
      }
      expect(response.status, given).toBe(201)
      expect(response.json.price, given).toBe(stored)
    }
  })

  it('refuses JSON numbers of more than 15 significant digits, asking for a string', async () => {
    for (const given of ['450001.1234567891', '1234567890.123456', '0.1234567890123456']) {
      const response = await addPrice(`{"org_id":"${orgId}","symbol":"BTC","price":${given}}`)
      expect(response.status, given).toBe(400)
      expect(Object.keys(response.json)).toEqual(['price'])
      expect(response.json.price[0]).toMatch(/string/)
    }
    // The same digits as a string are fine.
    const response = await addPrice({ org_id: orgId, symbol: 'BTC', price: '450001.1234567891' })
    expect(response.json.price).toBe('450001.1234567891')
  })

  it('answers 400 naming price for zero, negative, exponent strings, too many digits and wrong types', async () => {
    const bodies = [
      '"0"',
      '0',
      '"-1"',
      '-1',
      '"1e5"',
      '"abc"',
      '""',
      '"12345678901"',
      '12345678901',
      '1e20',
      '"0.00000000001"',
      '1e-11',
      'true',
      'null',
      '[1]',
      '{"amount":1}',
    ]
    for (const price of bodies) {
      const response = await addPrice(`{"org_id":"${orgId}","symbol":"BTC","price":${price}}`)
      expect(response.status, price).toBe(400)
      expect(Object.keys(response.json), price).toEqual(['price'])
    }
    const list = await api('GET', '/api/crypto-prices/', { token: alice })
    expect(list.json.count).toBe(0)
  })

  it('answers 400 naming the field for missing or bad org_id, symbol and currency', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ symbol: 'BTC', price: '1' }, 'org_id'],
      [{ org_id: 'x', symbol: 'BTC', price: '1' }, 'org_id'],
      [{ org_id: 42, symbol: 'BTC', price: '1' }, 'org_id'],
      [{ org_id: orgId, price: '1' }, 'symbol'],
      [{ org_id: orgId, symbol: 'B T C', price: '1' }, 'symbol'],
      [{ org_id: orgId, symbol: 5, price: '1' }, 'symbol'],
      [{ org_id: orgId, symbol: 'BTC' }, 'price'],
      [{ org_id: orgId, symbol: 'BTC', price: '1', currency: 'US Dollar' }, 'currency'],
      [{ org_id: orgId, symbol: 'BTC', price: '1', currency: 1 }, 'currency'],
    ]
    for (const [body, field] of cases) {
      const response = await addPrice(body)
      expect(response.status, JSON.stringify(body)).toBe(400)
      expect(Object.keys(response.json), JSON.stringify(body)).toEqual([field])
    }
  })

  it('upper-cases symbols and lower-cases currencies', async () => {
    const response = await addPrice({ org_id: orgId, symbol: 'btc', price: '1', currency: 'EUR' })
    expect(response.json).toMatchObject({ symbol: 'BTC', currency: 'eur' })
  })

  it('answers 404 for an organization id that does not exist', async () => {
    const response = await addPrice({ org_id: MISSING_ID, symbol: 'BTC', price: '1' })
    expect(response.status).toBe(404)
  })
})

describe('one price', () => {
  let id: number

  beforeEach(async () => {
    id = (await addPrice({ org_id: orgId, symbol: 'BTC', price: '45000' })).json.id
  })

  it('GET answers the price with and without the trailing slash', async () => {
    for (const path of [`/api/crypto-prices/${id}/`, `/api/crypto-prices/${id}`]) {
      const response = await api('GET', path, { token: alice })
      expect(response.status).toBe(200)
      expect(response.json).toMatchObject({ id, org_id: orgId, price: '45000.0000000000' })
    }
  })

  it('answers 404 for ids that are not positive integers, on every method', async () => {
    for (const ref of ['abc', '1.5', '-1', '0', '01', '1e3', '99999999999999999999', MISSING_ID]) {
      for (const method of ['GET', 'PUT', 'PATCH', 'DELETE']) {
        const response = await api(method, `/api/crypto-prices/${ref}/`, {
          token: alice,
          body: method === 'PUT' || method === 'PATCH' ? { price: '1' } : undefined,
        })
        expect(response.status, `${method} ${ref}`).toBe(404)
        expect(response.json).toMatchObject({ code: 'not_found' })
      }
    }
    expect((await api('GET', `/api/crypto-prices/${id + 1000}/`, { token: alice })).status).toBe(
      404,
    )
  })

  it('PUT replaces every field', async () => {
    const other = (await api('POST', '/api/organizations/', { token: alice, body: { name: 'B' } }))
      .json.id
    const response = await api('PUT', `/api/crypto-prices/${id}/`, {
      token: alice,
      body: { org_id: other, symbol: 'eth', price: 2500.25, currency: 'eur' },
    })
    expect(response.status).toBe(200)
    expect(response.json).toMatchObject({
      id,
      org_id: other,
      symbol: 'ETH',
      price: '2500.2500000000',
      currency: 'eur',
    })
    const read = await api('GET', `/api/crypto-prices/${id}`, { token: alice })
    expect(read.json).toEqual(response.json)
  })

  it('PUT needs org_id, symbol and price: 400 naming the first one missing', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ symbol: 'BTC', price: '1' }, 'org_id'],
      [{ org_id: orgId, price: '1' }, 'symbol'],
      [{ org_id: orgId, symbol: 'BTC' }, 'price'],
    ]
    for (const [body, field] of cases) {
      const response = await api('PUT', `/api/crypto-prices/${id}/`, { token: alice, body })
      expect(response.status).toBe(400)
      expect(Object.keys(response.json)).toEqual([field])
    }
  })

  it('PATCH changes only the fields given', async () => {
    const response = await api('PATCH', `/api/crypto-prices/${id}/`, {
      token: alice,
      body: { price: '46000.1' },
    })
    expect(response.status).toBe(200)
    expect(response.json).toMatchObject({ symbol: 'BTC', price: '46000.1000000000' })
    const empty = await api('PATCH', `/api/crypto-prices/${id}`, { token: alice, body: {} })
    expect(empty.status).toBe(200)
    expect(empty.json.price).toBe('46000.1000000000')
  })

  it('PATCH answers 400 naming the field at fault and changes nothing', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ price: '-5' }, 'price'],
      [{ price: 0.12345678901234567 }, 'price'],
      [{ symbol: '' }, 'symbol'],
      [{ org_id: 'nope' }, 'org_id'],
      [{ currency: 7 }, 'currency'],
    ]
    for (const [body, field] of cases) {
      const response = await api('PATCH', `/api/crypto-prices/${id}/`, { token: alice, body })
      expect(response.status, JSON.stringify(body)).toBe(400)
      expect(Object.keys(response.json)).toEqual([field])
    }
    const read = await api('GET', `/api/crypto-prices/${id}/`, { token: alice })
    expect(read.json).toMatchObject({ symbol: 'BTC', price: '45000.0000000000', currency: 'usd' })
  })

  it('PATCH moving to an organization that does not exist answers 404', async () => {
    const response = await api('PATCH', `/api/crypto-prices/${id}/`, {
      token: alice,
      body: { org_id: MISSING_ID },
    })
    expect(response.status).toBe(404)
  })

  it('DELETE answers 204 with no body; then the price is gone', async () => {
    const response = await api('DELETE', `/api/crypto-prices/${id}/`, { token: alice })
    expect(response.status).toBe(204)
    expect(response.text).toBe('')
    expect((await api('GET', `/api/crypto-prices/${id}/`, { token: alice })).status).toBe(404)
    expect((await api('DELETE', `/api/crypto-prices/${id}`, { token: alice })).status).toBe(404)
  })
})

describe('list', () => {
  /** Prices in id order; the clock moves a second before each. */
  let added: { id: number; symbol: string; timestamp: string }[]
  let other: string

  beforeEach(async () => {
    other = (await api('POST', '/api/organizations/', { token: alice, body: { name: 'Other' } }))
      .json.id
    added = []
    for (let i = 0; i < 12; i++) {
      h.clock.advance(1000)
      const response = await addPrice({
        org_id: i % 3 === 2 ? other : orgId,
        symbol: i % 2 === 0 ? 'BTC' : 'ETH',
        price: String(1000 + i),
      })
      added.push(response.json)
    }
  })

  const ids = (response: { json: { results: { id: number }[] } }) =>
    response.json.results.map((p) => p.id)
  const newestFirst = () => [...added].reverse()

  it('answers count, next, previous and results, newest first', async () => {
    const response = await api('GET', '/api/crypto-prices/', { token: alice })
    expect(response.status).toBe(200)
    expect(Object.keys(response.json).sort()).toEqual(['count', 'next', 'previous', 'results'])
    expect(response.json).toMatchObject({ count: 12, next: null, previous: null })
    expect(ids(response)).toEqual(newestFirst().map((p) => p.id))
  })

  it('pages with limit and offset, with next and previous links that work', async () => {
    const first = await api('GET', '/api/crypto-prices/?limit=5', { token: alice })
    expect(first.json.count).toBe(12)
    expect(ids(first)).toEqual(
      newestFirst()
        .slice(0, 5)
        .map((p) => p.id),
    )
    expect(first.json.previous).toBeNull()
    const next = new URL(first.json.next)
    expect(next.origin).toBe(h.url)
    expect(next.pathname).toBe('/api/crypto-prices/')
    expect(next.searchParams.get('limit')).toBe('5')
    expect(next.searchParams.get('offset')).toBe('5')

    const second = await api('GET', `${next.pathname}${next.search}`, { token: alice })
    expect(ids(second)).toEqual(
      newestFirst()
        .slice(5, 10)
        .map((p) => p.id),
    )
    const third = await api(
      'GET',
      new URL(second.json.next).pathname + new URL(second.json.next).search,
      {
        token: alice,
      },
    )
    expect(ids(third)).toEqual(
      newestFirst()
        .slice(10)
        .map((p) => p.id),
    )
    expect(third.json.next).toBeNull()
    const back = new URL(third.json.previous)
    expect(back.searchParams.get('offset')).toBe('5')
    expect(new URL(second.json.previous).searchParams.get('offset')).toBe('0')

    const beyond = await api('GET', '/api/crypto-prices/?offset=50', { token: alice })
    expect(beyond.status).toBe(200)
    expect(beyond.json).toMatchObject({ count: 12, next: null, results: [] })
    expect(beyond.json.previous).not.toBeNull()
  })

  it('keeps the filters in the next link', async () => {
    const response = await api('GET', `/api/crypto-prices?org_id=${orgId}&symbol=btc&limit=1`, {
      token: alice,
    })
    const next = new URL(response.json.next)
    expect(next.searchParams.get('org_id')).toBe(orgId)
    expect(next.searchParams.get('symbol')).toBe('btc')
  })

  it('pages 100 by default and at most 1000', async () => {
    for (let i = 0; i < 95; i++)
      await h.as['alice']!.prices.add({ org: orgId, symbol: 'X', price: '1' })
    const byDefault = await api('GET', '/api/crypto-prices/', { token: alice })
    expect(byDefault.json.count).toBe(107)
    expect(byDefault.json.results).toHaveLength(100)
    expect(new URL(byDefault.json.next).searchParams.get('limit')).toBe('100')
    const max = await api('GET', '/api/crypto-prices/?limit=1000', { token: alice })
    expect(max.status).toBe(200)
    expect(max.json.results).toHaveLength(107)
    expect(max.json.next).toBeNull()
  })

  it('filters by org_id, symbol, since and until', async () => {
    const byOrg = await api('GET', `/api/crypto-prices/?org_id=${other}`, { token: alice })
    expect(ids(byOrg)).toEqual(
      newestFirst()
        .filter((_, i, all) => added.indexOf(all[i]!) % 3 === 2)
        .map((p) => p.id),
    )
    const bySymbol = await api('GET', '/api/crypto-prices/?symbol=eth', { token: alice })
    expect(bySymbol.json.count).toBe(6)
    expect(bySymbol.json.results.every((p: { symbol: string }) => p.symbol === 'ETH')).toBe(true)

    const since = added[3]!.timestamp
    const until = added[7]!.timestamp
    const window = await api(
      'GET',
      `/api/crypto-prices/?since=${encodeURIComponent(since)}&until=${encodeURIComponent(until)}`,
      { token: alice },
    )
    expect(ids(window)).toEqual(
      added
        .slice(3, 8)
        .reverse()
        .map((p) => p.id),
    )
    const combined = await api(
      'GET',
      `/api/crypto-prices/?org_id=${orgId}&symbol=BTC&since=${encodeURIComponent(since)}`,
      { token: alice },
    )
    expect(
      combined.json.results.map((p: { symbol: string; org_id: string }) => [p.symbol, p.org_id]),
    ).toEqual(combined.json.results.map(() => ['BTC', orgId]))
    expect(combined.json.count).toBe(combined.json.results.length)
  })

  it('answers 404 for an org_id filter naming an organization the caller cannot see', async () => {
    const bobs = (
      await api('POST', '/api/organizations/', { token: h.tokens['bob'], body: { name: 'Bobs' } })
    ).json.id
    expect((await api('GET', `/api/crypto-prices/?org_id=${bobs}`, { token: alice })).status).toBe(
      404,
    )
    expect(
      (await api('GET', `/api/crypto-prices/?org_id=${MISSING_ID}`, { token: alice })).status,
    ).toBe(404)
  })

  it('shows a user without organizations an empty page', async () => {
    const response = await api('GET', '/api/crypto-prices/', { token: h.tokens['frank'] })
    expect(response.json).toEqual({ count: 0, next: null, previous: null, results: [] })
  })
})
