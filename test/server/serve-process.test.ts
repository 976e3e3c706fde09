// `cryptorg serve` as users and systemd run it (src/cli/commands/serve.ts over startServer):
// the built binary in a child process on 127.0.0.1 with --port 0, a real database file, and a
// mock CoinGecko for --daemon. Covers the "listening on" line, SIGTERM with a request in
// flight, bad --port values and a port in use. Run `npm run build` first.
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { type Server, createServer } from 'node:net'
import { connect } from 'node:net'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'

import { open } from '../../src/index.js'
import { testLocation } from '../helpers/backend.js'
import { bootstrapAdmin } from '../helpers/admin.js'
import { type MockCoinGecko, startMockCoinGecko } from '../helpers/mock-coingecko.js'
import { type RunningProcess, assertBuilt, runBin, startBin, waitFor } from '../helpers/process.js'

let directory: string
let databasePath: string
/** What the child processes are given: the file, or its schema's URL on the postgres project. */
let databaseForChildren: string
let adminToken: string
let mock: MockCoinGecko
const started: RunningProcess[] = []

function environment(): NodeJS.ProcessEnv {
  return {
    PATH: process.env['PATH'],
    HOME: directory,
    CRYPTORG_DB: databaseForChildren,
    CRYPTORG_COINGECKO_URL: mock.url,
  }
}

/** Starts `cryptorg serve --port 0 ...` and waits for the url it prints. */
async function serve(...args: string[]): Promise<{ proc: RunningProcess; url: string }> {
  const proc = startBin(['serve', '--port', '0', ...args], environment())
  started.push(proc)
  let url: string | undefined
  await waitFor(() => {
    for (const line of proc.lines) {
      const match = /listening on (http:\/\/[^\s"]+)/.exec(line)
      if (match) url = match[1]
    }
    return url !== undefined || proc.child.exitCode !== null
  }, 15_000)
  if (url === undefined) throw new Error(`serve exited early:\n${proc.lines.join('\n')}`)
  return { proc, url }
}

/** Sends a raw HTTP/1.1 request, holding back the end of its body until `finish()`. */
function halfSentRequest(url: string, path: string, token: string, body: string) {
  const { hostname, port, host } = new URL(url)
  const socket = connect(Number(port), hostname)
  let received = ''
  socket.setEncoding('utf8').on('data', (chunk: string) => (received += chunk))
  const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  socket.on('error', () => {})
  socket.write(
    `POST ${path} HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${token}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n` +
      body.slice(0, 4),
  )
  return {
    finish: () => socket.write(body.slice(4)),
    response: () => received,
    ended,
    destroy: () => socket.destroy(),
  }
}

beforeAll(assertBuilt)

beforeEach(async () => {
  directory = mkdtempSync(join(tmpdir(), 'cryptorg-serve-'))
  databasePath = join(directory, 'cryptorg.db')
  databaseForChildren = await testLocation(databasePath)
  adminToken = await bootstrapAdmin(databasePath)
  mock = await startMockCoinGecko()
})

afterEach(async () => {
  for (const proc of started.splice(0)) {
    if (proc.child.exitCode === null && proc.child.signalCode === null) {
      proc.child.kill('SIGKILL')
      await proc.exited
    }
  }
  await mock.close()
  rmSync(directory, { recursive: true, force: true })
})

describe('cryptorg serve', () => {
  it('listens on 127.0.0.1 by default, prints the bound url, serves the API and logs requests', async () => {
    const { proc, url } = await serve()
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(Number(new URL(url).port)).not.toBe(8000)

    expect((await fetch(`${url}/healthz`)).status).toBe(200)
    const created = await fetch(`${url}/api/organizations/`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Acme' }),
    })
    expect(created.status).toBe(201)
    const orgs = await fetch(`${url}/api/organizations`, {
      headers: { authorization: `Bearer ${adminToken}` },
    })
    expect(((await orgs.json()) as { name: string }[]).map((o) => o.name)).toEqual(['Acme'])

    await waitFor(() => proc.lines.some((l) => l.includes('/api/organizations 200')), 5000)
    // JSON lines on a pipe; the token never appears.
    const access = proc.lines.map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(access).toContainEqual(
      expect.objectContaining({
        level: 'info',
        method: 'POST',
        path: '/api/organizations/',
        status: 201,
        user: 'admin',
      }),
    )
    expect(proc.lines.join('\n')).not.toContain(adminToken)

    proc.child.kill('SIGTERM')
    expect(await proc.exited).toEqual({ code: 0, signal: null })
  })

  it('on SIGTERM stops accepting, finishes the request in flight, closes the db and exits 0', async () => {
    const { proc, url } = await serve()
    const name = `In flight ${randomUUID().slice(0, 8)}`
    const request = halfSentRequest(
      url,
      '/api/organizations/',
      adminToken,
      JSON.stringify({ name }),
    )
    // Let the server take the request up before the signal.
    await new Promise((resolve) => setTimeout(resolve, 300))

    proc.child.kill('SIGTERM')
    await waitFor(() => proc.lines.some((l) => l.includes('SIGTERM received')), 5000)
    // The listening socket is closed: a new connection is refused.
    await expect(fetch(`${url}/healthz`)).rejects.toThrow()
    expect(proc.child.exitCode).toBeNull()

    request.finish()
    await waitFor(() => /\r\n\r\n[\s\S]*\}/.test(request.response()), 5000)
    expect(request.response()).toMatch(/^HTTP\/1\.1 201 /)
    const startedAt = Date.now()
    expect(await proc.exited).toEqual({ code: 0, signal: null })
    // Well within the 10 s grace: the finished connection does not hold the exit up.
    expect(Date.now() - startedAt).toBeLessThan(5000)
    expect(proc.lines.some((l) => l.includes('server stopped'))).toBe(true)
    request.destroy()

    // The row is there, and the database was closed cleanly (no journal left behind to replay).
    const c = await open({ databasePath })
    try {
      expect((await c.system.orgs.list()).map((o) => o.name)).toEqual([name])
    } finally {
      await c.close()
    }
  })

  it('exits 2 with a message naming --port for bad values', async () => {
    for (const port of ['abc', '70000', '80.5', '']) {
      const result = await runBin(['serve', '--port', port], environment())
      expect(result.code, port).toBe(2)
      expect(result.stderr, port).toMatch(/--port/)
    }
  })

  it('exits 2 with one clear line when the port is in use', async () => {
    const blocker: Server = createServer()
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
    const port = (blocker.address() as AddressInfo).port
    try {
      const result = await runBin(['serve', '--port', String(port)], environment())
      expect(result.code).toBe(2)
      const lines = result.stderr.trim().split('\n')
      const mentions = lines.filter((l) => l.includes('already in use'))
      expect(mentions, result.stderr).toHaveLength(1)
      expect(mentions[0]).toContain(`127.0.0.1:${port}`)
      expect(result.stderr).not.toMatch(/\bat .*\(.*:\d+:\d+\)/)
    } finally {
      await new Promise((resolve) => blocker.close(resolve))
    }
  })

  it('with --daemon runs the poller in-process against CoinGecko: /readyz and /metrics see the tick', async () => {
    const c = await open({ databasePath })
    await c.system.orgs.create('Acme')
    await c.close()

    const { proc, url } = await serve('--daemon', '--interval', '1m')
    await waitFor(() => mock.requests.length > 0, 10_000)
    let ready: Response | undefined
    const deadline = Date.now() + 10_000
    while (Date.now() < deadline) {
      ready = await fetch(`${url}/readyz`)
      if (ready.status === 200) break
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    expect(ready?.status).toBe(200)
    expect(await ready?.json()).toMatchObject({ status: 'ready', database: 'ok' })
    const metrics = await (await fetch(`${url}/metrics`)).text()
    expect(metrics).toMatch(/^cryptorg_daemon_ticks_recorded\{outcome="ok"\} [1-9]/m)
    const latest = await fetch(`${url}/api/crypto-prices/`, {
      headers: { authorization: `Bearer ${adminToken}` },
    })
    expect(((await latest.json()) as { count: number }).count).toBeGreaterThan(0)

    proc.child.kill('SIGTERM')
    expect(await proc.exited).toEqual({ code: 0, signal: null })
  })
})
