// The member endpoints over HTTP (src/server/routes/organizations.ts over the core's
// MemberService): list, add, change role, remove, the last-owner rule, and input errors.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'

import {
  type Harness,
  MISSING_ID,
  api,
  checkObservedStatuses,
  seedOrgs,
  startHarness,
} from './support.js'

checkObservedStatuses()

let h: Harness
let alice: string
let acme: string
let members: string

beforeEach(async () => {
  h = await startHarness()
  alice = h.tokens['alice'] as string
  acme = (await seedOrgs(h)).acme.id
  members = `/api/organizations/${acme}/members/`
})

afterEach(async () => {
  await h.close()
})

describe('GET members', () => {
  it('lists owners first, then by name, to any member', async () => {
    for (const who of ['alice', 'carol', 'dave']) {
      const response = await api('GET', members, { token: h.tokens[who] })
      expect(response.status, who).toBe(200)
      expect(response.json).toEqual([
        { username: 'alice', role: 'owner', joined_at: '2024-09-17T12:00:00Z', is_active: true },
        { username: 'dave', role: 'member', joined_at: '2024-09-17T12:00:00Z', is_active: true },
        { username: 'carol', role: 'viewer', joined_at: '2024-09-17T12:00:00Z', is_active: true },
      ])
    }
    // Without the trailing slash too.
    expect((await api('GET', members.slice(0, -1), { token: alice })).status).toBe(200)
  })

  it('answers 404 for a non-member, a missing organization and an id that is not a UUID', async () => {
    expect((await api('GET', members, { token: h.tokens['frank'] })).status).toBe(404)
    expect(
      (await api('GET', `/api/organizations/${MISSING_ID}/members/`, { token: alice })).status,
    ).toBe(404)
    expect((await api('GET', '/api/organizations/Acme/members/', { token: alice })).status).toBe(
      404,
    )
  })
})

describe('POST members', () => {
  it('adds a member with role member by default: 201 with the member', async () => {
    const response = await api('POST', members, { token: alice, body: { username: 'frank' } })
    expect(response.status).toBe(201)
    expect(response.json).toEqual({
      username: 'frank',
      role: 'member',
      joined_at: '2024-09-17T12:00:00Z',
      is_active: true,
    })
    // frank now sees Acme.
    const orgs = await api('GET', '/api/organizations/', { token: h.tokens['frank'] })
    expect(orgs.json.map((o: { id: string }) => o.id)).toEqual([acme])
  })

  it('adds with an explicit role and finds the user case-insensitively', async () => {
    const response = await api('POST', members.slice(0, -1), {
      token: alice,
      body: { username: 'FRANK', role: 'viewer' },
    })
    expect(response.status).toBe(201)
    expect(response.json).toMatchObject({ username: 'frank', role: 'viewer' })
  })

  it('answers 409 naming username for someone already a member', async () => {
    const response = await api('POST', members, { token: alice, body: { username: 'carol' } })
    expect(response.status).toBe(409)
    expect(Object.keys(response.json)).toEqual(['username'])
  })

  it('answers 404 for an unknown user', async () => {
    const response = await api('POST', members, { token: alice, body: { username: 'nobody' } })
    expect(response.status).toBe(404)
  })

  it('answers 400 naming the field for a missing username, a bad role and wrong types', async () => {
    const cases: [unknown, string][] = [
      [{}, 'username'],
      [{ username: 7 }, 'username'],
      [{ username: 'frank', role: 'admin' }, 'role'],
      [{ username: 'frank', role: 1 }, 'role'],
      [{ username: 'bad name!' }, 'username'],
    ]
    for (const [body, field] of cases) {
      const response = await api('POST', members, { token: alice, body })
      expect(response.status, JSON.stringify(body)).toBe(400)
      expect(Object.keys(response.json)).toEqual([field])
    }
  })

  it('answers 403 for a member or viewer and 404 for a non-member', async () => {
    for (const who of ['carol', 'dave']) {
      const response = await api('POST', members, {
        token: h.tokens[who],
        body: { username: 'frank' },
      })
      expect(response.status, who).toBe(403)
      expect(response.json).toMatchObject({ code: 'permission_denied' })
    }
    const outsider = await api('POST', members, {
      token: h.tokens['bob'],
      body: { username: 'frank' },
    })
    expect(outsider.status).toBe(404)
  })
})

describe('PATCH members/{username}', () => {
  it("changes a member's role: 200 with the member", async () => {
    const response = await api('PATCH', `${members}carol/`, {
      token: alice,
      body: { role: 'member' },
    })
    expect(response.status).toBe(200)
    expect(response.json).toEqual({
      username: 'carol',
      role: 'member',
      joined_at: '2024-09-17T12:00:00Z',
      is_active: true,
    })
    const noSlash = await api('PATCH', `${members}carol`, { token: alice, body: { role: 'owner' } })
    expect(noSlash.status).toBe(200)
    expect(noSlash.json.role).toBe('owner')
  })

  it('answers 409 when the last owner would be demoted, and allows it with a second owner', async () => {
    const last = await api('PATCH', `${members}alice/`, { token: alice, body: { role: 'member' } })
    expect(last.status).toBe(409)
    expect(last.json).toMatchObject({ detail: expect.stringContaining('last active owner') })
    await api('PATCH', `${members}dave/`, { token: alice, body: { role: 'owner' } })
    const now = await api('PATCH', `${members}alice/`, { token: alice, body: { role: 'member' } })
    expect(now.status).toBe(200)
  })

  it('answers 400 naming role for a missing or unknown role', async () => {
    for (const body of [{}, { role: 'boss' }, { role: null }, { role: ['owner'] }]) {
      const response = await api('PATCH', `${members}carol/`, { token: alice, body })
      expect(response.status, JSON.stringify(body)).toBe(400)
      expect(Object.keys(response.json)).toEqual(['role'])
    }
  })

  it('answers 404 for a user who is not a member, or does not exist', async () => {
    for (const username of ['frank', 'nobody']) {
      const response = await api('PATCH', `${members}${username}/`, {
        token: alice,
        body: { role: 'viewer' },
      })
      expect(response.status, username).toBe(404)
    }
  })

  it('answers 403 for a member and 404 for a non-member', async () => {
    const dave = await api('PATCH', `${members}carol/`, {
      token: h.tokens['dave'],
      body: { role: 'member' },
    })
    expect(dave.status).toBe(403)
    const bob = await api('PATCH', `${members}carol/`, {
      token: h.tokens['bob'],
      body: { role: 'member' },
    })
    expect(bob.status).toBe(404)
  })
})

describe('DELETE members/{username}', () => {
  it('removes a member: 204 with no body, and they lose access at once', async () => {
    const response = await api('DELETE', `${members}carol/`, { token: alice })
    expect(response.status).toBe(204)
    expect(response.text).toBe('')
    expect((await api('GET', members, { token: h.tokens['carol'] })).status).toBe(404)
    expect((await api('DELETE', `${members}carol`, { token: alice })).status).toBe(404)
  })

  it('answers 409 for the last owner', async () => {
    const response = await api('DELETE', `${members}alice/`, { token: alice })
    expect(response.status).toBe(409)
  })

  it('answers 403 for a viewer removing someone, and 404 for a non-member', async () => {
    expect((await api('DELETE', `${members}dave/`, { token: h.tokens['carol'] })).status).toBe(403)
    expect((await api('DELETE', `${members}dave/`, { token: h.tokens['frank'] })).status).toBe(404)
  })
})
