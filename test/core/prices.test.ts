import { afterEach, beforeEach, describe, expect, it } from 'vitest'

import {
  type Cryptorg,
  DEFAULT_HISTORY_LIMIT,
  MAX_HISTORY_LIMIT,
  type Price,
} from '../../src/index.js'
import { type FakeClock, fakeClock } from '../helpers/fake-clock.js'
import { openTestDb } from '../helpers/open-test-db.js'

let clock: FakeClock
let c: Cryptorg

beforeEach(async () => {
  clock = fakeClock('2024-09-17T12:00:00.000Z')
  c = await openTestDb({ clock })
  await c.system.orgs.create('Acme')
  await c.system.orgs.create('Globex')
})

afterEach(async () => {
  await c.close()
})

/** Adds prices one second apart, returning them in insertion order. */
async function addSeries(org: string, entries: [symbol: string, price: string][]) {
  const added: Price[] = []
  for (const [symbol, price] of entries) {
    added.push(await c.system.prices.add({ org, symbol, price }))
    clock.advance(1000)
  }
  return added
}

describe('prices.add', () => {
  it('stores a manual price in canonical form at the current time', async () => {
    const acme = await c.system.orgs.get('Acme')
    const price = await c.system.prices.add({ org: 'acme', symbol: 'btc', price: '45000.5' })
    expect(price).toEqual({
      id: expect.any(Number),
      org_id: acme.id,
      symbol: 'BTC',
      price: '45000.5000000000',
      currency: 'usd',
      timestamp: '2024-09-17T12:00:00Z',
      source: 'manual',
    })
    expect(await c.system.prices.history('Acme')).toEqual([price])
  })

  it('accepts the organization id and a currency in any case', async () => {
    const acme = await c.system.orgs.get('Acme')
    const input = { org: acme.id, symbol: 'ETH', price: '2000', currency: 'EUR' }
    const price = await c.system.prices.add(input)
    expect(price).toMatchObject({ org_id: acme.id, currency: 'eur', price: '2000.0000000000' })
  })

  it('keeps every digit of a price with 10 integer and 10 decimal digits', async () => {
    const price = await c.system.prices.add({
      org: 'Acme',
      symbol: 'X',
      price: '9999999999.9999999999',
    })
    expect(price.price).toBe('9999999999.9999999999')
    expect((await c.system.prices.latest('Acme'))[0]?.price).toBe('9999999999.9999999999')
  })

  it('gives later prices larger ids', async () => {
    const [first, second] = await addSeries('Acme', [
      ['BTC', '1'],
      ['BTC', '2'],
    ])
    expect(second!.id).toBeGreaterThan(first!.id)
  })

  it.each([
    [{ symbol: 'BT-C', price: '1' }, 'symbol', /^symbol must be 1-10 letters or digits/],
    [{ symbol: 'ABCDEFGHIJK', price: '1' }, 'symbol', /^symbol must be/],
    [{ symbol: '', price: '1' }, 'symbol', /^symbol must be/],
    [{ symbol: 'BTC', price: '' }, 'price', /^price is required/],
    [{ symbol: 'BTC', price: '-1' }, 'price', /^price must be positive/],
    [{ symbol: 'BTC', price: '0' }, 'price', /^price must be greater than zero/],
    [{ symbol: 'BTC', price: '1e5' }, 'price', /^price must be written without an exponent/],
    [{ symbol: 'BTC', price: '45,000' }, 'price', /^price must be a plain decimal/],
    [{ symbol: 'BTC', price: '1.12345678901' }, 'price', /more than 10 digits after/],
    [
      { symbol: 'BTC', price: '12345678901' },
      'price',
      /more than 10 digits before the decimal point/,
    ],
    [{ symbol: 'BTC', price: '1', currency: 'u' }, 'currency', /^currency must be/],
    [{ symbol: 'BTC', price: '1', currency: 'us dollar' }, 'currency', /^currency must be/],
  ])('returns ERR_VALIDATION and writes no row for %j', async (input, field, message) => {
    await expect(c.system.prices.add({ org: 'Acme', ...input })).rejects.toMatchObject({
      code: 'ERR_VALIDATION',
      message: expect.stringMatching(message),
      details: { field },
    })
    expect(await c.system.prices.history('Acme')).toEqual([])
    expect(await c.system.prices.latest('Acme')).toEqual([])
  })

  it('returns ERR_VALIDATION and writes no row when the price is a number', async () => {
    const input = { org: 'Acme', symbol: 'BTC', price: 45000 as unknown as string }
    await expect(c.system.prices.add(input)).rejects.toMatchObject({
      code: 'ERR_VALIDATION',
      message: 'price must be given as a decimal string',
    })
    expect(await c.system.prices.history('Acme')).toEqual([])
  })

  it('returns ERR_VALIDATION before looking up an unknown organization', async () => {
    await expect(
      c.system.prices.add({ org: 'Ghost', symbol: 'BTC', price: 'abc' }),
    ).rejects.toMatchObject({ code: 'ERR_VALIDATION' })
  })

  it('returns ERR_NOT_FOUND naming an unknown organization and writes no row', async () => {
    await expect(
      c.system.prices.add({ org: 'Ghost', symbol: 'BTC', price: '1' }),
    ).rejects.toMatchObject({
      code: 'ERR_NOT_FOUND',
      message: 'organization "Ghost" not found',
    })
    for (const org of ['Acme', 'Globex']) expect(await c.system.prices.history(org)).toEqual([])
  })
})

describe('prices.latest', () => {
  it('returns an empty list when the organization has no prices', async () => {
    expect(await c.system.prices.latest('Acme')).toEqual([])
  })

  it('returns the newest row of each symbol, sorted by symbol', async () => {
    const added = await addSeries('Acme', [
      ['ETH', '100'],
      ['BTC', '1'],
      ['SOL', '7'],
      ['BTC', '2'],
      ['ETH', '200'],
    ])
    clock.advance(5000)
    expect(await c.system.prices.latest('acme')).toEqual([added[3], added[4], added[2]])
  })

  it('prefers the newest timestamp over the highest id', async () => {
    clock.set('2024-09-17T13:00:00.000Z')
    const newer = await c.system.prices.add({ org: 'Acme', symbol: 'BTC', price: '2' })
    clock.set('2024-09-17T12:00:00.000Z')
    await c.system.prices.add({ org: 'Acme', symbol: 'BTC', price: '1' })
    expect(await c.system.prices.latest('Acme')).toEqual([newer])
  })

  it('breaks a timestamp tie by taking the row with the highest id', async () => {
    await c.system.prices.add({ org: 'Acme', symbol: 'BTC', price: '1' })
    const last = await c.system.prices.add({ org: 'Acme', symbol: 'BTC', price: '2' })
    await c.system.prices.add({ org: 'Acme', symbol: 'ETH', price: '3' })
    const latest = await c.system.prices.latest('Acme')
    expect(latest.map((p) => [p.symbol, p.price])).toEqual([
      ['BTC', '2.0000000000'],
      ['ETH', '3.0000000000'],
    ])
    expect(latest[0]).toEqual(last)
  })

  it("returns only the given organization's rows", async () => {
    await c.system.prices.add({ org: 'Acme', symbol: 'BTC', price: '1' })
    clock.advance(1000)
    await c.system.prices.add({ org: 'Globex', symbol: 'BTC', price: '999' })
    await c.system.prices.add({ org: 'Globex', symbol: 'DOGE', price: '0.1' })
    const acme = await c.system.orgs.get('Acme')
    const latest = await c.system.prices.latest('Acme')
    expect(latest.map((p) => [p.org_id, p.symbol, p.price])).toEqual([
      [acme.id, 'BTC', '1.0000000000'],
    ])
  })

  it('returns ERR_NOT_FOUND when the organization does not exist', async () => {
    await expect(c.system.prices.latest('Ghost')).rejects.toMatchObject({
      code: 'ERR_NOT_FOUND',
      message: 'organization "Ghost" not found',
    })
  })
})

describe('prices.history', () => {
  // 12:00:00 BTC 1, 12:00:01 ETH 10, 12:00:02 BTC 2, 12:00:03 ETH 20, 12:00:04 BTC 3
  async function seed() {
    return addSeries('Acme', [
      ['BTC', '1'],
      ['ETH', '10'],
      ['BTC', '2'],
      ['ETH', '20'],
      ['BTC', '3'],
    ])
  }

  it('returns all rows of the organization newest first', async () => {
    const added = await seed()
    await c.system.prices.add({ org: 'Globex', symbol: 'BTC', price: '5' })
    expect(await c.system.prices.history('Acme')).toEqual([...added].reverse())
  })

  it('orders rows with the same timestamp by id, newest first', async () => {
    const a = await c.system.prices.add({ org: 'Acme', symbol: 'BTC', price: '1' })
    const b = await c.system.prices.add({ org: 'Acme', symbol: 'ETH', price: '2' })
    expect(await c.system.prices.history('Acme')).toEqual([b, a])
  })

  it('filters by symbol, given in any case', async () => {
    await seed()
    const rows = await c.system.prices.history('Acme', { symbol: 'btc' })
    expect(rows.map((p) => p.price)).toEqual(['3.0000000000', '2.0000000000', '1.0000000000'])
  })

  it('returns an empty list for a symbol without prices', async () => {
    await seed()
    expect(await c.system.prices.history('Acme', { symbol: 'DOGE' })).toEqual([])
  })

  it('includes rows at exactly since and until', async () => {
    await seed()
    const rows = await c.system.prices.history('Acme', {
      since: '2024-09-17T12:00:01Z',
      until: new Date('2024-09-17T12:00:03.000Z'),
    })
    expect(rows.map((p) => p.timestamp)).toEqual([
      '2024-09-17T12:00:03Z',
      '2024-09-17T12:00:02Z',
      '2024-09-17T12:00:01Z',
    ])
  })

  it('compares since with millisecond precision', async () => {
    await seed()
    const rows = await c.system.prices.history('Acme', { since: '2024-09-17T12:00:03.001Z' })
    expect(rows.map((p) => p.timestamp)).toEqual(['2024-09-17T12:00:04Z'])
  })

  it('reads since and until with a zone offset', async () => {
    await seed()
    const rows = await c.system.prices.history('Acme', {
      since: '2024-09-17T14:00:02+02:00',
      until: '2024-09-17T14:00:02+02:00',
    })
    expect(rows.map((p) => p.price)).toEqual(['2.0000000000'])
  })

  it('combines the symbol, since and limit filters', async () => {
    await seed()
    const rows = await c.system.prices.history('Acme', {
      symbol: 'BTC',
      since: '2024-09-17T12:00:01Z',
      limit: 1,
    })
    expect(rows.map((p) => [p.symbol, p.price])).toEqual([['BTC', '3.0000000000']])
  })

  it('returns the newest rows up to the limit', async () => {
    await seed()
    const rows = await c.system.prices.history('Acme', { limit: 2 })
    expect(rows.map((p) => p.timestamp)).toEqual(['2024-09-17T12:00:04Z', '2024-09-17T12:00:03Z'])
  })

  it('returns at most DEFAULT_HISTORY_LIMIT rows when no limit is given', async () => {
    expect(DEFAULT_HISTORY_LIMIT).toBe(100)
    for (let i = 0; i < DEFAULT_HISTORY_LIMIT + 5; i++) {
      await c.system.prices.add({ org: 'Acme', symbol: 'BTC', price: String(i + 1) })
      clock.advance(1)
    }
    const rows = await c.system.prices.history('Acme')
    expect(rows).toHaveLength(DEFAULT_HISTORY_LIMIT)
    expect(rows[0]?.price).toBe('105.0000000000')
  })

  it.each([1, 10_000, '3'])('accepts the limit %j', async (limit) => {
    await seed()
    const rows = await c.system.prices.history('Acme', { limit: limit as number })
    expect(rows).toHaveLength(Math.min(Number(limit), 5))
  })

  it.each([0, MAX_HISTORY_LIMIT + 1, -1, 2.5])(
    'returns ERR_VALIDATION when the limit is %j',
    async (limit) => {
      await expect(c.system.prices.history('Acme', { limit })).rejects.toMatchObject({
        code: 'ERR_VALIDATION',
        message: expect.stringMatching(/^limit must be a whole number from 1 to 10000/),
        details: { field: 'limit' },
      })
    },
  )

  it('returns ERR_VALIDATION when since is later than until', async () => {
    await expect(
      c.system.prices.history('Acme', { since: '2024-09-18', until: '2024-09-17' }),
    ).rejects.toMatchObject({
      code: 'ERR_VALIDATION',
      message: 'since must not be later than until',
      details: { field: 'since' },
    })
  })

  it('accepts since equal to until', async () => {
    await seed()
    const at = '2024-09-17T12:00:00Z'
    expect(await c.system.prices.history('Acme', { since: at, until: at })).toHaveLength(1)
  })

  it.each([
    [{ since: 'yesterday' }, 'since'],
    [{ until: '2024-02-30' }, 'until'],
    [{ since: new Date('nope') }, 'since'],
    [{ symbol: 'BT-C' }, 'symbol'],
  ])('returns ERR_VALIDATION for %j', async (options, field) => {
    await expect(c.system.prices.history('Acme', options)).rejects.toMatchObject({
      code: 'ERR_VALIDATION',
      details: { field },
    })
  })

  it('returns ERR_NOT_FOUND when the organization does not exist', async () => {
    await expect(c.system.prices.history('Ghost')).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' })
  })
})

describe('prices: arguments of the wrong type from JavaScript callers', () => {
  it('returns ERR_VALIDATION naming the input when add gets undefined', async () => {
    await expect(c.system.prices.add(undefined as never)).rejects.toMatchObject({
      code: 'ERR_VALIDATION',
      message: expect.stringMatching(/^price input must be an object, got /),
      details: { field: 'price input' },
    })
  })

  it('returns ERR_VALIDATION naming the symbol when add gets a number as symbol', async () => {
    const input = { org: 'Acme', symbol: 5, price: '1' }
    await expect(c.system.prices.add(input as never)).rejects.toMatchObject({
      code: 'ERR_VALIDATION',
      message: expect.stringMatching(/^symbol must be a string, got a number$/),
      details: { field: 'symbol' },
    })
    expect(await c.system.prices.history('Acme')).toEqual([])
  })

  it('returns ERR_VALIDATION naming the options when history gets a string', async () => {
    await c.system.prices.add({ org: 'Acme', symbol: 'BTC', price: '1' })
    await expect(c.system.prices.history('Acme', 'x' as never)).rejects.toMatchObject({
      code: 'ERR_VALIDATION',
      message: expect.stringMatching(/^history options must be an object, got a string$/),
      details: { field: 'history options' },
    })
  })
})
