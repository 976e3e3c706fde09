// The organization endpoints over HTTP (src/server/routes/organizations.ts over the core's
// OrgService): the seed's examples as written, list search and ordering, rename by PUT and
// PATCH, delete, conflicts, and trailing slashes.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'

import {
  type Harness,
  ISO_UTC,
  MISSING_ID,
  UUID,
  api,
  checkObservedStatuses,
  startHarness,
} from './support.js'

checkObservedStatuses()

let h: Harness
let alice: string

beforeEach(async () => {
  h = await startHarness()
  alice = h.tokens['alice'] as string
})

afterEach(async () => {
  await h.close()
})

describe('the seed examples', () => {
  it('POST /api/organizations/ creates: 201 {id, name, created_at}', async () => {
    const response = await api('POST', '/api/organizations/', {
      token: alice,
      body: '{\n    "name": "My Organization"\n}',
    })
    expect(response.status).toBe(201)
    expect(response.json).toEqual({
      id: expect.stringMatching(UUID),
      name: 'My Organization',
      created_at: '2024-09-17T12:00:00Z',
    })
    expect(response.json.created_at).toMatch(ISO_UTC)
    // The creator owns it.
    const members = await api('GET', `/api/organizations/${response.json.id}/members/`, {
      token: alice,
    })
    expect(members.json).toEqual([
      { username: 'alice', role: 'owner', joined_at: expect.any(String), is_active: true },
    ])
  })

  it('GET /api/organizations/ lists as a plain array', async () => {
    const created = (
      await api('POST', '/api/organizations/', { token: alice, body: { name: 'My Organization' } })
    ).json
    const response = await api('GET', '/api/organizations/', { token: alice })
    expect(response.status).toBe(200)
    expect(response.json).toEqual([created])
  })

  it('PUT /api/organizations/{uuid}/ renames: 200 with the new name', async () => {
    const created = (
      await api('POST', '/api/organizations/', { token: alice, body: { name: 'My Organization' } })
    ).json
    const response = await api('PUT', `/api/organizations/${created.id}/`, {
      token: alice,
      body: { name: 'Updated Organization Name' },
    })
    expect(response.status).toBe(200)
    expect(response.json).toEqual({
      id: created.id,
      name: 'Updated Organization Name',
      created_at: created.created_at,
    })
    const fetched = await api('GET', `/api/organizations/${created.id}/`, { token: alice })
    expect(fetched.status).toBe(200)
    expect(fetched.json).toEqual(response.json)
  })
})

describe('list', () => {
  beforeEach(async () => {
    for (const name of ['bravo Org', 'Alpha', 'charlie ORG']) {
      h.clock.advance(1000)
      await api('POST', '/api/organizations', { token: alice, body: { name } })
    }
  })

  const names = async (query: string) => {
    const response = await api('GET', `/api/organizations/${query}`, { token: alice })
    expect(response.status).toBe(200)
    return (response.json as { name: string }[]).map((o) => o.name)
  }

  it('is oldest first by default and orders by name and created_at either way', async () => {
    expect(await names('')).toEqual(['bravo Org', 'Alpha', 'charlie ORG'])
    expect(await names('?ordering=name')).toEqual(['Alpha', 'bravo Org', 'charlie ORG'])
    expect(await names('?ordering=-name')).toEqual(['charlie ORG', 'bravo Org', 'Alpha'])
    expect(await names('?ordering=created_at')).toEqual(['bravo Org', 'Alpha', 'charlie ORG'])
    expect(await names('?ordering=-created_at')).toEqual(['charlie ORG', 'Alpha', 'bravo Org'])
  })

  it('searches names case-insensitively, wildcards taken literally', async () => {
    expect(await names('?search=org')).toEqual(['bravo Org', 'charlie ORG'])
    expect(await names('?search=ALP')).toEqual(['Alpha'])
    expect(await names('?search=%25')).toEqual([])
    expect(await names('?search=_')).toEqual([])
    expect(await names('?search=')).toEqual(['bravo Org', 'Alpha', 'charlie ORG'])
    expect(await names('?search=org&ordering=-name')).toEqual(['charlie ORG', 'bravo Org'])
  })

  it('answers 400 naming ordering for an unknown ordering', async () => {
    const response = await api('GET', '/api/organizations/?ordering=id', { token: alice })
    expect(response.status).toBe(400)
    expect(Object.keys(response.json)).toEqual(['ordering'])
  })

  it.each(['%00', 'a%00b', '%0A', '%1F'])(
    'answers 400 naming search for a control character (%s) on either backend',
    async (search) => {
      const response = await api('GET', `/api/organizations/?search=${search}`, { token: alice })
      expect(response.status).toBe(400)
      expect(response.json).toEqual({ search: ['search must not contain control characters'] })
    },
  )

  it('answers 400 naming search for a search longer than 200 characters', async () => {
    const response = await api('GET', `/api/organizations/?search=${'a'.repeat(201)}`, {
      token: alice,
    })
    expect(response.status).toBe(400)
    expect(Object.keys(response.json)).toEqual(['search'])
  })

  it('shows administrators every organization and others only their own', async () => {
    await api('POST', '/api/organizations/', { token: h.tokens['bob'], body: { name: 'Bobs' } })
    const bob = await api('GET', '/api/organizations/', { token: h.tokens['bob'] })
    expect(bob.json.map((o: { name: string }) => o.name)).toEqual(['Bobs'])
    const admin = await api('GET', '/api/organizations/', { token: h.tokens['admin'] })
    expect(admin.json).toHaveLength(4)
  })
})

describe('one organization', () => {
  let id: string

  beforeEach(async () => {
    id = (await api('POST', '/api/organizations/', { token: alice, body: { name: 'Acme' } })).json
      .id
  })

  it('answers GET with and without the trailing slash', async () => {
    for (const path of [`/api/organizations/${id}/`, `/api/organizations/${id}`]) {
      const response = await api('GET', path, { token: alice })
      expect(response.status).toBe(200)
      expect(response.json).toMatchObject({ id, name: 'Acme' })
    }
  })

  it('accepts an upper-case UUID', async () => {
    const response = await api('GET', `/api/organizations/${id.toUpperCase()}/`, { token: alice })
    expect(response.status).toBe(200)
    expect(response.json.id).toBe(id)
  })

  it('answers 404 for an id that is not a UUID, even the name of a visible organization', async () => {
    for (const ref of ['Acme', 'not-a-uuid', '123', `${id}x`]) {
      const response = await api('GET', `/api/organizations/${ref}/`, { token: alice })
      expect(response.status).toBe(404)
      expect(response.json).toMatchObject({ detail: expect.any(String), code: 'not_found' })
    }
  })

  it('PATCH renames, and keeps the name when the field is left out', async () => {
    const renamed = await api('PATCH', `/api/organizations/${id}/`, {
      token: alice,
      body: { name: 'Acme Corp' },
    })
    expect(renamed.status).toBe(200)
    expect(renamed.json.name).toBe('Acme Corp')
    const unchanged = await api('PATCH', `/api/organizations/${id}`, { token: alice, body: {} })
    expect(unchanged.status).toBe(200)
    expect(unchanged.json.name).toBe('Acme Corp')
  })

  it('PUT needs the name: 400 naming it', async () => {
    const response = await api('PUT', `/api/organizations/${id}/`, { token: alice, body: {} })
    expect(response.status).toBe(400)
    expect(Object.keys(response.json)).toEqual(['name'])
  })

  it('answers 400 naming name for empty, too long, UUID-like and control-character names', async () => {
    for (const name of ['', '   ', 'x'.repeat(256), MISSING_ID, 'a\nb']) {
      for (const [method, path] of [
        ['POST', '/api/organizations/'],
        ['PUT', `/api/organizations/${id}/`],
        ['PATCH', `/api/organizations/${id}/`],
      ] as const) {
        const response = await api(method, path, { token: alice, body: { name } })
        expect(response.status, `${method} ${JSON.stringify(name)}`).toBe(400)
        expect(Object.keys(response.json)).toEqual(['name'])
      }
    }
  })

  it('answers 409 naming name for a name taken, whatever the case', async () => {
    await api('POST', '/api/organizations/', { token: alice, body: { name: 'Globex' } })
    const create = await api('POST', '/api/organizations/', {
      token: alice,
      body: { name: 'ACME' },
    })
    expect(create.status).toBe(409)
    expect(create.json).toEqual({ name: [expect.stringContaining('already exists')] })
    const rename = await api('PUT', `/api/organizations/${id}/`, {
      token: alice,
      body: { name: 'globex' },
    })
    expect(rename.status).toBe(409)
    expect(Object.keys(rename.json)).toEqual(['name'])
  })

  it('DELETE answers 204 with no body and removes the prices with it', async () => {
    await api('POST', '/api/crypto-prices/', {
      token: alice,
      body: { org_id: id, symbol: 'BTC', price: '1' },
    })
    const response = await api('DELETE', `/api/organizations/${id}/`, { token: alice })
    expect(response.status).toBe(204)
    expect(response.text).toBe('')
    expect((await api('GET', `/api/organizations/${id}/`, { token: alice })).status).toBe(404)
    expect((await api('DELETE', `/api/organizations/${id}`, { token: alice })).status).toBe(404)
    const prices = await api('GET', '/api/crypto-prices/', { token: alice })
    expect(prices.json.count).toBe(0)
  })

  it('answers 404 for a well-formed id that does not exist, on every method', async () => {
    for (const method of ['GET', 'PUT', 'PATCH', 'DELETE']) {
      const response = await api(method, `/api/organizations/${MISSING_ID}/`, {
        token: alice,
        body: method === 'PUT' || method === 'PATCH' ? { name: 'Anything' } : undefined,
      })
      expect(response.status, method).toBe(404)
    }
  })
})
