import { describe, expect, it } from 'vitest'

import type { TrackedCoin } from '../../src/core/coins.js'
import type { Price } from '../../src/core/prices.js'
import { lines, useTempDatabase } from './support.js'

const db = useTempDatabase()

const listCoins = () => db.json<TrackedCoin[]>(['coins', 'list'])

describe('coins list', () => {
  it('lists BTC and ETH in usd on a new database', async () => {
    const result = await db.cli(['coins', 'list'])

    expect(result.code).toBe(0)
    expect(result.stderr).toBe('')
    expect(lines(result.stdout)).toEqual([
      'SYMBOL\tCOINGECKO ID\tCURRENCY',
      'BTC\tbitcoin\tusd',
      'ETH\tethereum\tusd',
    ])
  })

  it('prints the tracked coins as JSON with --json', async () => {
    expect(await listCoins()).toEqual([
      { symbol: 'BTC', coin_id: 'bitcoin', vs_currency: 'usd' },
      { symbol: 'ETH', coin_id: 'ethereum', vs_currency: 'usd' },
    ])
  })

  it('prints a table when stdout is a terminal', async () => {
    const result = await db.cli(['coin', 'ls'], { stdoutTTY: true })

    expect(result.code).toBe(0)
    expect(result.stdout).not.toContain('\t')
    expect(result.stdout).toMatch(/│ BTC +│ bitcoin +│ usd +│/)
  })

  it('prints nothing on stdout and a hint on stderr when no coin is tracked', async () => {
    await db.cli(['coins', 'untrack', 'BTC'])
    await db.cli(['coins', 'untrack', 'ETH'])

    const result = await db.cli(['coins', 'list'])

    expect(result.code).toBe(0)
    expect(result.stdout).toBe('')
    expect(result.stderr).toContain('cryptorg coins track')
    expect(await listCoins()).toEqual([])
  })
})

describe('coins track', () => {
  it('tracks a new symbol in usd by default', async () => {
    const result = await db.cli(['coins', 'track', 'SOL', '--id', 'solana'])

    expect(result.code).toBe(0)
    expect(result.stdout).toBe('Tracking SOL as solana in usd\n')
    expect(await listCoins()).toContainEqual({
      symbol: 'SOL',
      coin_id: 'solana',
      vs_currency: 'usd',
    })
    expect(await listCoins()).toHaveLength(3)
  })

  it('normalizes the symbol to upper case and the id and currency to lower case', async () => {
    const coin = await db.json(['coins', 'track', 'sol', '--id', 'Solana', '--vs', 'EUR'])

    expect(coin).toEqual({ symbol: 'SOL', coin_id: 'solana', vs_currency: 'eur' })
  })

  it('changes the id and currency of a tracked symbol instead of adding one', async () => {
    const argv = ['coins', 'track', 'BTC', '--id', 'wrapped-bitcoin', '--vs', 'eur']

    const result = await db.cli(argv)

    expect(result.code).toBe(0)
    expect(await listCoins()).toEqual([
      { symbol: 'BTC', coin_id: 'wrapped-bitcoin', vs_currency: 'eur' },
      { symbol: 'ETH', coin_id: 'ethereum', vs_currency: 'usd' },
    ])
  })

  it.each(['sol ana', 'solana!', '-solana', 'sol_ana', '', 'a'.repeat(101)])(
    'exits 2 and tracks nothing when the coin id is %j',
    async (id) => {
      const result = await db.cli(['coins', 'track', 'SOL', '--id', id])

      expect(result.code).toBe(2)
      expect(result.stdout).toBe('')
      expect(result.stderr).toContain('coin id must be a CoinGecko id')
      expect(await listCoins()).toHaveLength(2)
    },
  )

  it.each(['u', 'us-d', 'dollarsplus', ''])(
    'exits 2 and tracks nothing when the currency is %j',
    async (currency) => {
      const result = await db.cli(['coins', 'track', 'SOL', '--id', 'solana', '--vs', currency])

      expect(result.code).toBe(2)
      expect(result.stderr).toContain('vs currency must be a currency code')
      expect(await listCoins()).toHaveLength(2)
    },
  )

  it('exits 2 and changes nothing when retracking with a bad currency', async () => {
    const result = await db.cli(['coins', 'track', 'BTC', '--id', 'bitcoin', '--vs', 'e'])

    expect(result.code).toBe(2)
    expect(await listCoins()).toContainEqual({
      symbol: 'BTC',
      coin_id: 'bitcoin',
      vs_currency: 'usd',
    })
  })

  it('exits 2 when the symbol is invalid', async () => {
    const result = await db.cli(['coins', 'track', 'SO-L', '--id', 'solana'])

    expect(result.code).toBe(2)
    expect(result.stderr).toContain('symbol must be 1-10 letters or digits')
    expect(await listCoins()).toHaveLength(2)
  })

  it('exits 2 naming --id when it is missing', async () => {
    const result = await db.cli(['coins', 'track', 'SOL'])

    expect(result.code).toBe(2)
    expect(result.stderr).toContain("required option '--id <coingecko-id>' not specified")
    expect(result.stderr).toContain('Run "cryptorg coins track --help" for usage')
  })
})

describe('coins untrack', () => {
  it('stops tracking a symbol given in any case', async () => {
    const result = await db.cli(['coins', 'untrack', 'eth'])

    expect(result.code).toBe(0)
    expect(result.stdout).toBe('Stopped tracking ETH; its stored prices are kept\n')
    expect(await listCoins()).toEqual([{ symbol: 'BTC', coin_id: 'bitcoin', vs_currency: 'usd' }])
  })

  it('prints the untracked coin with --json', async () => {
    expect(await db.json(['coins', 'untrack', 'BTC'])).toEqual({
      symbol: 'BTC',
      coin_id: 'bitcoin',
      vs_currency: 'usd',
    })
  })

  it('exits 3 when the symbol is not tracked', async () => {
    const result = await db.cli(['coins', 'untrack', 'DOGE'])

    expect(result.code).toBe(3)
    expect(result.stdout).toBe('')
    expect(result.stderr).toBe('cryptorg: coin "DOGE" is not tracked\n')
    expect(await listCoins()).toHaveLength(2)
  })

  it('exits 3 when the symbol was already untracked', async () => {
    await db.cli(['coins', 'untrack', 'BTC'])

    expect((await db.cli(['coins', 'untrack', 'BTC'])).code).toBe(3)
  })

  it('keeps the stored prices of the symbol', async () => {
    await db.cli(['org', 'create', 'Acme'])
    await db.cli(['prices', 'add', '--org', 'Acme', '--symbol', 'BTC', '--price', '45000'])

    await db.cli(['coins', 'untrack', 'BTC'])

    const history = await db.json<Price[]>(['prices', 'history', '--org', 'Acme'])
    const kept = expect.objectContaining({ symbol: 'BTC', price: '45000.0000000000' })
    expect(history).toEqual([kept])
  })
})
