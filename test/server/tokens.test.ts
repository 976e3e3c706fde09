// SimpleJWT's endpoints over HTTP (src/server/routes/tokens.ts with src/server/throttle.ts and
// the core's auth service): obtain, refresh with rotation and reuse detection, verify,
// blacklist, inactive users, missing fields, and the failed sign-in throttle.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'

import {
  type Harness,
  PASSWORDS,
  api,
  checkObservedStatuses,
  expect401,
  startHarness,
} from './support.js'

checkObservedStatuses()

let h: Harness

beforeEach(async () => {
  h = await startHarness()
})

afterEach(async () => {
  await h.close()
})

const login = (username: string, password: string, path = '/api/token/') =>
  api('POST', path, { body: { username, password } })

describe('POST /api/token/', () => {
  it('answers 200 with an access and a refresh token for the seed example', async () => {
    const response = await login('alice', 'alice password')
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toMatch(/^application\/json/)
    expect(Object.keys(response.json).sort()).toEqual(['access', 'refresh'])
    expect(response.json.access).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/)
    expect(response.json.refresh).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/)

    // The access token works as a Bearer token.
    const orgs = await api('GET', '/api/organizations/', { token: response.json.access })
    expect(orgs.status).toBe(200)
    expect(orgs.json).toEqual([])
  })

  it('works without the trailing slash', async () => {
    expect((await login('alice', 'alice password', '/api/token')).status).toBe(200)
  })

  it('answers 401 for a wrong password and for an unknown user, alike', async () => {
    const wrong = await login('alice', 'not the password')
    const unknown = await login('nobody', 'whatever password')
    expect401(wrong, wrong.json.code)
    expect401(unknown, unknown.json.code)
    expect(wrong.json).toEqual(unknown.json)
    expect(wrong.text).not.toContain('not the password')
  })

  it('answers 401 for a deactivated user, like a wrong password', async () => {
    await h.as['admin']!.users.deactivate('frank')
    const response = await login('frank', 'frank password')
    const wrong = await login('alice', 'not the password')
    expect401(response, wrong.json.code)
    expect(response.json).toEqual(wrong.json)
  })

  it('ends the sessions of a user who is deactivated: their access token stops at once', async () => {
    const { access } = (await login('frank', 'frank password')).json
    expect((await api('GET', '/api/organizations/', { token: access })).status).toBe(200)
    await h.as['admin']!.users.deactivate('frank')
    expect401(await api('GET', '/api/organizations/', { token: access }), 'token_not_valid')
  })

  it('answers 400 naming each missing field', async () => {
    const noPassword = await api('POST', '/api/token/', { body: { username: 'alice' } })
    expect(noPassword.status).toBe(400)
    expect(noPassword.json).toEqual({ password: [expect.any(String)] })

    const noUsername = await api('POST', '/api/token/', { body: { password: 'x' } })
    expect(noUsername.status).toBe(400)
    expect(noUsername.json).toEqual({ username: [expect.any(String)] })

    // DRF reports every missing field at once.
    const empty = await api('POST', '/api/token/', { body: {} })
    expect(empty.status).toBe(400)
    expect(empty.json).toEqual({ username: [expect.any(String)], password: [expect.any(String)] })
  })

  it('answers 400 naming the field for a wrong type or an empty password', async () => {
    const numeric = await api('POST', '/api/token/', { body: { username: 42, password: 'x' } })
    expect(numeric.status).toBe(400)
    expect(Object.keys(numeric.json)).toEqual(['username'])

    const blank = await api('POST', '/api/token/', { body: { username: 'alice', password: '' } })
    expect(blank.status).toBe(400)
    expect(Object.keys(blank.json)).toEqual(['password'])
  })

  it('ignores unknown fields', async () => {
    const response = await api('POST', '/api/token/', {
      body: { username: 'alice', password: 'alice password', remember_me: true, extra: [1] },
    })
    expect(response.status).toBe(200)
  })
})

describe('POST /api/token/refresh/', () => {
  it('answers 200 with a new access token and a rotated refresh token', async () => {
    const pair = (await login('alice', 'alice password')).json
    h.clock.advance(1000)
    const refreshed = await api('POST', '/api/token/refresh/', { body: { refresh: pair.refresh } })
    expect(refreshed.status).toBe(200)
    expect(Object.keys(refreshed.json).sort()).toEqual(['access', 'refresh'])
    expect(refreshed.json.refresh).not.toBe(pair.refresh)
    expect(refreshed.json.access).not.toBe(pair.access)
    const orgs = await api('GET', '/api/organizations', { token: refreshed.json.access })
    expect(orgs.status).toBe(200)
    // The rotated refresh token refreshes again.
    const again = await api('POST', '/api/token/refresh', {
      body: { refresh: refreshed.json.refresh },
    })
    expect(again.status).toBe(200)
  })

  it('treats reuse of a retired refresh token as theft: 401 and the whole session ends', async () => {
    const pair = (await login('alice', 'alice password')).json
    const rotated = (await api('POST', '/api/token/refresh/', { body: { refresh: pair.refresh } }))
      .json
    const reused = await api('POST', '/api/token/refresh/', { body: { refresh: pair.refresh } })
    expect401(reused, 'token_not_valid')

    // The session is over: neither the new refresh token nor the new access token work.
    expect401(
      await api('POST', '/api/token/refresh/', { body: { refresh: rotated.refresh } }),
      'token_not_valid',
    )
    expect401(await api('GET', '/api/organizations/', { token: rotated.access }), 'token_not_valid')
    expect401(await api('GET', '/api/organizations/', { token: pair.access }), 'token_not_valid')
    // Other sessions of the same user are untouched.
    expect((await api('GET', '/api/organizations/', { token: h.tokens['alice'] })).status).toBe(200)
  })

  it('answers 401 token_not_valid for garbage, an access token and an expired refresh token', async () => {
    const pair = (await login('alice', 'alice password')).json
    for (const refresh of ['garbage', 'a.b.c', pair.access]) {
      expect401(await api('POST', '/api/token/refresh/', { body: { refresh } }), 'token_not_valid')
    }
    // Refresh tokens live one day by default (plus 30 s tolerance).
    h.clock.advance(86_400_000 + 60_000)
    expect401(
      await api('POST', '/api/token/refresh/', { body: { refresh: pair.refresh } }),
      'token_not_valid',
    )
  })

  it('lets only one of two concurrent refreshes with the same token win, and ends the session', async () => {
    const pair = (await login('alice', 'alice password')).json
    const answers = await Promise.all([
      api('POST', '/api/token/refresh/', { body: { refresh: pair.refresh } }),
      api('POST', '/api/token/refresh/', { body: { refresh: pair.refresh } }),
    ])
    const statuses = answers.map((a) => a.status).sort()
    expect(statuses).toEqual([200, 401])
    // Two parties held the same refresh token: neither keeps the session.
    const winner = answers.find((a) => a.status === 200)!.json
    expect401(
      await api('POST', '/api/token/refresh/', { body: { refresh: winner.refresh } }),
      'token_not_valid',
    )
    expect401(await api('GET', '/api/organizations/', { token: winner.access }), 'token_not_valid')
  })

  it('answers 400 for a missing refresh field', async () => {
    const response = await api('POST', '/api/token/refresh/', { body: {} })
    expect(response.status).toBe(400)
    expect(response.json).toEqual({ refresh: [expect.any(String)] })
  })
})

describe('POST /api/token/verify/', () => {
  it('answers 200 {} for a valid access token and a valid refresh token', async () => {
    const pair = (await login('alice', 'alice password')).json
    for (const token of [pair.access, pair.refresh]) {
      const response = await api('POST', '/api/token/verify/', { body: { token } })
      expect(response.status).toBe(200)
      expect(response.json).toEqual({})
    }
  })

  it('answers 401 token_not_valid for garbage, an expired token and a retired refresh token', async () => {
    const pair = (await login('alice', 'alice password')).json
    expect401(
      await api('POST', '/api/token/verify/', { body: { token: 'garbage' } }),
      'token_not_valid',
    )
    // A token signed with some other key.
    const forged =
      'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ4In0.' +
      'c2lnbmF0dXJlLW9mLXNvbWUtb3RoZXIta2V5LXh4eHh4eHh4eA'
    expect401(
      await api('POST', '/api/token/verify/', { body: { token: forged } }),
      'token_not_valid',
    )
    await api('POST', '/api/token/refresh/', { body: { refresh: pair.refresh } })
    expect401(
      await api('POST', '/api/token/verify/', { body: { token: pair.refresh } }),
      'token_not_valid',
    )
    const fresh = (await login('bob', 'bob password')).json
    h.clock.advance(301_000 + 30_000)
    expect401(
      await api('POST', '/api/token/verify/', { body: { token: fresh.access } }),
      'token_not_valid',
    )
  })

  it('answers 400 for a missing token field', async () => {
    const response = await api('POST', '/api/token/verify/', { body: { refresh: 'x' } })
    expect(response.status).toBe(400)
    expect(response.json).toEqual({ token: [expect.any(String)] })
  })
})

describe('POST /api/token/blacklist/', () => {
  it('ends the session: refresh then answers 401 and the access token stops', async () => {
    const pair = (await login('alice', 'alice password')).json
    const response = await api('POST', '/api/token/blacklist/', { body: { refresh: pair.refresh } })
    expect(response.status).toBe(200)
    expect(response.json).toEqual({})
    expect401(
      await api('POST', '/api/token/refresh/', { body: { refresh: pair.refresh } }),
      'token_not_valid',
    )
    expect401(await api('GET', '/api/organizations/', { token: pair.access }), 'token_not_valid')
    expect401(
      await api('POST', '/api/token/verify/', { body: { token: pair.refresh } }),
      'token_not_valid',
    )
  })

  it('answers 401 token_not_valid for an access token, and leaves the session alone', async () => {
    const pair = (await login('alice', 'alice password')).json
    expect401(
      await api('POST', '/api/token/blacklist/', { body: { refresh: pair.access } }),
      'token_not_valid',
    )
    expect((await api('GET', '/api/organizations/', { token: pair.access })).status).toBe(200)
  })

  it('answers 401 for garbage and 400 for a missing field', async () => {
    expect401(
      await api('POST', '/api/token/blacklist/', { body: { refresh: 'garbage' } }),
      'token_not_valid',
    )
    const missing = await api('POST', '/api/token/blacklist/', { body: {} })
    expect(missing.status).toBe(400)
    expect(missing.json).toEqual({ refresh: [expect.any(String)] })
  })
})

describe('Bearer authentication', () => {
  it('answers 401 not_authenticated with WWW-Authenticate: Bearer when no token is sent', async () => {
    const response = await api('GET', '/api/organizations/')
    expect401(response, 'not_authenticated')
  })

  it('answers 401 token_not_valid for a bad token, a refresh token and an expired one', async () => {
    const pair = (await login('alice', 'alice password')).json
    for (const token of ['garbage', pair.refresh]) {
      expect401(await api('GET', '/api/organizations/', { token }), 'token_not_valid')
    }
    expect401(await api('GET', '/api/organizations/', { headers: { authorization: 'Basic YTpi' } }))
    h.clock.advance(331_000)
    expect401(await api('GET', '/api/organizations/', { token: pair.access }), 'token_not_valid')
  })

  it('protects every /api/ endpoint but the token ones and the schema', async () => {
    const paths: [string, string][] = [
      ['GET', '/api/organizations/'],
      ['POST', '/api/organizations/'],
      ['GET', `/api/organizations/${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}/`],
      ['GET', '/api/crypto-prices/'],
      ['POST', '/api/crypto-prices/'],
      ['GET', '/api/crypto-prices/latest/?org_id=x'],
      ['GET', '/api/crypto-prices/1/'],
      ['DELETE', '/api/crypto-prices/1/'],
    ]
    for (const [method, path] of paths) {
      const response = await api(method, path, { body: method === 'POST' ? {} : undefined })
      expect401(response, 'not_authenticated')
    }
  })
})

describe('failed sign-in throttle', () => {
  it('answers the 6th failed sign-in for a username and address with 429 and Retry-After', async () => {
    for (let i = 0; i < 5; i++) {
      expect((await login('alice', `wrong ${i}`)).status).toBe(401)
    }
    const sixth = await login('alice', 'wrong again')
    expect(sixth.status).toBe(429)
    expect(Number(sixth.headers.get('retry-after'))).toBeGreaterThan(0)
    expect(sixth.json).toMatchObject({ detail: expect.any(String), code: 'throttled' })
    // Even the right password is refused while throttled; the password is never checked.
    expect((await login('alice', PASSWORDS['alice'] as string)).status).toBe(429)
    // Another username from the same address is not affected.
    expect((await login('bob', PASSWORDS['bob'] as string)).status).toBe(200)
    // The window passes.
    h.clock.advance(15 * 60_000 + 1000)
    expect((await login('alice', PASSWORDS['alice'] as string)).status).toBe(200)
  })

  it('counts usernames case-insensitively and ignoring surrounding spaces, as sign-in does', async () => {
    const variants = ['alice', 'ALICE', ' alice', 'alice ', 'Alice', '  alice  ']
    const statuses: number[] = []
    for (const username of variants) statuses.push((await login(username, 'wrong')).status)
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429])
  })

  it('honours smaller limits given to startServer', async () => {
    await h.server.close()
    const { startServer } = await import('../../src/server/index.js')
    const server = await startServer(h.c, {
      host: '127.0.0.1',
      port: 0,
      clock: h.clock,
      throttle: { perUser: 2, perAddress: 3, windowMs: 60_000 },
    })
    try {
      const post = (username: string) =>
        fetch(`${server.url}/api/token/`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ username, password: 'wrong' }),
        }).then((r) => r.status)
      expect([await post('alice'), await post('alice'), await post('alice')]).toEqual([
        401, 401, 429,
      ])
      // Per address over all usernames: the third failure in all fills the address' quota.
      expect(await post('bob')).toBe(401)
      expect(await post('carol')).toBe(429)
      h.clock.advance(61_000)
      expect(await post('carol')).toBe(401)
    } finally {
      await server.close()
    }
  })

  it('does not count a successful sign-in, and a success clears the count', async () => {
    for (let i = 0; i < 4; i++) await login('alice', 'wrong')
    expect((await login('alice', PASSWORDS['alice'] as string)).status).toBe(200)
    for (let i = 0; i < 5; i++) expect((await login('alice', 'wrong')).status).toBe(401)
    expect((await login('alice', 'wrong')).status).toBe(429)
  })
})
