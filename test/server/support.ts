/**
 * Shared set-up of the REST API tests: a real server on 127.0.0.1 (port 0) over a temporary
 * database file, users signed in through the library, and `api()`, a fetch wrapper that
 * records every answer so that each test file can check, once all its tests ran, that every
 * status it saw is one src/server/openapi.ts documents for that route and that nothing
 * answered 5xx unless the test asked for it.
 */
import { join } from 'node:path'

import { afterAll, expect } from 'vitest'

import { type Cryptorg, type Organization, type Workspace } from '../../src/index.js'
import { type RunningServer, type ServerOptions, startServer } from '../../src/server/index.js'
import { ROUTES } from '../../src/server/openapi.js'
import { FAST_HASHING } from '../helpers/cli.js'
import { type FakeClock, fakeClock } from '../helpers/fake-clock.js'
import { openTestDb, tempDir } from '../helpers/open-test-db.js'
import { type RecordingLogger, recordingLogger } from '../helpers/recording-logger.js'

export const START = '2024-09-17T12:00:00.000Z'
/** A well-formed UUID that names no organization. */
export const MISSING_ID = '9f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f'
export const PASSWORDS: Record<string, string> = {
  admin: 'admin password',
  alice: 'alice password',
  bob: 'bob password',
  carol: 'carol password',
  dave: 'dave password',
  frank: 'frank password',
}

// ---------------------------------------------------------------------------------------------
// Recording every answer

export interface Observation {
  method: string
  path: string
  status: number
  /** Set by tests that provoke a 500 on purpose (a closed database). */
  allow5xx: boolean
}

export const observed: Observation[] = []

/** The ROUTES template a concrete path belongs to, or undefined for an unknown path. */
export function templateOf(path: string): string | undefined {
  const bare = path.split('?')[0] as string
  const withSlash = bare.endsWith('/') ? bare : `${bare}/`
  // Literal templates first, so that /api/crypto-prices/latest/ is not taken for {id}.
  const templates = Object.keys(ROUTES).sort(
    (a, b) => (a.match(/\{/g)?.length ?? 0) - (b.match(/\{/g)?.length ?? 0),
  )
  for (const template of templates) {
    const pattern = new RegExp(
      `^${template
        .replace(/\/$/, '')
        .replace(/\{\w+\}/g, '[^/]+')
        .replace(/[.]/g, '\\.')}/$`,
    )
    if (pattern.test(withSlash)) return template
  }
  return undefined
}

/**
 * Registers the check run after the file's tests: every observed (template, method, status) is
 * documented, undocumented methods answered 405, unknown paths 404, and no 5xx slipped through.
 */
export function checkObservedStatuses(): void {
  afterAll(() => {
    const problems: string[] = []
    for (const o of observed) {
      const template = templateOf(o.path)
      if (template === undefined) {
        if (o.status !== 404) problems.push(`unknown path ${o.method} ${o.path} -> ${o.status}`)
        continue
      }
      const operations = ROUTES[template] as Record<string, { statuses: number[] }>
      const method = o.method === 'HEAD' ? 'get' : o.method.toLowerCase()
      const operation = operations[method]
      if (!operation) {
        if (o.status !== 405) problems.push(`undocumented ${o.method} ${o.path} -> ${o.status}`)
        continue
      }
      // 500 only where a test broke the database on purpose; 503 where documented (/readyz).
      const allowed = o.allow5xx ? [...operation.statuses, 500] : operation.statuses
      if (!allowed.includes(o.status)) {
        problems.push(`${o.method} ${template} -> ${o.status} (documented: ${allowed.join(', ')})`)
      }
    }
    expect(problems).toEqual([])
  })
}

// ---------------------------------------------------------------------------------------------
// Requests

export interface ApiOptions {
  token?: string
  /** Sent as JSON unless it is a string (sent as is). */
  body?: unknown
  headers?: Record<string, string>
  allow5xx?: boolean
}

export interface ApiResponse {
  status: number
  headers: Headers
  text: string
  /** The parsed JSON body; undefined when the body is empty. */
  json: any
}

let currentUrl = ''

/** Sends one request to the running server and records the answer. */
export async function api(
  method: string,
  path: string,
  options: ApiOptions = {},
): Promise<ApiResponse> {
  const headers: Record<string, string> = { ...options.headers }
  if (options.token !== undefined) headers['authorization'] = `Bearer ${options.token}`
  let body: string | undefined
  if (options.body !== undefined) {
    body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body)
    if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
      headers['content-type'] = 'application/json'
    }
  }
  const response = await fetch(`${currentUrl}${path}`, { method, headers, body })
  return record(method, path, response, options.allow5xx ?? false)
}

/** Records a response obtained some other way (a streamed body, a raw socket). */
export async function record(
  method: string,
  path: string,
  response: Response,
  allow5xx = false,
): Promise<ApiResponse> {
  const text = await response.text()
  observed.push({ method, path, status: response.status, allow5xx })
  let json: unknown
  if (text !== '') {
    try {
      json = JSON.parse(text)
    } catch {
      json = undefined
    }
  }
  return { status: response.status, headers: response.headers, text, json }
}

/** Records a status seen without a fetch Response (raw socket tests). */
export function recordStatus(method: string, path: string, status: number): void {
  observed.push({ method, path, status, allow5xx: false })
}

// ---------------------------------------------------------------------------------------------
// A server with users

export interface Harness {
  c: Cryptorg
  server: RunningServer
  url: string
  clock: FakeClock
  logger: RecordingLogger
  path: string
  /** Access tokens by username (admin, alice, bob, carol, dave, frank). */
  tokens: Record<string, string>
  as: Record<string, Workspace>
  close(): Promise<void>
}

export interface HarnessOptions {
  server?: Partial<ServerOptions>
  /** Creates the users (and signs them in). @default true */
  users?: boolean
  databasePath?: ':memory:'
}

/**
 * Opens a database in a temporary directory (or in memory), creates admin (an administrator),
 * alice, bob, carol, dave and frank, signs each in, and starts the server on 127.0.0.1:0.
 */
export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const dir = tempDir('cryptorg-server-')
  const path = options.databasePath ?? join(dir.path, 'server.db')
  const clock = fakeClock(START)
  const c = await openTestDb({ databasePath: path, passwordHashing: FAST_HASHING, clock })
  const tokens: Record<string, string> = {}
  const as: Record<string, Workspace> = {}
  if (options.users ?? true) {
    await c.auth.bootstrap({ username: 'admin', password: PASSWORDS['admin'] as string })
    const admin = c.as(await c.auth.actorFor('admin'))
    for (const name of ['alice', 'bob', 'carol', 'dave', 'frank']) {
      await admin.users.create({ username: name, password: PASSWORDS[name] as string })
    }
    for (const name of Object.keys(PASSWORDS)) {
      tokens[name] = (await c.auth.login(name, PASSWORDS[name] as string)).access
      as[name] = c.as(await c.auth.actorFor(name))
    }
  }
  const logger = recordingLogger()
  const server = await startServer(c, {
    host: '127.0.0.1',
    port: 0,
    logger,
    clock,
    ...options.server,
  })
  currentUrl = server.url
  return {
    c,
    server,
    url: server.url,
    clock,
    logger,
    path,
    tokens,
    as,
    async close() {
      await server.close()
      await c.close()
      dir.remove()
    },
  }
}

/**
 * alice owns Acme (carol viewer, dave member); bob owns Globex. Each has one price: BTC in Acme,
 * ETH in Globex.
 */
export async function seedOrgs(h: Harness): Promise<{
  acme: Organization
  globex: Organization
  acmePrice: number
  globexPrice: number
}> {
  const alice = h.as['alice'] as Workspace
  const bob = h.as['bob'] as Workspace
  const acme = await alice.orgs.create('Acme')
  await alice.members.add(acme.id, 'carol', 'viewer')
  await alice.members.add(acme.id, 'dave', 'member')
  const globex = await bob.orgs.create('Globex')
  const acmePrice = (await alice.prices.add({ org: acme.id, symbol: 'BTC', price: '45000' })).id
  const globexPrice = (await bob.prices.add({ org: globex.id, symbol: 'ETH', price: '2500' })).id
  return { acme, globex, acmePrice, globexPrice }
}

/** Checks the 401 shape DRF and SimpleJWT clients expect. */
export function expect401(response: ApiResponse, code?: string): void {
  expect(response.status).toBe(401)
  expect(response.headers.get('www-authenticate')).toMatch(/^Bearer\b/)
  expect(response.json).toMatchObject({
    detail: expect.any(String),
    code: code ?? expect.any(String),
  })
}

export const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
