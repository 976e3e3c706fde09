import { afterEach, beforeEach, describe, expect, it } from 'vitest'

import type { Cryptorg } from '../../src/index.js'
import { openTestDb } from '../helpers/open-test-db.js'

let c: Cryptorg

beforeEach(async () => {
  c = await openTestDb()
})

afterEach(async () => {
  await c.close()
})

describe('coins.list', () => {
  it('tracks BTC as bitcoin and ETH as ethereum in usd on a new database', async () => {
    expect(await c.system.coins.list()).toEqual([
      { symbol: 'BTC', coin_id: 'bitcoin', vs_currency: 'usd' },
      { symbol: 'ETH', coin_id: 'ethereum', vs_currency: 'usd' },
    ])
  })

  it('returns coins sorted by symbol', async () => {
    await c.system.coins.track({ symbol: 'SOL', coinId: 'solana' })
    await c.system.coins.track({ symbol: 'ADA', coinId: 'cardano' })
    expect((await c.system.coins.list()).map((coin) => coin.symbol)).toEqual([
      'ADA',
      'BTC',
      'ETH',
      'SOL',
    ])
  })
})

describe('coins.track', () => {
  it('adds a coin in usd by default, normalizing symbol and id', async () => {
    const coin = await c.system.coins.track({ symbol: ' sol ', coinId: 'Solana' })
    expect(coin).toEqual({ symbol: 'SOL', coin_id: 'solana', vs_currency: 'usd' })
    expect(await c.system.coins.list()).toContainEqual(coin)
  })

  it('adds a coin with the given quote currency, lower-cased', async () => {
    const coin = await c.system.coins.track({
      symbol: 'WBTC',
      coinId: 'wrapped-bitcoin',
      vsCurrency: 'EUR',
    })
    expect(coin).toEqual({ symbol: 'WBTC', coin_id: 'wrapped-bitcoin', vs_currency: 'eur' })
  })

  it('updates the coin id and currency when the symbol is already tracked', async () => {
    await c.system.coins.track({ symbol: 'btc', coinId: 'wrapped-bitcoin', vsCurrency: 'eur' })
    const coins = await c.system.coins.list()
    expect(coins).toHaveLength(2)
    expect(coins[0]).toEqual({ symbol: 'BTC', coin_id: 'wrapped-bitcoin', vs_currency: 'eur' })
  })

  it.each([
    [{ symbol: 'BT-C', coinId: 'bitcoin' }, 'symbol'],
    [{ symbol: '', coinId: 'bitcoin' }, 'symbol'],
    [{ symbol: 'SOL', coinId: 'so lana' }, 'coin id'],
    [{ symbol: 'SOL', coinId: '' }, 'coin id'],
    [{ symbol: 'SOL', coinId: 'solana', vsCurrency: 'u' }, 'vs currency'],
  ])('returns ERR_VALIDATION and changes nothing for %j', async (input, field) => {
    await expect(c.system.coins.track(input)).rejects.toMatchObject({
      code: 'ERR_VALIDATION',
      details: { field },
    })
    expect(await c.system.coins.list()).toHaveLength(2)
  })
})

describe('coins.untrack', () => {
  it('removes a tracked symbol given in any case and returns it', async () => {
    expect(await c.system.coins.untrack('eth')).toEqual({
      symbol: 'ETH',
      coin_id: 'ethereum',
      vs_currency: 'usd',
    })
    expect((await c.system.coins.list()).map((coin) => coin.symbol)).toEqual(['BTC'])
  })

  it('keeps stored prices of the untracked symbol', async () => {
    await c.system.orgs.create('Acme')
    await c.system.prices.add({ org: 'Acme', symbol: 'ETH', price: '2000' })
    await c.system.coins.untrack('ETH')
    expect(await c.system.prices.history('Acme', { symbol: 'ETH' })).toHaveLength(1)
  })

  it('returns ERR_NOT_FOUND naming the symbol when it is not tracked', async () => {
    await expect(c.system.coins.untrack('doge')).rejects.toMatchObject({
      code: 'ERR_NOT_FOUND',
      message: 'coin "DOGE" is not tracked',
      details: { symbol: 'DOGE' },
    })
    expect(await c.system.coins.list()).toHaveLength(2)
  })

  it('returns ERR_NOT_FOUND when the symbol was already untracked', async () => {
    await c.system.coins.untrack('BTC')
    await expect(c.system.coins.untrack('BTC')).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' })
  })

  it('returns ERR_VALIDATION when the symbol is malformed', async () => {
    await expect(c.system.coins.untrack('BT-C')).rejects.toMatchObject({ code: 'ERR_VALIDATION' })
  })

  it('leaves no coin tracked after untracking both defaults', async () => {
    await c.system.coins.untrack('BTC')
    await c.system.coins.untrack('ETH')
    expect(await c.system.coins.list()).toEqual([])
  })
})

describe('coins: arguments of the wrong type from JavaScript callers', () => {
  it('returns ERR_VALIDATION naming the coin when track gets null', async () => {
    await expect(c.system.coins.track(null as never)).rejects.toMatchObject({
      code: 'ERR_VALIDATION',
      message: expect.stringMatching(/^coin must be an object, got null$/),
      details: { field: 'coin' },
    })
    expect(await c.system.coins.list()).toHaveLength(2)
  })

  it('returns ERR_VALIDATION naming the symbol when track gets a number as symbol', async () => {
    await expect(
      c.system.coins.track({ symbol: 5, coinId: 'bitcoin' } as never),
    ).rejects.toMatchObject({
      code: 'ERR_VALIDATION',
      details: { field: 'symbol' },
    })
  })
})
