import { mkdirSync, writeFileSync } from 'node:fs'
import { type Server, type Socket, createServer } from 'node:net'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'

import { createKeychainStore, hasSessionBus } from '../../../src/cli/credentials/store.js'
import {
  childrenMatching,
  expectNoSecret,
  expectOneLine,
  failure,
  processExists,
  useTempDirs,
} from './support.js'

const SECRET = 'kc-5b1d7e0f-very-secret'
const HELPER_MARKER = 'cryptorg keychain helper'
const linux = process.platform === 'linux'

/** A unix socket that accepts D-Bus clients and never says a word, like a hung bus. */
interface SilentBus {
  path: string
  connections: number
  close(): Promise<void>
}

async function startSilentBus(path: string): Promise<SilentBus> {
  const sockets = new Set<Socket>()
  const bus = { path, connections: 0, close }
  const server: Server = createServer((socket) => {
    bus.connections += 1
    sockets.add(socket)
    socket.on('error', () => {})
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(path, resolve)
  })
  async function close(): Promise<void> {
    for (const socket of sockets) socket.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
  return bus
}

describe('hasSessionBus', () => {
  const tempDir = useTempDirs()

  it('is true when DBUS_SESSION_BUS_ADDRESS is set', () => {
    expect(hasSessionBus({ DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/bus' })).toBe(true)
  })

  it('is true when $XDG_RUNTIME_DIR/bus exists', () => {
    const runtime = tempDir()
    expect(hasSessionBus({ XDG_RUNTIME_DIR: runtime })).toBe(false)
    writeFileSync(join(runtime, 'bus'), '')
    expect(hasSessionBus({ XDG_RUNTIME_DIR: runtime })).toBe(true)
  })

  it('is false with neither, or with empty values', () => {
    expect(hasSessionBus({})).toBe(false)
    expect(hasSessionBus({ DBUS_SESSION_BUS_ADDRESS: '', XDG_RUNTIME_DIR: '' })).toBe(false)
    expect(hasSessionBus({ DBUS_SESSION_BUS_ADDRESS: '  ' })).toBe(false)
  })
})

describe.skipIf(!linux)('keychain credential store without a working Secret Service', () => {
  const tempDir = useTempDirs()
  const buses: SilentBus[] = []
  afterEach(async () => {
    for (const bus of buses.splice(0)) await bus.close()
  })

  it('describes itself as the Secret Service keychain', () => {
    const store = createKeychainStore({ service: 'cryptorg-test', timeoutMs: 1000, env: {} })
    expect(store.kind).toBe('keychain')
    expect(store.location).toBe('OS keychain (Secret Service)')
  })

  it('fails at once as unavailable when there is no session bus', async () => {
    const store = createKeychainStore({
      service: 'cryptorg-test',
      timeoutMs: 5000,
      env: { HOME: tempDir(), XDG_RUNTIME_DIR: tempDir() },
    })
    for (const run of [
      () => store.get('alice'),
      () => store.set('alice', SECRET),
      () => store.delete('alice'),
    ]) {
      const started = performance.now()
      const error = await failure(run)
      // Far below the time it takes to start even one Node process.
      expect(performance.now() - started).toBeLessThan(100)
      expect(error.code).toBe('ERR_STORAGE')
      expect(error.details).toEqual({ keychain: 'unavailable' })
      expect(error.message).toMatch(/OS keychain: no D-Bus session bus$/)
      expect(childrenMatching(HELPER_MARKER)).toEqual([])
      expectOneLine(error)
      expectNoSecret(error, SECRET)
    }
  })

  it('reports a bus address that leads nowhere as unavailable', async () => {
    const store = createKeychainStore({
      service: 'cryptorg-test',
      timeoutMs: 10_000,
      env: { DBUS_SESSION_BUS_ADDRESS: `unix:path=${join(tempDir(), 'no-such-socket')}` },
    })
    const error = await failure(() => store.set('alice', SECRET))
    expect(error.code).toBe('ERR_STORAGE')
    expect(error.details).toEqual({ keychain: 'unavailable' })
    expect(error.message).toMatch(/^could not store the credential for alice in the OS keychain: /)
    expectOneLine(error)
    expectNoSecret(error, SECRET)
  })

  it('kills the helper and reports a timeout when the bus never answers', async () => {
    const bus = await startSilentBus(join(tempDir(), 'bus.sock'))
    buses.push(bus)
    const timeoutMs = 700
    const store = createKeychainStore({
      service: 'cryptorg-test',
      timeoutMs,
      env: { DBUS_SESSION_BUS_ADDRESS: `unix:path=${bus.path}`, HOME: tempDir() },
    })
    const started = performance.now()
    const pending = failure(() => store.set('alice', SECRET))
    // While the helper hangs, look at what other users could see of it in /proc.
    let seen: ReturnType<typeof childrenMatching> = []
    while (seen.length === 0 && performance.now() - started < timeoutMs - 100) {
      await new Promise((resolve) => setTimeout(resolve, 20))
      seen = childrenMatching(HELPER_MARKER)
    }
    expect(seen).toHaveLength(1)
    expect(seen[0]!.argv.join(' ')).not.toContain(SECRET)
    expect(seen[0]!.argv.join(' ')).not.toContain('alice')
    expect(seen[0]!.environ).not.toContain(SECRET)

    const error = await pending
    const elapsed = performance.now() - started
    expect(elapsed).toBeGreaterThanOrEqual(timeoutMs - 50)
    expect(elapsed).toBeLessThan(timeoutMs + 1500)
    expect(error.code).toBe('ERR_STORAGE')
    expect(error.details).toEqual({ keychain: 'timeout' })
    expect(error.message).toBe(
      `could not store the credential for alice in the OS keychain: no answer within 700 ms`,
    )
    expectNoSecret(error, SECRET)
    expect(processExists(seen[0]!.pid)).toBe(false)
    expect(childrenMatching(HELPER_MARKER)).toEqual([])
    expect(bus.connections).toBeGreaterThan(0)
  })

  it('finds the bus through $XDG_RUNTIME_DIR/bus alone', async () => {
    const runtime = join(tempDir(), 'run with space')
    mkdirSync(runtime, { mode: 0o700 })
    const bus = await startSilentBus(join(runtime, 'bus'))
    buses.push(bus)
    const store = createKeychainStore({
      service: 'cryptorg-test',
      timeoutMs: 500,
      env: { XDG_RUNTIME_DIR: runtime, HOME: tempDir() },
    })
    const error = await failure(() => store.get('alice'))
    expect(error.details).toEqual({ keychain: 'timeout' })
    // The helper reached our silent socket, so it was the one it was told about.
    expect(bus.connections).toBeGreaterThan(0)
  })

  it('refuses an empty account before starting anything', async () => {
    const store = createKeychainStore({ service: 'cryptorg-test', timeoutMs: 1000, env: {} })
    const error = await failure(() => store.get(''))
    expect(error.code).toBe('ERR_VALIDATION')
  })
})
