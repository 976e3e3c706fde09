// The access log of src/server/app.ts: one line per request with method, path without the
// query string, status, duration and user; and no Authorization header, token or password in
// any line the server logs, whatever the request.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'

import {
  type Harness,
  PASSWORDS,
  api,
  checkObservedStatuses,
  seedOrgs,
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

const accessLines = () =>
  h.logger.events.filter((e) => e.fields !== undefined && 'duration_ms' in e.fields)

describe('access log', () => {
  it('writes one info line per request with method, path, status, duration and user', async () => {
    const { acme } = await seedOrgs(h)
    await api('GET', `/api/organizations/${acme.id}/?search=secret-query`, {
      token: h.tokens['alice'],
    })
    await api('GET', '/api/organizations/')
    await api('POST', '/api/token/', { body: { username: 'bob', password: 'bob password' } })
    await api('DELETE', '/healthz')

    const lines = accessLines()
    expect(lines).toHaveLength(4)
    expect(lines.every((e) => e.level === 'info')).toBe(true)
    expect(lines.map((e) => e.fields)).toEqual([
      {
        request_id: expect.any(String),
        method: 'GET',
        path: `/api/organizations/${acme.id}/`,
        status: 200,
        duration_ms: expect.any(Number),
        user: 'alice',
      },
      expect.objectContaining({
        method: 'GET',
        path: '/api/organizations/',
        status: 401,
        user: null,
      }),
      expect.objectContaining({ method: 'POST', path: '/api/token/', status: 200, user: 'bob' }),
      expect.objectContaining({ method: 'DELETE', path: '/healthz', status: 405, user: null }),
    ])
    expect(lines[0]!.message).toMatch(
      new RegExp(`^GET /api/organizations/${acme.id}/ 200 \\d+\\.\\dms alice$`),
    )
    expect(lines[1]!.message).toMatch(/^GET \/api\/organizations\/ 401 \d+\.\dms$/)
    // Request ids differ from one request to the next.
    expect(new Set(lines.map((e) => e.fields?.['request_id'])).size).toBe(4)
    for (const line of lines) {
      expect(line.fields?.['duration_ms']).toBeGreaterThanOrEqual(0)
    }
    expect(JSON.stringify(h.logger.events)).not.toContain('secret-query')
  })

  it('logs a request per line even for errors: 400, 404, 413, 415', async () => {
    const token = h.tokens['alice']
    await api('POST', '/api/organizations/', { token, body: '{' })
    await api('GET', '/api/nothing')
    await api('POST', '/api/organizations/', { token, body: 'x'.repeat(1024 * 1024 + 1) })
    await api('POST', '/api/organizations/', {
      token,
      body: 'name=x',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    })
    expect(accessLines().map((e) => [e.fields?.['status'], e.fields?.['user']])).toEqual([
      [400, 'alice'],
      [404, null],
      [413, 'alice'],
      [415, 'alice'],
    ])
  })

  it('never logs an Authorization header, a token or a password', async () => {
    const { acme } = await seedOrgs(h)
    const secrets: string[] = [...Object.values(PASSWORDS), ...Object.values(h.tokens)]
    const pair = (
      await api('POST', '/api/token/', {
        body: { username: 'alice', password: PASSWORDS['alice'] },
      })
    ).json
    secrets.push(pair.access, pair.refresh)
    const refreshed = (
      await api('POST', '/api/token/refresh/', { body: { refresh: pair.refresh } })
    ).json
    secrets.push(refreshed.access, refreshed.refresh)

    // Failed and malformed sign-ins, with the password in odd places.
    await api('POST', '/api/token/', { body: { username: 'alice', password: 'hunter2-wrong' } })
    await api('POST', '/api/token/', { body: '{"username":"alice","password":"hunter2-broken"' })
    await api('POST', '/api/token/', { body: { username: 'hunter2-as-name!', password: 'x' } })
    await api('POST', '/api/token/?password=hunter2-in-query', {
      body: { username: 'alice', password: 'hunter2-q' },
    })
    secrets.push('hunter2')
    await api('POST', '/api/token/verify/', { body: { token: refreshed.access } })
    await api('POST', '/api/token/blacklist/', { body: { refresh: refreshed.refresh } })
    await api('POST', '/api/token/refresh/', { body: { refresh: pair.refresh } })
    // Tokens in headers, good, bad and malformed.
    await api('GET', `/api/organizations/${acme.id}/`, { token: h.tokens['alice'] })
    await api('GET', '/api/organizations/', { token: 'not-a-real-token-hunter2' })
    await api('GET', '/api/organizations/', {
      headers: { authorization: `Basic ${Buffer.from('alice:hunter2').toString('base64')}` },
    })
    secrets.push(Buffer.from('alice:hunter2').toString('base64'))
    await api('GET', `/api/crypto-prices/?org_id=${acme.id}&token=hunter2-query`, {
      token: h.tokens['bob'],
    })
    // An unexpected error is logged too: it must not carry the request's secrets either.
    await h.c.close()
    await api('GET', '/api/organizations/', { token: h.tokens['alice'], allow5xx: true })
    await api('POST', '/api/token/', {
      body: { username: 'alice', password: PASSWORDS['alice'] },
      allow5xx: true,
    })

    const logged = JSON.stringify(h.logger.events)
    expect(h.logger.events.length).toBeGreaterThan(15)
    for (const secret of secrets) {
      expect(logged, 'a secret is in the log').not.toContain(secret)
    }
    expect(logged).not.toMatch(/authorization|bearer|password/i)
  })
})
