// What operators poll (src/server/routes/ops.ts and src/server/metrics.ts): /healthz, /readyz
// with and without a tick age limit, /metrics with request counters by route pattern, the
// latency histogram and the daemon's figures, and the schema endpoint's basics.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'

import { type Cryptorg, open } from '../../src/index.js'
import type { Sleep } from '../../src/deps.js'
import { startServer } from '../../src/server/index.js'
import { type MockCoinGecko, startMockCoinGecko } from '../helpers/mock-coingecko.js'
import {
  type Harness,
  START,
  api,
  checkObservedStatuses,
  seedOrgs,
  startHarness,
} from './support.js'

checkObservedStatuses()

let h: Harness

afterEach(async () => {
  await h.close()
})

/** Runs the poller loop in a second instance on the same file until its first sleep. */
async function runOneTick(mock: MockCoinGecko): Promise<void> {
  const controller = new AbortController()
  const sleep: Sleep = async () => {
    controller.abort()
  }
  const daemon: Cryptorg = await open({
    databasePath: h.path,
    clock: h.clock,
    sleep,
    random: () => 0,
    daemonId: 'ops-test',
    coingecko: { baseUrl: mock.url },
  })
  try {
    await daemon.poller.run({ intervalMs: 60_000, signal: controller.signal })
  } finally {
    await daemon.close()
  }
}

describe('/healthz', () => {
  beforeEach(async () => {
    h = await startHarness({ users: false })
  })

  it('answers 200 {status: ok} without authentication, with and without a slash', async () => {
    for (const path of ['/healthz', '/healthz/']) {
      const response = await api('GET', path)
      expect(response.status).toBe(200)
      expect(response.json).toEqual({ status: 'ok' })
    }
  })
})

describe('/readyz', () => {
  it('answers 200 with the database ok when no daemon runs here, ticks or not', async () => {
    h = await startHarness({ users: false })
    const response = await api('GET', '/readyz')
    expect(response.status).toBe(200)
    expect(response.json).toEqual({
      status: 'ready',
      database: 'ok',
      last_tick_at: null,
      last_tick_age_seconds: null,
    })
    expect((await api('GET', '/readyz/')).status).toBe(200)
  })

  it('with a tick age limit: 503 before the first tick, 200 after it, 503 once it is stale', async () => {
    h = await startHarness({ server: { readyTickAgeMs: 10 * 60_000 } })
    await seedOrgs(h)
    const before = await api('GET', '/readyz')
    expect(before.status).toBe(503)
    expect(before.json).toMatchObject({ status: 'stale', database: 'ok', last_tick_at: null })

    const mock = await startMockCoinGecko()
    try {
      await runOneTick(mock)
    } finally {
      await mock.close()
    }
    const after = await api('GET', '/readyz')
    expect(after.status).toBe(200)
    expect(after.json).toEqual({
      status: 'ready',
      database: 'ok',
      last_tick_at: expect.stringMatching(/^2024-09-17T12:00:/),
      last_tick_age_seconds: expect.any(Number),
    })

    h.clock.advance(11 * 60_000)
    const stale = await api('GET', '/readyz')
    expect(stale.status).toBe(503)
    expect(stale.json).toMatchObject({ status: 'stale', database: 'ok' })
    expect(stale.json.last_tick_age_seconds).toBeGreaterThanOrEqual(660)

    // The metrics show the tick.
    const metrics = (await api('GET', '/metrics')).text
    expect(metrics).toMatch(/^cryptorg_daemon_ticks_recorded\{outcome="ok"\} 1$/m)
    expect(metrics).toMatch(/^cryptorg_daemon_ticks_recorded\{outcome="failed"\} 0$/m)
    const last = /^cryptorg_daemon_last_success_timestamp_seconds (\S+)$/m.exec(metrics)
    expect(Number(last?.[1])).toBeGreaterThanOrEqual(Date.parse(START) / 1000)
  })
})

describe('/metrics', () => {
  let ids: { acme: string; price: number }

  beforeEach(async () => {
    h = await startHarness()
    const seeded = await seedOrgs(h)
    ids = { acme: seeded.acme.id, price: seeded.acmePrice }
  })

  const scrape = async () => {
    const response = await api('GET', '/metrics')
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
    return response.text
  }

  const counter = (text: string, route: string, method: string, status: number) => {
    const line = text
      .split('\n')
      .find((l) =>
        l.startsWith(
          `cryptorg_http_requests_total{route="${route}",method="${method}",status="${status}"} `,
        ),
      )
    return line === undefined ? 0 : Number(line.split(' ').pop())
  }

  it('counts requests by route pattern, method and status, never by raw id', async () => {
    const alice = h.tokens['alice']
    await api('GET', `/api/organizations/${ids.acme}/`, { token: alice })
    await api('GET', `/api/organizations/${ids.acme}`, { token: alice })
    await api('GET', `/api/organizations/${ids.acme}/members/`, { token: alice })
    await api('GET', `/api/crypto-prices/${ids.price}/`, { token: alice })
    await api('GET', '/api/crypto-prices/999999/', { token: alice })
    await api('GET', `/api/crypto-prices/latest/?org_id=${ids.acme}`, { token: alice })
    await api('GET', '/api/organizations/')
    await api('DELETE', '/api/token/')
    await api('GET', `/no/such/path/${ids.acme}`)

    const text = await scrape()
    expect(counter(text, '/api/organizations/:id', 'GET', 200)).toBe(2)
    expect(counter(text, '/api/organizations/:id/members', 'GET', 200)).toBe(1)
    expect(counter(text, '/api/crypto-prices/:id', 'GET', 200)).toBe(1)
    expect(counter(text, '/api/crypto-prices/:id', 'GET', 404)).toBe(1)
    expect(counter(text, '/api/crypto-prices/latest', 'GET', 200)).toBe(1)
    expect(counter(text, '/api/organizations', 'GET', 401)).toBe(1)
    expect(counter(text, '/api/token', 'DELETE', 405)).toBe(1)
    expect(counter(text, 'unmatched', 'GET', 404)).toBe(1)

    // No id, number or path of a request ends up in a label.
    const labels = [...text.matchAll(/\{[^}]*\}/g)].map((m) => m[0]).join('\n')
    expect(labels).not.toContain(ids.acme)
    expect(labels).not.toContain('999999')
    expect(labels).not.toContain('/no/such/path')
    for (const match of text.matchAll(/route="([^"]*)"/g)) {
      const route = match[1] as string
      expect(
        route === 'unmatched' || /^\/(api\/[a-z/:-]*|healthz|readyz|metrics)$/.test(route),
        route,
      ).toBe(true)
    }
  })

  it('has a latency histogram per route with cumulative buckets, +Inf, sum and count', async () => {
    for (let i = 0; i < 3; i++) await api('GET', '/healthz')
    const text = await scrape()
    expect(text).toContain('# TYPE cryptorg_http_requests_total counter')
    expect(text).toContain('# TYPE cryptorg_http_request_duration_seconds histogram')
    const buckets = [
      ...text.matchAll(
        /^cryptorg_http_request_duration_seconds_bucket\{route="\/healthz",le="([^"]+)"\} (\d+)$/gm,
      ),
    ].map((m) => [m[1], Number(m[2])] as const)
    expect(buckets.length).toBeGreaterThan(5)
    expect(buckets.at(-1)).toEqual(['+Inf', 3])
    for (let i = 1; i < buckets.length; i++) {
      expect(buckets[i]![1]).toBeGreaterThanOrEqual(buckets[i - 1]![1])
    }
    expect(text).toMatch(/^cryptorg_http_request_duration_seconds_count\{route="\/healthz"\} 3$/m)
    expect(text).toMatch(
      /^cryptorg_http_request_duration_seconds_sum\{route="\/healthz"\} [\d.e-]+$/m,
    )
  })

  it('reports the daemon figures even when no tick ran', async () => {
    const text = await scrape()
    expect(text).toMatch(/^cryptorg_daemon_last_success_timestamp_seconds 0$/m)
    expect(text).toMatch(/^cryptorg_daemon_ticks_recorded\{outcome="ok"\} 0$/m)
  })

  it('is valid Prometheus text: HELP and TYPE before samples, one sample per line', async () => {
    await api('GET', '/healthz')
    const text = await scrape()
    expect(text.endsWith('\n')).toBe(true)
    const seenType = new Set<string>()
    for (const line of text.trimEnd().split('\n')) {
      if (line.startsWith('# TYPE ')) {
        seenType.add(line.split(' ')[2] as string)
        continue
      }
      if (line.startsWith('#')) continue
      expect(line).toMatch(/^[a-z_]+(\{[^}]*\})? [-+\d.eE]+$/)
      const name = line.replace(/[{ ].*$/, '').replace(/_(bucket|sum|count)$/, '')
      expect(seenType.has(name) || seenType.has(line.replace(/[{ ].*$/, '')), line).toBe(true)
    }
  })

  it('needs no authentication, nor does /api/schema/', async () => {
    expect((await api('GET', '/metrics/')).status).toBe(200)
    const schema = await api('GET', '/api/schema/')
    expect(schema.status).toBe(200)
    expect(schema.json.openapi).toBe('3.1.0')
    expect((await api('GET', '/api/schema')).status).toBe(200)
  })
})

describe('startServer', () => {
  beforeEach(async () => {
    h = await startHarness({ users: false })
  })

  it('reports a port in use as a one-line ERR_USAGE error', async () => {
    const port = Number(new URL(h.url).port)
    await expect(startServer(h.c, { host: '127.0.0.1', port })).rejects.toMatchObject({
      code: 'ERR_USAGE',
      message: `127.0.0.1:${port} is already in use`,
    })
  })

  it('reports the bound port and url for port 0', async () => {
    expect(h.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(h.server.port).toBe(Number(new URL(h.url).port))
    expect(h.server.port).toBeGreaterThan(0)
  })

  it('close() waits for a request in flight, and refuses new connections', async () => {
    const url = new URL(h.url)
    const { connect } = await import('node:net')
    const socket = connect(Number(url.port), url.hostname)
    await new Promise((resolve) => socket.once('connect', resolve))
    let received = ''
    socket.setEncoding('utf8').on('data', (chunk: string) => (received += chunk))
    // The answer may still be in the client's buffers when close() resolves on a busy machine.
    const ended = new Promise((resolve) => socket.once('end', resolve))
    const body = '{"name":"Late"}'
    // Headers and half the body: the request is in flight.
    socket.write(
      `POST /api/token/ HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${body.length}\r\n\r\n${body.slice(0, 5)}`,
    )
    await new Promise((resolve) => setTimeout(resolve, 100))
    let closed = false
    const closing = h.server.close().then(() => (closed = true))
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(closed).toBe(false)
    await expect(fetch(`${h.url}/healthz`)).rejects.toThrow()
    socket.write(body.slice(5))
    const answeredAt = Date.now()
    await closing
    // The connection is closed once its answer is out, not kept alive for 5 s.
    expect(Date.now() - answeredAt).toBeLessThan(1000)
    await ended
    expect(received).toMatch(/^HTTP\/1\.1 400 /)
    socket.destroy()
  })
})
