// The route table and the OpenAPI document (src/server/openapi.ts) against what the server
// really does: every documented path and method exists, with and without the trailing slash;
// every other method answers 405 with an Allow header; GET /api/schema/ is OpenAPI 3.1 with
// every route, and the answers the server gives match the schemas it documents.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'

import { ROUTES } from '../../src/server/openapi.js'
import {
  type ApiResponse,
  type Harness,
  MISSING_ID,
  api,
  checkObservedStatuses,
  seedOrgs,
  startHarness,
  templateOf,
} from './support.js'

checkObservedStatuses()

type Schema = Record<string, unknown>

let h: Harness

beforeEach(async () => {
  h = await startHarness()
})

afterEach(async () => {
  await h.close()
})

const ALL_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']

/** A fresh organization of alice's, with carol as a member and one price. */
async function fixture(name: string) {
  const alice = h.as['alice']!
  const org = await alice.orgs.create(name)
  await alice.members.add(org.id, 'carol', 'member')
  const price = await alice.prices.add({ org: org.id, symbol: 'BTC', price: '45000' })
  return { org: org.id, price: price.id }
}

/** A concrete request for one documented operation that should succeed. */
async function validRequest(template: string, method: string, n: number) {
  const { org, price } = await fixture(`Org ${n}`)
  const path = template
    .replace('{id}', template.startsWith('/api/crypto-prices') ? String(price) : org)
    .replace('{username}', 'carol')
  const login = await h.c.auth.login('bob', 'bob password')
  const bodies: Record<string, unknown> = {
    'POST /api/token/': { username: 'bob', password: 'bob password' },
    'POST /api/token/refresh/': { refresh: login.refresh },
    'POST /api/token/verify/': { token: login.access },
    'POST /api/token/blacklist/': { refresh: login.refresh },
    'POST /api/organizations/': { name: `New ${n}` },
    'PUT /api/organizations/{id}/': { name: `Renamed ${n}` },
    'PATCH /api/organizations/{id}/': { name: `Patched ${n}` },
    'POST /api/organizations/{id}/members/': { username: 'dave' },
    'PATCH /api/organizations/{id}/members/{username}/': { role: 'viewer' },
    'POST /api/crypto-prices/': { org_id: org, symbol: 'ETH', price: '2500' },
    'PUT /api/crypto-prices/{id}/': { org_id: org, symbol: 'ETH', price: '2500' },
    'PATCH /api/crypto-prices/{id}/': { price: '2600' },
  }
  const query = template === '/api/crypto-prices/latest/' ? `?org_id=${org}` : ''
  return { path, query, body: bodies[`${method} ${template}`] }
}

describe('ROUTES', () => {
  it('every documented path and method answers a documented success, with or without the slash', async () => {
    let n = 0
    for (const [template, operations] of Object.entries(ROUTES)) {
      for (const [method, operation] of Object.entries(operations)) {
        for (const slash of [true, false]) {
          const { path, query, body } = await validRequest(template, method.toUpperCase(), n++)
          const target = slash ? path : path.replace(/\/$/, '')
          const response = await api(method.toUpperCase(), `${target}${query}`, {
            token: operation.auth ? h.tokens['alice'] : undefined,
            body,
          })
          const what = `${method.toUpperCase()} ${target}${query}`
          expect(response.status, `${what}: ${response.text}`).toBeLessThan(300)
          expect(operation.statuses, what).toContain(response.status)
        }
      }
    }
  })

  it('the documented operations of protected routes answer 401 without a token', async () => {
    for (const [template, operations] of Object.entries(ROUTES)) {
      for (const [method, operation] of Object.entries(operations)) {
        if (!operation.auth) continue
        const path = template.replace('{id}', MISSING_ID).replace('{username}', 'carol')
        const response = await api(method.toUpperCase(), path, {
          body: ['post', 'put', 'patch'].includes(method) ? {} : undefined,
        })
        expect(response.status, `${method} ${path}`).toBe(401)
        expect(operation.statuses).toContain(401)
      }
    }
  })

  it('every other method answers 405 with an Allow header naming the documented ones', async () => {
    const { org, price } = await fixture('Methods')
    for (const [template, operations] of Object.entries(ROUTES)) {
      const documented = Object.keys(operations).map((m) => m.toUpperCase())
      const expected = [...documented, ...(documented.includes('GET') ? ['HEAD'] : [])].sort()
      const path = template
        .replace('{id}', template.startsWith('/api/crypto-prices') ? String(price) : org)
        .replace('{username}', 'carol')
      for (const method of ALL_METHODS) {
        if (expected.includes(method)) continue
        for (const target of [path, path.length > 1 ? path.replace(/\/$/, '') : path]) {
          for (const token of [undefined, h.tokens['alice']]) {
            const response = await api(method, target, { token })
            const what = `${method} ${target} ${token ? 'signed in' : 'anonymous'}`
            expect(response.status, what).toBe(405)
            const allow = (response.headers.get('allow') ?? '').split(/,\s*/).sort()
            expect(allow, what).toEqual(expected)
            if (method !== 'HEAD') {
              expect(response.json, what).toMatchObject({ code: 'method_not_allowed' })
            }
          }
        }
      }
    }
  })

  it('HEAD on a GET route answers like GET, without a body', async () => {
    const response = await api('HEAD', '/api/organizations/', { token: h.tokens['alice'] })
    expect(response.status).toBe(200)
    expect(response.text).toBe('')
    expect((await api('HEAD', '/healthz')).status).toBe(200)
  })

  it('the recorder maps paths to ROUTES templates, literal ones first', () => {
    expect(templateOf('/api/crypto-prices/latest')).toBe('/api/crypto-prices/latest/')
    expect(templateOf('/api/crypto-prices/7/')).toBe('/api/crypto-prices/{id}/')
    expect(templateOf(`/api/organizations/${MISSING_ID}/members/x?y=1`)).toBe(
      '/api/organizations/{id}/members/{username}/',
    )
    expect(templateOf('/healthz')).toBe('/healthz')
    expect(templateOf('/api/organizations/a/b/c/d/')).toBeUndefined()
  })
})

describe('GET /api/schema/', () => {
  let doc: Schema

  beforeEach(async () => {
    const response = await api('GET', '/api/schema/')
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toMatch(/^application\/json/)
    doc = response.json
  })

  it('is OpenAPI 3.1.0 with info, a bearer scheme and every ROUTES path and method', () => {
    expect(doc['openapi']).toBe('3.1.0')
    expect(doc['info']).toMatchObject({ title: expect.any(String), version: expect.any(String) })
    expect(doc['components']).toMatchObject({
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
    })
    const paths = doc['paths'] as Record<string, Record<string, Schema>>
    expect(Object.keys(paths).sort()).toEqual(Object.keys(ROUTES).sort())
    for (const [path, operations] of Object.entries(ROUTES)) {
      const item = paths[path]!
      const methods = Object.keys(item).filter((k) => k !== 'parameters')
      expect(methods.sort(), path).toEqual(Object.keys(operations).sort())
      for (const [method, operation] of Object.entries(operations)) {
        const documented = item[method]!
        expect(
          Object.keys(documented['responses'] as Schema).map(Number),
          `${method} ${path}`,
        ).toEqual(operation.statuses)
        for (const response of Object.values(documented['responses'] as Record<string, Schema>)) {
          expect(response['description'], `${method} ${path}`).toEqual(expect.any(String))
        }
        // Public operations say so; the others inherit the bearer requirement.
        if (!operation.auth) expect(documented['security']).toEqual([])
        else expect(documented['security']).toBeUndefined()
      }
      const names = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1])
      const declared = ((item['parameters'] as Schema[] | undefined) ?? []).map((p) => p['name'])
      expect(declared, path).toEqual(names)
    }
    expect(doc['security']).toEqual([{ bearer: [] }])
  })

  it('has every $ref resolving to a component schema', () => {
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"([^"]+)"/g)].map((m) => m[1]!)
    expect(refs.length).toBeGreaterThan(10)
    for (const ref of refs) {
      expect(ref).toMatch(/^#\/components\/schemas\//)
      expect(resolve(doc, ref), ref).toBeDefined()
    }
  })

  it('describes the answers the server really gives', async () => {
    const alice = h.tokens['alice']
    const { acme, acmePrice } = await seedOrgs(h)
    const check = (template: string, method: string, status: number, response: ApiResponse) => {
      const paths = doc['paths'] as Record<string, Record<string, Schema>>
      const documented = (paths[template]![method]!['responses'] as Record<string, Schema>)[
        String(status)
      ]
      expect(documented, `${method} ${template} ${status}`).toBeDefined()
      const schema = (documented!['content'] as Record<string, Schema> | undefined)?.[
        'application/json'
      ]?.['schema'] as Schema | undefined
      if (schema) {
        expect(validate(doc, schema, response.json, 'body'), `${method} ${template}`).toEqual([])
      }
    }
    const tokens = await api('POST', '/api/token/', {
      body: { username: 'alice', password: 'alice password' },
    })
    check('/api/token/', 'post', 200, tokens)
    check(
      '/api/token/refresh/',
      'post',
      200,
      await api('POST', '/api/token/refresh/', { body: { refresh: tokens.json.refresh } }),
    )
    check(
      '/api/organizations/',
      'get',
      200,
      await api('GET', '/api/organizations/', { token: alice }),
    )
    check(
      '/api/organizations/',
      'post',
      201,
      await api('POST', '/api/organizations/', { token: alice, body: { name: 'Schema' } }),
    )
    check(
      '/api/organizations/{id}/',
      'get',
      200,
      await api('GET', `/api/organizations/${acme.id}/`, { token: alice }),
    )
    check(
      '/api/organizations/{id}/members/',
      'get',
      200,
      await api('GET', `/api/organizations/${acme.id}/members/`, { token: alice }),
    )
    check(
      '/api/organizations/{id}/members/',
      'post',
      201,
      await api('POST', `/api/organizations/${acme.id}/members/`, {
        token: alice,
        body: { username: 'frank', role: 'viewer' },
      }),
    )
    check(
      '/api/crypto-prices/',
      'post',
      201,
      await api('POST', '/api/crypto-prices/', {
        token: alice,
        body: { org_id: acme.id, symbol: 'ETH', price: 0.1 },
      }),
    )
    check(
      '/api/crypto-prices/',
      'get',
      200,
      await api('GET', '/api/crypto-prices/?limit=1', { token: alice }),
    )
    check(
      '/api/crypto-prices/latest/',
      'get',
      200,
      await api('GET', `/api/crypto-prices/latest/?org_id=${acme.id}`, { token: alice }),
    )
    check(
      '/api/crypto-prices/{id}/',
      'get',
      200,
      await api('GET', `/api/crypto-prices/${acmePrice}/`, { token: alice }),
    )
    // Errors are `{detail, code}`.
    check(
      '/api/crypto-prices/{id}/',
      'get',
      404,
      await api('GET', '/api/crypto-prices/9999/', { token: alice }),
    )
    check('/api/organizations/', 'get', 401, await api('GET', '/api/organizations/'))
  })

  it('documents the query parameters the list endpoints take, with their bounds', () => {
    const paths = doc['paths'] as Record<string, Record<string, Schema>>
    const params = (paths['/api/crypto-prices/']!['get']!['parameters'] as Schema[]).map(
      (p) => [p['name'], p['in'], p['schema']] as const,
    )
    expect(params.map(([name]) => name).sort()).toEqual(
      ['limit', 'offset', 'org_id', 'since', 'symbol', 'until'].sort(),
    )
    expect(params.find(([name]) => name === 'limit')?.[2]).toMatchObject({
      minimum: 1,
      maximum: 1000,
      default: 100,
    })
    expect(params.find(([name]) => name === 'offset')?.[2]).toMatchObject({
      minimum: 0,
      maximum: 1_000_000,
    })
    const latest = paths['/api/crypto-prices/latest/']!['get']!['parameters'] as Schema[]
    expect(latest).toEqual([expect.objectContaining({ name: 'org_id', required: true })])
    const orgs = paths['/api/organizations/']!['get']!['parameters'] as Schema[]
    expect(orgs.map((p) => p['name']).sort()).toEqual(['ordering', 'search'])
  })

  it('lets the documented price input accept what the server accepts: strings and numbers', () => {
    const input = resolve(doc, '#/components/schemas/PriceInput') as Schema
    const price = (input['properties'] as Record<string, Schema>)['price']!
    // The server takes 45000.5 as a JSON number (at most 15 significant digits).
    expect(validate(doc, price, 45000.5, 'price')).toEqual([])
    expect(validate(doc, price, '45000.5', 'price')).toEqual([])
  })
})

// ---------------------------------------------------------------------------------------------
// A small JSON Schema checker: enough of 2020-12 for the document above.

function resolve(doc: Schema, ref: string): unknown {
  return ref
    .replace(/^#\//, '')
    .split('/')
    .reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], doc)
}

function validate(doc: Schema, schema: Schema, value: unknown, at: string): string[] {
  if (typeof schema['$ref'] === 'string') {
    return validate(doc, resolve(doc, schema['$ref']) as Schema, value, at)
  }
  const errors: string[] = []
  const types = schema['type'] === undefined ? [] : [schema['type']].flat()
  const typeOf = (v: unknown) =>
    v === null
      ? 'null'
      : Array.isArray(v)
        ? 'array'
        : Number.isInteger(v)
          ? 'integer'
          : typeof v === 'number'
            ? 'number'
            : typeof v
  const actual = typeOf(value)
  if (
    types.length > 0 &&
    !types.includes(actual) &&
    !(actual === 'integer' && types.includes('number'))
  ) {
    return [`${at}: ${actual} is not ${types.join(' or ')}`]
  }
  if (Array.isArray(schema['enum']) && !schema['enum'].includes(value)) {
    errors.push(`${at}: ${JSON.stringify(value)} is not one of ${schema['enum'].join(', ')}`)
  }
  if (typeof value === 'string') {
    if (typeof schema['pattern'] === 'string' && !new RegExp(schema['pattern']).test(value)) {
      errors.push(`${at}: ${JSON.stringify(value)} does not match ${schema['pattern']}`)
    }
    if (schema['format'] === 'uuid' && !/^[0-9a-f-]{36}$/.test(value)) {
      errors.push(`${at}: not a uuid`)
    }
    if (schema['format'] === 'date-time' && Number.isNaN(Date.parse(value))) {
      errors.push(`${at}: not a date-time`)
    }
  }
  if (actual === 'array' && schema['items']) {
    ;(value as unknown[]).forEach((item, i) =>
      errors.push(...validate(doc, schema['items'] as Schema, item, `${at}[${i}]`)),
    )
  }
  if (actual === 'object') {
    const object = value as Record<string, unknown>
    for (const key of (schema['required'] as string[] | undefined) ?? []) {
      if (!(key in object)) errors.push(`${at}.${key}: required`)
    }
    for (const [key, sub] of Object.entries(
      (schema['properties'] as Record<string, Schema> | undefined) ?? {},
    )) {
      if (key in object) errors.push(...validate(doc, sub, object[key], `${at}.${key}`))
    }
  }
  return errors
}
