import { beforeEach, describe, expect, it } from 'vitest'

import type { Organization } from '../../src/core/orgs.js'
import type { Price } from '../../src/core/prices.js'
import { type FakeClock, fakeClock } from '../helpers/fake-clock.js'
import { lines, useTempDatabase } from './support.js'

const db = useTempDatabase()

let clock: FakeClock
let acme: Organization

beforeEach(async () => {
  clock = fakeClock('2024-09-17T12:00:00.000Z')
  acme = await db.json<Organization>(['org', 'create', 'Acme'], { clock })
})

function add(symbol: string, price: string, extra: string[] = []) {
  return db.cli(
    ['prices', 'add', '--org', 'Acme', '--symbol', symbol, '--price', price, ...extra],
    {
      clock,
    },
  )
}

async function addOk(symbol: string, price: string, org = 'Acme'): Promise<Price> {
  return db.json<Price>(['prices', 'add', '--org', org, '--symbol', symbol, '--price', price], {
    clock,
  })
}

function history(...extra: string[]): Promise<Price[]> {
  return db.json<Price[]>(['prices', 'history', '--org', 'Acme', ...extra], { clock })
}

describe('prices add', () => {
  it('stores the price with ten decimals under the upper-case symbol', async () => {
    const result = await add('btc', '45000.5')

    expect(result.code).toBe(0)
    expect(result.stderr).toBe('')
    expect(result.stdout).toMatch(/^Added BTC 45000\.5000000000 usd to "Acme" \(id \d+\)\n$/)
    expect(await history()).toEqual([
      expect.objectContaining({ symbol: 'BTC', price: '45000.5000000000', source: 'manual' }),
    ])
  })

  it('prints the stored price with --json', async () => {
    const result = await db.cli(
      ['--json', 'prices', 'add', '--org', 'acme', '--symbol', 'btc', '--price', '45000.5'],
      { clock },
    )

    expect(result.code).toBe(0)
    const price = JSON.parse(result.stdout) as Price
    expect(price).toEqual({
      id: expect.any(Number),
      org_id: acme.id,
      symbol: 'BTC',
      price: '45000.5000000000',
      currency: 'usd',
      timestamp: '2024-09-17T12:00:00Z',
      source: 'manual',
    })
    expect(Object.keys(price).sort()).toEqual(
      ['currency', 'id', 'org_id', 'price', 'source', 'symbol', 'timestamp'].sort(),
    )
  })

  it('finds the organization by id', async () => {
    const result = await db.cli(
      ['prices', 'add', '--org', acme.id, '--symbol', 'ETH', '--price', '2318.47'],
      { clock },
    )

    expect(result.code).toBe(0)
    expect(await history()).toEqual([expect.objectContaining({ org_id: acme.id, symbol: 'ETH' })])
  })

  it('stores the currency in lower case', async () => {
    const result = await add('BTC', '1', ['--currency', 'EUR'])

    expect(result.stdout).toContain('BTC 1.0000000000 eur')
    expect((await history())[0]?.currency).toBe('eur')
  })

  it.each([
    ['45000', '45000.0000000000'],
    ['0.00000001', '0.0000000100'],
    ['.5', '0.5000000000'],
    ['1.', '1.0000000000'],
    ['007', '7.0000000000'],
    ['1.1234567890000', '1.1234567890'],
    ['9999999999.9999999999', '9999999999.9999999999'],
    [' 42 ', '42.0000000000'],
  ])('accepts the price %j and stores %s', async (input, stored) => {
    const result = await add('BTC', input)

    expect(result.code).toBe(0)
    expect((await history())[0]?.price).toBe(stored)
  })

  it.each([
    ['-5', /must be positive/],
    ['-0.1', /must be positive/],
    ['0', /greater than zero/],
    ['0.0', /greater than zero/],
    ['000.000', /greater than zero/],
    ['1e5', /without an exponent/],
    ['1E-3', /without an exponent/],
    ['NaN', /plain decimal/],
    ['abc', /plain decimal/],
    ['Infinity', /plain decimal/],
    ['45,000', /plain decimal/],
    ['+5', /plain decimal/],
    ['0x10', /plain decimal/],
    ['1.2.3', /plain decimal/],
    ['.', /plain decimal/],
    ['1.12345678901', /more than 10 digits after the decimal point/],
    ['12345678901.5', /10 (digits )?before the decimal point|at most 10 before/],
    ['', /price is required/],
  ])('exits 2 naming the rule and writes nothing for the price %j', async (input, rule) => {
    const result = await add('BTC', input)

    expect(result.code).toBe(2)
    expect(result.stdout).toBe('')
    expect(result.stderr).toMatch(/^cryptorg: price /)
    expect(result.stderr).toMatch(rule)
    expect(lines(result.stderr)).toHaveLength(1)
    expect(await history()).toEqual([])
  })

  it('reports a bad price as ERR_VALIDATION JSON with --json', async () => {
    const result = await db.cli([
      '--json',
      'prices',
      'add',
      '--org',
      'Acme',
      '--symbol',
      'BTC',
      '--price',
      '1e5',
    ])

    expect(result.code).toBe(2)
    expect(result.stdout).toBe('')
    expect(JSON.parse(result.stderr)).toEqual({
      error: {
        code: 'ERR_VALIDATION',
        message: 'price must be written without an exponent, got "1e5"',
      },
    })
  })

  it.each([
    ['with a dash', 'BT-C'],
    ['11 characters long', 'ABCDEFGHIJK'],
    ['empty', ''],
    ['with a space inside', 'B TC'],
    ['with a dollar sign', '$BTC'],
    ['with a dotless i that upper-cases to I', 'bıt'],
    ['with a full-width letter', 'ＢTC'],
  ])('exits 2 and writes nothing when the symbol is %s', async (_label, symbol) => {
    const result = await add(symbol, '1')

    expect(result.code).toBe(2)
    expect(result.stdout).toBe('')
    expect(result.stderr).toContain('symbol must be 1-10 letters or digits')
    expect(await history()).toEqual([])
  })

  it('accepts a symbol of 10 letters and digits', async () => {
    expect((await add('abcde12345', '1')).code).toBe(0)
    expect((await history())[0]?.symbol).toBe('ABCDE12345')
  })

  it.each(['u', 'us-d', 'dollarsplus'])(
    'exits 2 and writes nothing when the currency is %j',
    async (currency) => {
      const result = await add('BTC', '1', ['--currency', currency])

      expect(result.code).toBe(2)
      expect(result.stderr).toContain('currency must be a currency code')
      expect(await history()).toEqual([])
    },
  )

  it('exits 3 and writes nothing when the organization does not exist', async () => {
    const result = await db.cli([
      'prices',
      'add',
      '--org',
      'nope',
      '--symbol',
      'BTC',
      '--price',
      '1',
    ])

    expect(result.code).toBe(3)
    expect(result.stdout).toBe('')
    expect(result.stderr).toBe('cryptorg: organization "nope" not found\n')
    expect(await history()).toEqual([])
  })

  it.each([
    ['--org', ['--symbol', 'BTC', '--price', '1'], "'--org <org>'"],
    ['--symbol', ['--org', 'Acme', '--price', '1'], "'--symbol <symbol>'"],
    ['--price', ['--org', 'Acme', '--symbol', 'BTC'], "'--price <decimal>'"],
  ])('exits 2 naming the required option when %s is missing', async (_flag, args, named) => {
    const result = await db.cli(['prices', 'add', ...args])

    expect(result.code).toBe(2)
    expect(result.stdout).toBe('')
    expect(result.stderr).toContain(`required option ${named} not specified`)
    expect(result.stderr).toContain('Run "cryptorg prices add --help" for usage')
    expect(await history()).toEqual([])
  })

  it('reports a missing option as one ERR_USAGE JSON document on stderr with --json', async () => {
    const result = await db.cli(['--json', 'prices', 'add', '--org', 'Acme', '--symbol', 'BTC'])

    expect(result.code).toBe(2)
    expect(result.stdout).toBe('')
    expect(lines(result.stderr)).toHaveLength(1)
    expect(JSON.parse(result.stderr)).toEqual({
      error: { code: 'ERR_USAGE', message: expect.stringContaining('required option') },
    })
  })

  it('exits 2 when --price has no value', async () => {
    const result = await db.cli(['prices', 'add', '--org', 'Acme', '--symbol', 'BTC', '--price'])

    expect(result.code).toBe(2)
    expect(result.stderr).toContain("option '--price <decimal>' argument missing")
    expect(await history()).toEqual([])
  })
})

describe('prices latest', () => {
  it('shows the newest price of each symbol, by symbol', async () => {
    await addOk('BTC', '100')
    clock.advance(60_000)
    await addOk('ETH', '20')
    clock.advance(60_000)
    await addOk('BTC', '101')

    const latest = await db.json<Price[]>(['prices', 'latest', '--org', 'Acme'])

    expect(latest.map((p) => [p.symbol, p.price, p.timestamp])).toEqual([
      ['BTC', '101.0000000000', '2024-09-17T12:02:00Z'],
      ['ETH', '20.0000000000', '2024-09-17T12:01:00Z'],
    ])
  })

  it('prints tab-separated lines with a header when stdout is a pipe', async () => {
    await addOk('BTC', '100')
    clock.advance(60_000)
    await addOk('BTC', '45000.5')

    const result = await db.cli(['prices', 'latest', '--org', 'Acme'])

    expect(result.code).toBe(0)
    expect(lines(result.stdout)).toEqual([
      'SYMBOL\tPRICE\tCURRENCY\tTIMESTAMP\tSOURCE',
      'BTC\t45000.5000000000\tusd\t2024-09-17T12:01:00Z\tmanual',
    ])
  })

  it('prints a table when stdout is a terminal', async () => {
    await addOk('BTC', '45000.5')

    const result = await db.cli(['prices', 'latest', '--org', 'Acme'], { stdoutTTY: true })

    expect(result.stdout).not.toContain('\t')
    expect(result.stdout).toMatch(/│ BTC +│ 45000\.5000000000 │ usd +│/)
  })

  it('shows only the prices of the organization asked for', async () => {
    await db.json(['org', 'create', 'Globex'])
    await addOk('BTC', '1', 'Globex')
    await addOk('ETH', '2', 'Acme')

    const latest = await db.json<Price[]>(['prices', 'latest', '--org', 'Acme'])

    expect(latest.map((p) => p.symbol)).toEqual(['ETH'])
  })

  it('prints nothing on stdout and a hint on stderr when there is no price', async () => {
    const result = await db.cli(['prices', 'latest', '--org', 'Acme'])

    expect(result.code).toBe(0)
    expect(result.stdout).toBe('')
    expect(result.stderr).toContain('No prices')
    expect(result.stderr).toContain('cryptorg daemon --once')
  })

  it('prints [] with --json when there is no price', async () => {
    const result = await db.cli(['--json', 'prices', 'latest', '--org', 'Acme'])

    expect(result.code).toBe(0)
    expect(result.stdout.trim()).toBe('[]')
    expect(result.stderr).toBe('')
  })

  it('exits 3 when the organization does not exist', async () => {
    const result = await db.cli(['prices', 'latest', '--org', 'nope'])

    expect(result.code).toBe(3)
    expect(result.stderr).toBe('cryptorg: organization "nope" not found\n')
  })

  it('exits 2 when --org is missing', async () => {
    const result = await db.cli(['prices', 'latest'])

    expect(result.code).toBe(2)
    expect(result.stderr).toContain("required option '--org <org>' not specified")
  })
})

describe('prices history', () => {
  /** BTC at 10:00, ETH at 11:00, BTC at 11:30 and BTC at 12:00; the clock ends at 12:00. */
  async function seed(): Promise<void> {
    clock.set('2024-09-17T10:00:00.000Z')
    await addOk('BTC', '1')
    clock.set('2024-09-17T11:00:00.000Z')
    await addOk('ETH', '2')
    clock.set('2024-09-17T11:30:00.000Z')
    await addOk('BTC', '3')
    clock.set('2024-09-17T12:00:00.000Z')
    await addOk('BTC', '4')
  }

  const stamps = (prices: Price[]) => prices.map((p) => `${p.symbol}@${p.timestamp.slice(11, 16)}`)

  it('lists every price newest first', async () => {
    await seed()

    expect(stamps(await history())).toEqual(['BTC@12:00', 'BTC@11:30', 'ETH@11:00', 'BTC@10:00'])
  })

  it('prints tab-separated lines with a header when stdout is a pipe', async () => {
    await seed()

    const result = await db.cli(['prices', 'history', '--org', 'Acme', '--limit', '1'])

    expect(lines(result.stdout)).toEqual([
      'SYMBOL\tPRICE\tCURRENCY\tTIMESTAMP\tSOURCE',
      'BTC\t4.0000000000\tusd\t2024-09-17T12:00:00Z\tmanual',
    ])
  })

  it('keeps only one symbol with --symbol, in any case', async () => {
    await seed()

    expect(stamps(await history('--symbol', 'eth'))).toEqual(['ETH@11:00'])
  })

  it('keeps prices from a duration back from the clock with --since 1h, inclusive', async () => {
    await seed()

    expect(stamps(await history('--since', '1h'))).toEqual(['BTC@12:00', 'BTC@11:30', 'ETH@11:00'])
  })

  it('keeps prices up to a duration back from the clock with --until 30m', async () => {
    await seed()

    const result = await history('--until', '30m')

    expect(stamps(result)).toEqual(['BTC@11:30', 'ETH@11:00', 'BTC@10:00'])
  })

  it('keeps prices between ISO-8601 --since and --until, inclusive', async () => {
    await seed()

    const result = await history(
      '--since',
      '2024-09-17T11:00:00Z',
      '--until',
      '2024-09-17T11:30:00Z',
    )

    expect(stamps(result)).toEqual(['BTC@11:30', 'ETH@11:00'])
  })

  it('reads an ISO-8601 time with an offset', async () => {
    await seed()

    expect(stamps(await history('--since', '2024-09-17T13:30:00+02:00'))).toEqual([
      'BTC@12:00',
      'BTC@11:30',
    ])
  })

  it('combines --symbol, --since and --limit', async () => {
    await seed()

    expect(stamps(await history('--symbol', 'BTC', '--since', '3h', '--limit', '2'))).toEqual([
      'BTC@12:00',
      'BTC@11:30',
    ])
  })

  it('returns the newest rows up to --limit', async () => {
    await seed()

    expect(stamps(await history('--limit', '2'))).toEqual(['BTC@12:00', 'BTC@11:30'])
  })

  it('prints nothing on stdout and a note on stderr when no price matches', async () => {
    await seed()

    const result = await db.cli(['prices', 'history', '--org', 'Acme', '--symbol', 'SOL'])

    expect(result.code).toBe(0)
    expect(result.stdout).toBe('')
    expect(result.stderr).toContain('No prices match')
  })

  it.each(['0', '10001', 'abc', '1.5', '-1', ''])(
    'exits 2 naming the bounds when --limit is %j',
    async (limit) => {
      const result = await db.cli(['prices', 'history', '--org', 'Acme', '--limit', limit])

      expect(result.code).toBe(2)
      expect(result.stdout).toBe('')
      expect(result.stderr).toContain('limit must be a whole number from 1 to 10000')
    },
  )

  it('accepts --limit 10000', async () => {
    await seed()

    expect(await history('--limit', '10000')).toHaveLength(4)
  })

  it.each(['yesterday', '2024-13-01', '2024-02-30', '2024-09-17T24:00:00Z', '17/09/2024', '1y'])(
    'exits 2 when --since is %j',
    async (since) => {
      const result = await db.cli(['prices', 'history', '--org', 'Acme', '--since', since])

      expect(result.code).toBe(2)
      expect(result.stdout).toBe('')
      expect(result.stderr).toMatch(/^cryptorg: since must be an ISO-8601 time/)
    },
  )

  it('exits 2 when --until is not a time', async () => {
    const result = await db.cli(['prices', 'history', '--org', 'Acme', '--until', 'tomorrow'])

    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/^cryptorg: until must be an ISO-8601 time/)
  })

  it('exits 2 when --since is later than --until', async () => {
    await seed()

    const result = await db.cli([
      'prices',
      'history',
      '--org',
      'Acme',
      '--since',
      '2024-09-17T12:00:00Z',
      '--until',
      '2024-09-17T11:00:00Z',
    ])

    expect(result.code).toBe(2)
    expect(result.stdout).toBe('')
    expect(result.stderr).toBe('cryptorg: since must not be later than until\n')
  })

  it('exits 2 when --since 1h is later than --until 2h', async () => {
    const result = await db.cli(
      ['prices', 'history', '--org', 'Acme', '--since', '1h', '--until', '2h'],
      { clock },
    )

    expect(result.code).toBe(2)
    expect(result.stderr).toContain('since must not be later than until')
  })

  it('exits 2 when --symbol is invalid', async () => {
    const result = await db.cli(['prices', 'history', '--org', 'Acme', '--symbol', 'BT-C'])

    expect(result.code).toBe(2)
    expect(result.stderr).toContain('symbol must be 1-10 letters or digits')
  })

  it('exits 3 when the organization does not exist', async () => {
    const result = await db.cli(['prices', 'history', '--org', 'nope'])

    expect(result.code).toBe(3)
    expect(result.stderr).toBe('cryptorg: organization "nope" not found\n')
  })
})
