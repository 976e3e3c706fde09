import { afterEach, beforeEach, describe, expect, it } from 'vitest'

import { type Cryptorg, MIN_PRUNE_AGE_MS, parsePruneAge } from '../../src/index.js'
import { validationFailure } from '../helpers/errors.js'
import { type FakeClock, fakeClock } from '../helpers/fake-clock.js'
import { openTestDb } from '../helpers/open-test-db.js'

const HOUR_MS = 3_600_000

let clock: FakeClock
let c: Cryptorg

beforeEach(async () => {
  clock = fakeClock('2024-06-01T00:00:00.000Z')
  c = await openTestDb({ clock })
  await c.system.orgs.create('Acme')
  await c.system.orgs.create('Globex')
})

afterEach(async () => {
  await c.close()
})

/** Adds `count` BTC prices to `org`, one hour apart, starting at the clock's current time. */
async function addHourly(org: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    await c.system.prices.add({ org, symbol: 'BTC', price: String(100 + i) })
    clock.advance(HOUR_MS)
  }
}

async function remaining(org: string): Promise<string[]> {
  const prices = await c.system.prices.history(org, { limit: 10_000 })
  return prices.map((p) => p.timestamp).reverse()
}

describe('prices.prune', () => {
  it('deletes prices strictly older than the cutoff and reports it in ISO-8601 UTC', async () => {
    await addHourly('Acme', 5)
    const cutoff = new Date('2024-06-01T03:00:00.000Z')

    const result = await c.system.prices.prune({ olderThan: cutoff })

    expect(result).toEqual({ cutoff: '2024-06-01T03:00:00Z', deleted: 3, dry_run: false })
    expect(await remaining('Acme')).toEqual(['2024-06-01T03:00:00Z', '2024-06-01T04:00:00Z'])
  })

  it('compares milliseconds, not only seconds', async () => {
    await addHourly('Acme', 1)

    const before = await c.system.prices.prune({ olderThan: new Date('2024-06-01T00:00:00.000Z') })
    const after = await c.system.prices.prune({ olderThan: new Date('2024-06-01T00:00:00.001Z') })

    expect(before.deleted).toBe(0)
    expect(after).toEqual({ cutoff: '2024-06-01T00:00:00.001Z', deleted: 1, dry_run: false })
  })

  it('deletes every old row in batches of batchSize, however many batches it takes', async () => {
    await addHourly('Acme', 7)

    const result = await c.system.prices.prune({ olderThan: clock.now(), batchSize: 2 })

    expect(result.deleted).toBe(7)
    expect(await remaining('Acme')).toEqual([])
  })

  it('stops at a batch boundary when the signal aborts, keeping the newer rows', async () => {
    await addHourly('Acme', 7)
    const controller = new AbortController()
    // The pause between batches yields to timers, so this fires after the first batch.
    setTimeout(() => controller.abort(), 0)

    const result = await c.system.prices.prune({
      olderThan: clock.now(),
      batchSize: 2,
      signal: controller.signal,
    })

    expect(result.deleted).toBe(2)
    expect(await remaining('Acme')).toHaveLength(5)
    expect((await remaining('Acme'))[0]).toBe('2024-06-01T02:00:00Z')
  })

  it('deletes nothing when the signal has already aborted', async () => {
    await addHourly('Acme', 3)

    const result = await c.system.prices.prune({
      olderThan: clock.now(),
      signal: AbortSignal.abort(),
    })

    expect(result.deleted).toBe(0)
    expect(await remaining('Acme')).toHaveLength(3)
  })

  it('limits the deletion to one organization by name or id, leaving others alone', async () => {
    await addHourly('Acme', 3)
    clock.set('2024-06-01T00:00:00.000Z')
    await addHourly('Globex', 3)
    const globex = await c.system.orgs.get('globex')

    const byName = await c.system.prices.prune({
      olderThan: clock.now(),
      org: 'acme',
      batchSize: 2,
    })
    const byId = await c.system.prices.prune({ olderThan: new Date(0), org: globex.id })

    expect(byName.deleted).toBe(3)
    expect(byId.deleted).toBe(0)
    expect(await remaining('Acme')).toEqual([])
    expect(await remaining('Globex')).toHaveLength(3)
  })

  it('counts what would go on a dry run and deletes nothing', async () => {
    await addHourly('Acme', 4)
    await addHourly('Globex', 2)

    const all = await c.system.prices.prune({ olderThan: clock.now(), dryRun: true, batchSize: 1 })
    const acme = await c.system.prices.prune({ olderThan: clock.now(), dryRun: true, org: 'Acme' })

    expect(all).toEqual({ cutoff: '2024-06-01T06:00:00Z', deleted: 6, dry_run: true })
    expect(acme.deleted).toBe(4)
    expect(await remaining('Acme')).toHaveLength(4)
    expect(await remaining('Globex')).toHaveLength(2)
  })

  it('succeeds with nothing to delete', async () => {
    expect(await c.system.prices.prune({ olderThan: clock.now() })).toEqual({
      cutoff: '2024-06-01T00:00:00Z',
      deleted: 0,
      dry_run: false,
    })
  })

  it.each([
    ['an invalid date', { olderThan: new Date(Number.NaN) }, 'olderThan'],
    ['a missing date', { olderThan: undefined }, 'olderThan'],
    ['a batch size of 0', { batchSize: 0 }, 'batchSize'],
    ['a batch size over 100000', { batchSize: 100_001 }, 'batchSize'],
    ['a fractional batch size', { batchSize: 2.5 }, 'batchSize'],
  ])('refuses %s with ERR_VALIDATION before deleting anything', async (_, bad, field) => {
    await addHourly('Acme', 3)
    const options = { olderThan: clock.now(), ...bad } as Parameters<
      Cryptorg['system']['prices']['prune']
    >[0]

    const error = await c.system.prices.prune(options).catch((e: unknown) => e)

    expect(error).toMatchObject({ code: 'ERR_VALIDATION', details: { field } })
    expect(await remaining('Acme')).toHaveLength(3)
  })

  it('refuses an unknown organization with ERR_NOT_FOUND before deleting anything', async () => {
    await addHourly('Acme', 3)

    const error = await c.system.prices
      .prune({ olderThan: clock.now(), org: 'Initech' })
      .catch((e) => e)

    expect(error).toMatchObject({ code: 'ERR_NOT_FOUND' })
    expect(await remaining('Acme')).toHaveLength(3)
  })
})

describe('parsePruneAge', () => {
  it.each([
    ['1d', MIN_PRUNE_AGE_MS],
    ['90d', 90 * MIN_PRUNE_AGE_MS],
    ['24h', MIN_PRUNE_AGE_MS],
    ['2w', 14 * MIN_PRUNE_AGE_MS],
  ])('accepts %s', (text, expected) => {
    expect(parsePruneAge(text, 'older-than')).toBe(expected)
  })

  it.each(['1s', '90m', '23h59m', '0d', 'ninety days', ''])(
    'refuses %j with ERR_VALIDATION naming the field',
    (text) => {
      const error = validationFailure(() => parsePruneAge(text, 'older-than'))
      expect(error.message).toMatch(/^older-than must/)
    },
  )
})
