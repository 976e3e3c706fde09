import { afterEach, beforeEach, describe, expect, it } from 'vitest'

import type { Cryptorg } from '../../src/index.js'
import { type FakeClock, fakeClock } from '../helpers/fake-clock.js'
import { openTestDb } from '../helpers/open-test-db.js'

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

let clock: FakeClock
let c: Cryptorg

beforeEach(async () => {
  clock = fakeClock('2024-09-17T12:00:00.000Z')
  c = await openTestDb({ clock })
})

afterEach(async () => {
  await c.close()
})

describe('orgs.create', () => {
  it('returns the organization with a v4 UUID, trimmed name and creation time', async () => {
    const org = await c.system.orgs.create('  Acme  ')
    expect(org.id).toMatch(UUID_V4)
    expect(org).toEqual({ id: org.id, name: 'Acme', created_at: '2024-09-17T12:00:00Z' })
  })

  it('keeps milliseconds of the creation time when they are not zero', async () => {
    clock.set('2024-09-17T12:00:00.250Z')
    expect((await c.system.orgs.create('Acme')).created_at).toBe('2024-09-17T12:00:00.250Z')
  })

  it('gives each organization its own id', async () => {
    const a = await c.system.orgs.create('A')
    const b = await c.system.orgs.create('B')
    expect(a.id).not.toBe(b.id)
  })

  it.each(['Acme', 'ACME', 'acme', '  aCmE  '])(
    'returns ERR_CONFLICT when %j differs from an existing name only in case or spaces',
    async (duplicate) => {
      await c.system.orgs.create('Acme')
      await expect(c.system.orgs.create(duplicate)).rejects.toMatchObject({
        code: 'ERR_CONFLICT',
        message: `organization ${JSON.stringify(duplicate.trim())} already exists`,
      })
      expect(await c.system.orgs.list()).toHaveLength(1)
    },
  )

  it('returns ERR_VALIDATION and stores nothing when the name is empty', async () => {
    await expect(c.system.orgs.create('   ')).rejects.toMatchObject({ code: 'ERR_VALIDATION' })
    expect(await c.system.orgs.list()).toEqual([])
  })

  it('returns ERR_VALIDATION when the name looks like a UUID', async () => {
    await expect(
      c.system.orgs.create('123e4567-e89b-42d3-a456-426614174000'),
    ).rejects.toMatchObject({
      code: 'ERR_VALIDATION',
      message: 'name must not be a UUID',
    })
  })
})

describe('orgs.create: names that look alike', () => {
  it.each([
    ['Straße', 'STRASSE'],
    ['Ac me', 'Ac  me'],
    ['Acme', 'Ac\u200bme'],
  ])('returns ERR_CONFLICT when %j exists and %j is created', async (first, second) => {
    await c.system.orgs.create(first)
    await expect(c.system.orgs.create(second)).rejects.toMatchObject({ code: 'ERR_CONFLICT' })
    expect((await c.system.orgs.list()).map((org) => org.name)).toEqual([first])
  })

  it('returns ERR_VALIDATION for a UUID written with full-width digits', async () => {
    await expect(
      c.system.orgs.create('\uff10\uff10000000-0000-0000-0000-000000000000'),
    ).rejects.toMatchObject({ code: 'ERR_VALIDATION', message: 'name must not be a UUID' })
    expect(await c.system.orgs.list()).toEqual([])
  })
})

describe('orgs: arguments of the wrong type from JavaScript callers', () => {
  it('returns ERR_VALIDATION naming the name when create gets a number', async () => {
    await expect(c.system.orgs.create(42 as never)).rejects.toMatchObject({
      code: 'ERR_VALIDATION',
      message: expect.stringMatching(/^name must be a string, got a number$/),
      details: { field: 'name' },
    })
  })

  it('returns ERR_VALIDATION naming the organization when get gets undefined', async () => {
    await expect(c.system.orgs.get(undefined as never)).rejects.toMatchObject({
      code: 'ERR_VALIDATION',
      message: expect.stringMatching(/^org must be a string, got /),
      details: { field: 'org' },
    })
  })
})

describe('orgs.list', () => {
  it('returns an empty list when there is no organization', async () => {
    expect(await c.system.orgs.list()).toEqual([])
  })

  it('returns organizations oldest first', async () => {
    await c.system.orgs.create('Zeta')
    clock.advance(1000)
    await c.system.orgs.create('Alpha')
    clock.advance(1000)
    await c.system.orgs.create('Mid')
    expect((await c.system.orgs.list()).map((o) => [o.name, o.created_at])).toEqual([
      ['Zeta', '2024-09-17T12:00:00Z'],
      ['Alpha', '2024-09-17T12:00:01Z'],
      ['Mid', '2024-09-17T12:00:02Z'],
    ])
  })

  it('orders organizations created at the same moment by name, ignoring case', async () => {
    await c.system.orgs.create('bravo')
    await c.system.orgs.create('Charlie')
    await c.system.orgs.create('alpha')
    expect((await c.system.orgs.list()).map((o) => o.name)).toEqual(['alpha', 'bravo', 'Charlie'])
  })
})

describe('orgs.get', () => {
  it('finds an organization by id', async () => {
    const org = await c.system.orgs.create('Acme')
    expect(await c.system.orgs.get(org.id)).toEqual(org)
  })

  it('finds an organization by its id written in upper case', async () => {
    const org = await c.system.orgs.create('Acme')
    expect(await c.system.orgs.get(org.id.toUpperCase())).toEqual(org)
  })

  it.each(['Acme', 'acme', 'ACME', '  Acme  '])(
    'finds an organization by the name %j case-insensitively',
    async (ref) => {
      const org = await c.system.orgs.create('Acme')
      await c.system.orgs.create('Other')
      expect(await c.system.orgs.get(ref)).toEqual(org)
    },
  )

  it('returns ERR_NOT_FOUND naming the organization when the name does not exist', async () => {
    await c.system.orgs.create('Acme')
    await expect(c.system.orgs.get('Globex')).rejects.toMatchObject({
      code: 'ERR_NOT_FOUND',
      message: 'organization "Globex" not found',
      details: { org: 'Globex' },
    })
  })

  it('returns ERR_NOT_FOUND when the id does not exist', async () => {
    const id = '123e4567-e89b-42d3-a456-426614174000'
    await expect(c.system.orgs.get(id)).rejects.toMatchObject({
      code: 'ERR_NOT_FOUND',
      message: `organization "${id}" not found`,
    })
  })

  it('returns ERR_VALIDATION when the reference is empty', async () => {
    await expect(c.system.orgs.get('  ')).rejects.toMatchObject({ code: 'ERR_VALIDATION' })
  })
})

describe('orgs.rename', () => {
  it('renames an organization found by name and keeps its id and creation time', async () => {
    const org = await c.system.orgs.create('Acme')
    clock.advance(60_000)
    const renamed = await c.system.orgs.rename('acme', '  Acme Corp ')
    expect(renamed).toEqual({ ...org, name: 'Acme Corp' })
    expect(await c.system.orgs.get('ACME CORP')).toEqual(renamed)
    await expect(c.system.orgs.get('Acme')).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' })
  })

  it('renames an organization found by id', async () => {
    const org = await c.system.orgs.create('Acme')
    expect((await c.system.orgs.rename(org.id, 'Initech')).name).toBe('Initech')
  })

  it('changes only the case of a name', async () => {
    await c.system.orgs.create('acme')
    expect((await c.system.orgs.rename('Acme', 'ACME')).name).toBe('ACME')
    expect((await c.system.orgs.get('acme')).name).toBe('ACME')
  })

  it('returns ERR_CONFLICT when the new name belongs to another organization', async () => {
    await c.system.orgs.create('Acme')
    await c.system.orgs.create('Globex')
    await expect(c.system.orgs.rename('Acme', ' GLOBEX ')).rejects.toMatchObject({
      code: 'ERR_CONFLICT',
      message: 'organization "GLOBEX" already exists',
    })
    expect((await c.system.orgs.list()).map((o) => o.name)).toEqual(['Acme', 'Globex'])
  })

  it('returns ERR_NOT_FOUND naming the organization when it does not exist', async () => {
    await expect(c.system.orgs.rename('Ghost', 'New')).rejects.toMatchObject({
      code: 'ERR_NOT_FOUND',
      message: 'organization "Ghost" not found',
    })
  })

  it('returns ERR_VALIDATION naming the new name when it is empty', async () => {
    await c.system.orgs.create('Acme')
    await expect(c.system.orgs.rename('Acme', ' ')).rejects.toMatchObject({
      code: 'ERR_VALIDATION',
      message: 'new name must not be empty',
      details: { field: 'new name' },
    })
    expect((await c.system.orgs.get('Acme')).name).toBe('Acme')
  })
})

describe('orgs.delete', () => {
  it('deletes the organization and its prices and reports how many prices went', async () => {
    const acme = await c.system.orgs.create('Acme')
    await c.system.orgs.create('Globex')
    await c.system.prices.add({ org: 'Acme', symbol: 'BTC', price: '1' })
    await c.system.prices.add({ org: 'Acme', symbol: 'ETH', price: '2' })
    await c.system.prices.add({ org: 'Acme', symbol: 'BTC', price: '3' })
    await c.system.prices.add({ org: 'Globex', symbol: 'BTC', price: '4' })

    expect(await c.system.orgs.delete('acme')).toEqual({ organization: acme, prices_deleted: 3 })
    expect((await c.system.orgs.list()).map((o) => o.name)).toEqual(['Globex'])
    await expect(c.system.orgs.get(acme.id)).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' })
    expect(await c.system.prices.history('Globex')).toHaveLength(1)
  })

  it('leaves no prices for a new organization that reuses a deleted name', async () => {
    await c.system.orgs.create('Acme')
    await c.system.prices.add({ org: 'Acme', symbol: 'BTC', price: '1' })
    await c.system.orgs.delete('Acme')
    await c.system.orgs.create('Acme')
    expect(await c.system.prices.history('Acme')).toEqual([])
    expect(await c.system.prices.latest('Acme')).toEqual([])
  })

  it('reports zero prices deleted when the organization had none', async () => {
    const org = await c.system.orgs.create('Acme')
    expect(await c.system.orgs.delete(org.id)).toEqual({ organization: org, prices_deleted: 0 })
  })

  it('returns ERR_NOT_FOUND naming the organization when it does not exist', async () => {
    await expect(c.system.orgs.delete('Ghost')).rejects.toMatchObject({
      code: 'ERR_NOT_FOUND',
      message: 'organization "Ghost" not found',
    })
  })

  it('frees the name for a new organization', async () => {
    await c.system.orgs.create('Acme')
    await c.system.orgs.delete('Acme')
    await expect(c.system.orgs.create('ACME')).resolves.toMatchObject({ name: 'ACME' })
  })
})

describe('organization references with control characters', () => {
  it.each(['a\u0000b', '\u0000', 'Ac\nme'])(
    'refuse %j as ERR_VALIDATION on any backend',
    async (ref) => {
      const c = await openTestDb()
      try {
        await c.system.orgs.create('Acme')
        await expect(c.system.orgs.get(ref)).rejects.toMatchObject({
          code: 'ERR_VALIDATION',
          message: 'organization must not contain control characters',
        })
        await expect(c.system.prices.latest(ref)).rejects.toMatchObject({ code: 'ERR_VALIDATION' })
      } finally {
        await c.close()
      }
    },
  )
})
