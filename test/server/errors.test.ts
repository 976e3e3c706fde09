// Bad input over HTTP (src/server/body.ts, src/server/problems.ts, the query checks of the
// routes and the one error handler in src/server/app.ts): malformed JSON, media types, body
// size with honest, lying and absent Content-Length, ids, wrong types, query values, unknown
// fields; every answer JSON, nothing written to the database, never a 5xx; and the 500 an
// unexpected error gets.
import { request as httpRequest } from 'node:http'
import { connect } from 'node:net'

import { afterEach, beforeEach, describe, expect, it } from 'vitest'

import { MISSING_TABLE, alterBehindTheBack, dumpTables } from '../helpers/db-rows.js'
import {
  type Harness,
  MISSING_ID,
  api,
  checkObservedStatuses,
  record,
  recordStatus,
  seedOrgs,
  startHarness,
} from './support.js'

checkObservedStatuses()

const MIB = 1024 * 1024

let h: Harness
let alice: string
let acme: string
let priceId: number

beforeEach(async () => {
  h = await startHarness()
  alice = h.tokens['alice'] as string
  const seeded = await seedOrgs(h)
  acme = seeded.acme.id
  priceId = seeded.acmePrice
})

afterEach(async () => {
  await h.close()
})

/** Every endpoint that reads a body, with a valid body for it. */
function bodyEndpoints(): { method: string; path: string; auth: boolean; valid: unknown }[] {
  return [
    { method: 'POST', path: '/api/token/', auth: false, valid: { username: 'x', password: 'y' } },
    { method: 'POST', path: '/api/token/refresh/', auth: false, valid: { refresh: 'x' } },
    { method: 'POST', path: '/api/token/verify/', auth: false, valid: { token: 'x' } },
    { method: 'POST', path: '/api/token/blacklist/', auth: false, valid: { refresh: 'x' } },
    { method: 'POST', path: '/api/organizations/', auth: true, valid: { name: 'New' } },
    { method: 'PUT', path: `/api/organizations/${acme}/`, auth: true, valid: { name: 'New' } },
    { method: 'PATCH', path: `/api/organizations/${acme}/`, auth: true, valid: { name: 'New' } },
    {
      method: 'POST',
      path: `/api/organizations/${acme}/members/`,
      auth: true,
      valid: { username: 'frank' },
    },
    {
      method: 'PATCH',
      path: `/api/organizations/${acme}/members/carol/`,
      auth: true,
      valid: { role: 'member' },
    },
    {
      method: 'POST',
      path: '/api/crypto-prices/',
      auth: true,
      valid: { org_id: acme, symbol: 'BTC', price: '1' },
    },
    {
      method: 'PUT',
      path: `/api/crypto-prices/${priceId}/`,
      auth: true,
      valid: { org_id: acme, symbol: 'BTC', price: '1' },
    },
    { method: 'PATCH', path: `/api/crypto-prices/${priceId}/`, auth: true, valid: { price: '1' } },
  ]
}

describe('request bodies', () => {
  it('answers 400 parse_error for malformed JSON on every endpoint, and writes nothing', async () => {
    const before = await dumpTables(h.path)
    for (const { method, path, auth } of bodyEndpoints()) {
      for (const text of ['{', '{"name": }', "{'name': 'x'}", '{"a":1,}', 'nul', '{"a":1} x']) {
        const response = await api(method, path, { token: auth ? alice : undefined, body: text })
        expect(response.status, `${method} ${path} ${text}`).toBe(400)
        expect(response.json).toMatchObject({ detail: expect.any(String), code: 'parse_error' })
      }
    }
    expect(await dumpTables(h.path)).toEqual(before)
  })

  it('answers 400 for JSON that is not an object, an empty body, bad UTF-8 and deep nesting', async () => {
    for (const text of [
      '[]',
      '"name"',
      '42',
      'null',
      '',
      '   ',
      `${'['.repeat(100)}${']'.repeat(100)}`,
    ]) {
      const response = await api('POST', '/api/organizations/', { token: alice, body: text })
      expect(response.status, JSON.stringify(text)).toBe(400)
      expect(response.json.detail).toEqual(expect.any(String))
    }
    const deep = `{"name":"x","extra":${'{"a":'.repeat(100)}1${'}'.repeat(100)}}`
    expect((await api('POST', '/api/organizations/', { token: alice, body: deep })).status).toBe(
      400,
    )
    const badUtf8 = await fetch(`${h.url}/api/organizations/`, {
      method: 'POST',
      headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/json' },
      body: Buffer.from([0x7b, 0x22, 0x6e, 0x61, 0x6d, 0x65, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]),
    })
    const answered = await record('POST', '/api/organizations/', badUtf8)
    expect(answered.status).toBe(400)
    expect(answered.json.code).toBe('parse_error')
  })

  it('answers 415 for bodies that are not JSON, on every endpoint', async () => {
    const before = await dumpTables(h.path)
    for (const { method, path, auth, valid } of bodyEndpoints()) {
      for (const type of [
        'text/plain',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        'application/jsonx',
        'text/json',
      ]) {
        const response = await api(method, path, {
          token: auth ? alice : undefined,
          body: JSON.stringify(valid),
          headers: { 'content-type': type },
        })
        expect(response.status, `${method} ${path} ${type}`).toBe(415)
        expect(response.json).toMatchObject({ code: 'unsupported_media_type' })
      }
      // No Content-Type at all.
      const bare = await fetch(`${h.url}${path}`, {
        method,
        headers: auth ? { authorization: `Bearer ${alice}` } : {},
        body: new Blob([JSON.stringify(valid)]),
      })
      expect((await record(method, path, bare)).status, `${method} ${path} bare`).toBe(415)
    }
    expect(await dumpTables(h.path)).toEqual(before)
  })

  it('accepts JSON media types with parameters and +json suffixes', async () => {
    for (const [type, name] of [
      ['application/json; charset=utf-8', 'One'],
      ['Application/JSON', 'Two'],
      ['application/merge-patch+json', 'Three'],
    ]) {
      const response = await api('POST', '/api/organizations/', {
        token: alice,
        body: { name },
        headers: { 'content-type': type as string },
      })
      expect(response.status, type).toBe(201)
    }
  })

  it('ignores unknown fields', async () => {
    const org = await api('POST', '/api/organizations/', {
      token: alice,
      body: { name: 'Extra', id: MISSING_ID, created_at: '1999-01-01T00:00:00Z', owner: 'bob' },
    })
    expect(org.status).toBe(201)
    expect(org.json.id).not.toBe(MISSING_ID)
    expect(org.json.created_at).toBe('2024-09-17T12:00:00Z')
    const price = await api('POST', '/api/crypto-prices/', {
      token: alice,
      body: {
        org_id: acme,
        symbol: 'BTC',
        price: '1',
        id: 999,
        timestamp: 'x',
        source: 'coingecko',
      },
    })
    expect(price.status).toBe(201)
    expect(price.json).toMatchObject({ source: 'manual', timestamp: '2024-09-17T12:00:00Z' })
    expect(price.json.id).not.toBe(999)
    const member = await api('POST', `/api/organizations/${acme}/members/`, {
      token: alice,
      body: { username: 'frank', is_admin: true, joined_at: 'x' },
    })
    expect(member.status).toBe(201)
    const frank = await api('GET', '/api/organizations/', { token: h.tokens['frank'] })
    expect(frank.json).toHaveLength(1)
  })

  it('answers 400 naming the field for wrong types, and writes nothing', async () => {
    const before = await dumpTables(h.path)
    const cases: [string, string, unknown, string][] = [
      ['POST', '/api/token/', { username: ['alice'], password: 'x' }, 'username'],
      ['POST', '/api/token/', { username: 'alice', password: 1234 }, 'password'],
      ['POST', '/api/token/refresh/', { refresh: 1 }, 'refresh'],
      ['POST', '/api/token/verify/', { token: {} }, 'token'],
      ['POST', '/api/token/blacklist/', { refresh: true }, 'refresh'],
      ['POST', '/api/organizations/', { name: 5 }, 'name'],
      ['POST', '/api/organizations/', { name: null }, 'name'],
      ['PUT', `/api/organizations/${acme}/`, { name: false }, 'name'],
      ['PATCH', `/api/organizations/${acme}/`, { name: ['x'] }, 'name'],
      ['POST', `/api/organizations/${acme}/members/`, { username: 1 }, 'username'],
      ['PATCH', `/api/organizations/${acme}/members/carol/`, { role: 2 }, 'role'],
      ['POST', '/api/crypto-prices/', { org_id: acme, symbol: 'BTC', price: true }, 'price'],
      ['POST', '/api/crypto-prices/', { org_id: acme, symbol: ['BTC'], price: '1' }, 'symbol'],
      ['POST', '/api/crypto-prices/', { org_id: 1, symbol: 'BTC', price: '1' }, 'org_id'],
      ['PATCH', `/api/crypto-prices/${priceId}/`, { price: { value: 1 } }, 'price'],
      ['PATCH', `/api/crypto-prices/${priceId}/`, { org_id: 7 }, 'org_id'],
      ['PUT', `/api/crypto-prices/${priceId}/`, { org_id: acme, symbol: 1, price: '1' }, 'symbol'],
    ]
    for (const [method, path, body, field] of cases) {
      const auth = path.startsWith('/api/token') ? undefined : alice
      const response = await api(method, path, { token: auth, body })
      expect(response.status, `${method} ${path} ${JSON.stringify(body)}`).toBe(400)
      expect(Object.keys(response.json), `${method} ${path}`).toEqual([field])
      expect(response.json[field]).toEqual([expect.any(String)])
    }
    expect(await dumpTables(h.path)).toEqual(before)
  })
})

describe('body size', () => {
  const big = (bytes: number) => {
    const prefix = '{"name":"Big","pad":"'
    return `${prefix}${'x'.repeat(bytes - prefix.length - 2)}"}`
  }

  it('answers 413 for a body over 1 MiB on every endpoint', async () => {
    for (const { method, path, auth } of bodyEndpoints()) {
      const response = await api(method, path, {
        token: auth ? alice : undefined,
        body: big(MIB + 1),
      })
      expect(response.status, `${method} ${path}`).toBe(413)
      expect(response.json).toMatchObject({ code: 'too_large' })
    }
  })

  it('accepts a body of exactly 1 MiB', async () => {
    const body = big(MIB)
    expect(Buffer.byteLength(body)).toBe(MIB)
    const response = await api('POST', '/api/organizations/', { token: alice, body })
    expect(response.status).toBe(201)
  })

  it('answers 413 for a chunked body over 1 MiB sent without Content-Length', async () => {
    const chunk = new TextEncoder().encode('x'.repeat(64 * 1024))
    let sent = 0
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"name":"Big","pad":"'))
      },
      pull(controller) {
        // Two MiB in all, unless the server stops reading first.
        if (sent >= 2 * MIB) {
          controller.enqueue(new TextEncoder().encode('"}'))
          controller.close()
          return
        }
        sent += chunk.byteLength
        controller.enqueue(chunk)
      },
    })
    const response = await fetch(`${h.url}/api/organizations/`, {
      method: 'POST',
      headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/json' },
      body: stream,
      duplex: 'half',
    } as RequestInit)
    const answered = await record('POST', '/api/organizations/', response)
    expect(answered.status).toBe(413)
    expect(answered.json).toMatchObject({ code: 'too_large' })
    // The server stopped reading long before the client's 2 MiB were all sent... or at least
    // answered without storing anything.
    const list = await api('GET', '/api/organizations/?search=big', { token: alice })
    expect(list.json).toEqual([])
  })

  it('accepts a small chunked body without Content-Length', async () => {
    const response = await fetch(`${h.url}/api/organizations/`, {
      method: 'POST',
      headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/json' },
      body: new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('{"name":'))
          controller.enqueue(new TextEncoder().encode('"Chunked"}'))
          controller.close()
        },
      }),
      duplex: 'half',
    } as RequestInit)
    const answered = await record('POST', '/api/organizations/', response)
    expect(answered.status).toBe(201)
    expect(answered.json.name).toBe('Chunked')
  })

  it('answers 413 at once for a Content-Length over 1 MiB, before the body arrives', async () => {
    const url = new URL(h.url)
    const status = await new Promise<number>((resolve, reject) => {
      const socket = connect(Number(url.port), url.hostname)
      let received = ''
      socket.setEncoding('utf8')
      socket.on('data', (chunk: string) => {
        received += chunk
        const match = /^HTTP\/1\.1 (\d{3})/.exec(received)
        if (match) {
          resolve(Number(match[1]))
          socket.destroy()
        }
      })
      socket.on('error', reject)
      // Claims 2 MiB, sends 10 bytes, and waits: an answer can only come from the header.
      socket.write(
        'POST /api/organizations/ HTTP/1.1\r\n' +
          `Host: ${url.host}\r\n` +
          `Authorization: Bearer ${alice}\r\n` +
          'Content-Type: application/json\r\n' +
          `Content-Length: ${2 * MIB}\r\n\r\n` +
          '{"name":"x',
      )
      setTimeout(() => reject(new Error('no answer within 5 s')), 5000).unref()
    })
    recordStatus('POST', '/api/organizations/', status)
    expect(status).toBe(413)
  })

  it('answers 413 for an over-long body whose Content-Length understates it', async () => {
    // Node reads exactly Content-Length bytes: a body that claims 100 but is 2 MiB is 100
    // bytes of malformed JSON to the server, and the rest is not a request.
    const url = new URL(h.url)
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(
        {
          host: url.hostname,
          port: url.port,
          method: 'POST',
          path: '/api/organizations/',
          headers: {
            authorization: `Bearer ${alice}`,
            'content-type': 'application/json',
            'content-length': '100',
          },
        },
        (res) => {
          res.resume()
          resolve(res.statusCode ?? 0)
        },
      )
      req.on('error', reject)
      // http.request refuses to send more than it declared; the first 100 bytes go out.
      req.end(big(2 * MIB).slice(0, 100))
    })
    recordStatus('POST', '/api/organizations/', status)
    expect(status).toBe(400)
  })
})

describe('requests the HTTP parser refuses', () => {
  /** Sends raw bytes and resolves to everything the server sent back before closing. */
  const raw = (text: string) =>
    new Promise<string>((resolve, reject) => {
      const url = new URL(h.url)
      const socket = connect(Number(url.port), url.hostname)
      let received = ''
      socket.setEncoding('utf8').on('data', (chunk: string) => (received += chunk))
      socket.on('close', () => resolve(received))
      socket.on('error', reject)
      socket.write(text)
      setTimeout(() => socket.end(), 2000).unref()
    })

  const parse = (answer: string) => {
    const [head, body] = answer.split('\r\n\r\n')
    return {
      status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head ?? '')?.[1]),
      type: /content-type: ([^\r]+)/i.exec(head ?? '')?.[1],
      json: JSON.parse(body ?? '') as Record<string, unknown>,
    }
  }

  it('answers a malformed request line or Content-Length with 400 JSON', async () => {
    for (const text of [
      'GARBAGE\r\n\r\n',
      'GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n',
      'POST /api/token/ HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n' +
        'Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    ]) {
      const answer = parse(await raw(text))
      expect(answer.status, text).toBe(400)
      expect(answer.type).toMatch(/^application\/json/)
      expect(answer.json).toEqual({ detail: expect.any(String), code: 'bad_request' })
    }
  })

  it('answers headers over 16 KiB with 431 JSON', async () => {
    const response = await fetch(`${h.url}/api/organizations/?search=${'a'.repeat(20_000)}`, {
      headers: { authorization: `Bearer ${alice}` },
    })
    expect(response.status).toBe(431)
    expect(response.headers.get('content-type')).toMatch(/^application\/json/)
    expect(await response.json()).toMatchObject({ code: 'headers_too_large' })
  })
})

describe('ids in paths', () => {
  it('answers 404 for organization ids that are not UUIDs, on every organization route', async () => {
    for (const ref of ['Acme', 'x', '1', `${acme}0`, encodeURIComponent('../../etc')]) {
      const paths: [string, string][] = [
        ['GET', `/api/organizations/${ref}/`],
        ['PUT', `/api/organizations/${ref}/`],
        ['PATCH', `/api/organizations/${ref}/`],
        ['DELETE', `/api/organizations/${ref}/`],
        ['GET', `/api/organizations/${ref}/members/`],
        ['POST', `/api/organizations/${ref}/members/`],
        ['PATCH', `/api/organizations/${ref}/members/carol/`],
        ['DELETE', `/api/organizations/${ref}/members/carol/`],
      ]
      for (const [method, path] of paths) {
        const response = await api(method, path, {
          token: alice,
          body:
            method === 'POST' || method === 'PUT' || method === 'PATCH' ? { name: 'x' } : undefined,
        })
        expect(response.status, `${method} ${path}`).toBe(404)
        expect(response.json).toMatchObject({ code: 'not_found' })
      }
    }
  })

  it('answers 404 for price ids that are not positive integers', async () => {
    for (const ref of ['x', '1.0', '-1', '0', '1e2', '0x1', '1_000', '18446744073709551616']) {
      const response = await api('GET', `/api/crypto-prices/${encodeURIComponent(ref)}/`, {
        token: alice,
      })
      expect(response.status, ref).toBe(404)
    }
  })

  it('answers 404 JSON for unknown paths', async () => {
    for (const path of ['/api/', '/api/nothing/', '/api/organizations/x/y/z/', '/', '/admin/']) {
      const response = await api('GET', path, { token: alice })
      expect(response.status, path).toBe(404)
      expect(response.headers.get('content-type')).toMatch(/^application\/json/)
      expect(response.json).toEqual({ detail: expect.any(String), code: 'not_found' })
    }
  })
})

describe('query parameters', () => {
  it('answers 400 naming the parameter for bad list values', async () => {
    const cases: [string, string][] = [
      ['limit=0', 'limit'],
      ['limit=1001', 'limit'],
      ['limit=abc', 'limit'],
      ['limit=1.5', 'limit'],
      ['limit=', 'limit'],
      ['limit=-1', 'limit'],
      ['offset=-1', 'offset'],
      ['offset=x', 'offset'],
      ['offset=1000001', 'offset'],
      ['offset=10000000000', 'offset'],
      ['since=yesterday', 'since'],
      ['until=not-a-date', 'until'],
      ['since=2024-13-45T00:00:00Z', 'since'],
      ['org_id=x', 'org_id'],
      ['org_id=', 'org_id'],
      ['symbol=B%20T%20C', 'symbol'],
      ['symbol=', 'symbol'],
      ['since=2024-09-18T00:00:00Z&until=2024-09-17T00:00:00Z', 'since'],
    ]
    const before = await dumpTables(h.path)
    for (const [query, field] of cases) {
      const response = await api('GET', `/api/crypto-prices/?${query}`, { token: alice })
      expect(response.status, query).toBe(400)
      expect(Object.keys(response.json), query).toEqual([field])
    }
    expect(await dumpTables(h.path)).toEqual(before)
  })

  it('answers 400 naming org_id for a missing or malformed org_id on latest', async () => {
    for (const query of ['', '?', '?org_id=', '?org_id=x', '?org_id=Acme', '?org_id=%20']) {
      const response = await api('GET', `/api/crypto-prices/latest/${query}`, { token: alice })
      expect(response.status, query).toBe(400)
      expect(Object.keys(response.json)).toEqual(['org_id'])
    }
  })

  it('answers 404 on latest for an organization the caller cannot see', async () => {
    const globex = (await h.as['bob']!.orgs.list())[0]!.id
    for (const id of [globex, MISSING_ID]) {
      const response = await api('GET', `/api/crypto-prices/latest/?org_id=${id}`, {
        token: alice,
      })
      expect(response.status).toBe(404)
    }
  })

  it('accepts ISO dates with offsets and plain dates for since and until', async () => {
    for (const since of ['2024-09-17T00:00:00Z', '2024-09-17T02:00:00+02:00', '2024-09-17']) {
      const response = await api('GET', `/api/crypto-prices/?since=${encodeURIComponent(since)}`, {
        token: alice,
      })
      expect(response.status, since).toBe(200)
      expect(response.json.count).toBe(1)
    }
  })
})

describe('the Authorization header', () => {
  it('accepts a lower-case scheme and answers 401 for malformed headers', async () => {
    const ok = await api('GET', '/api/organizations/', {
      headers: { authorization: `bearer ${alice}` },
    })
    expect(ok.status).toBe(200)
    for (const header of ['Bearer', 'Bearer ', `Bearer ${alice} extra`, `Token ${alice}`, alice]) {
      const response = await api('GET', '/api/organizations/', {
        headers: { authorization: header },
      })
      expect(response.status, header).toBe(401)
      expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/)
      expect(response.text).not.toContain(alice)
    }
  })
})

describe('unexpected errors', () => {
  it('answers 500 {detail} without internals and logs the error with a request id', async () => {
    // Break our own database behind the server's back.
    await alterBehindTheBack(h.path, 'alter table crypto_prices rename to crypto_prices_moved')

    const response = await api('GET', '/api/crypto-prices/', { token: alice, allow5xx: true })
    expect(response.status).toBe(500)
    expect(response.headers.get('content-type')).toMatch(/^application\/json/)
    expect(response.json).toEqual({ detail: 'internal server error', code: 'error' })
    expect(response.text).not.toMatch(/crypto_prices|sqlite|postgres|no such table|\/tmp|at /i)

    const errors = h.logger.events.filter((e) => e.level === 'error')
    expect(errors).toHaveLength(1)
    expect(errors[0]!.fields).toMatchObject({ request_id: expect.any(String) })
    expect(JSON.stringify(errors[0])).toMatch(MISSING_TABLE('crypto_prices'))
    // The access line of the same request carries the same request id.
    const access = h.logger.events.find((e) => e.level === 'info' && e.fields?.['status'] === 500)
    expect(access?.fields?.['request_id']).toBe(errors[0]!.fields?.['request_id'])
  })

  it('answers 500 JSON once the database is closed, and /readyz 503', async () => {
    await h.c.close()
    const response = await api('GET', '/api/organizations/', { token: alice, allow5xx: true })
    expect(response.status).toBe(500)
    expect(response.json).toEqual({ detail: 'internal server error', code: 'error' })
    const ready = await api('GET', '/readyz')
    expect(ready.status).toBe(503)
    expect(ready.json).toMatchObject({ database: 'unreachable' })
  })
})
