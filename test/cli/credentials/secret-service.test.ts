/**
 * The keychain store against a real Secret Service: a private D-Bus session started with
 * dbus-run-session, with gnome-keyring unlocked inside it and fresh HOME and XDG folders, so
 * nothing here can reach the keyring of whoever runs the tests.
 */
import { type ChildProcessWithoutNullStreams, execFile, spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { createKeychainStore } from '../../../src/cli/credentials/store.js'
import { expectNoSecret, failure } from './support.js'

const TOOLS = ['dbus-run-session', 'gnome-keyring-daemon', 'dbus-send', 'bash']
const missing = TOOLS.filter((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0)
const skipReason =
  process.platform !== 'linux'
    ? 'Linux only'
    : missing.length > 0
      ? `needs ${missing.join(', ')}: apt-get install gnome-keyring dbus`
      : undefined
const BUILT_STORE = fileURLToPath(
  new URL('../../../dist/cli/credentials/store.js', import.meta.url),
)
const SECRET = 'ss-3a8e91c4-very-secret'

interface Session {
  env: Record<string, string>
  child: ChildProcessWithoutNullStreams
  root: string
}

/** Starts the private session and resolves once gnome-keyring is unlocked in it. */
async function startSession(): Promise<Session> {
  const root = mkdtempSync(join(tmpdir(), 'cryptorg-secret-service-'))
  const home = join(root, 'home')
  const runtime = join(root, 'run')
  mkdirSync(home, { mode: 0o700 })
  mkdirSync(runtime, { mode: 0o700 })
  const base = {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    HOME: home,
    XDG_RUNTIME_DIR: runtime,
    XDG_DATA_HOME: join(home, '.local', 'share'),
    XDG_CONFIG_HOME: join(home, '.config'),
    XDG_CACHE_HOME: join(home, '.cache'),
  }
  // The keyring password goes in on stdin; the session stays up until our stdin closes.
  const script =
    'echo -n pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null || exit 1; ' +
    'printf "%s\\n" "$DBUS_SESSION_BUS_ADDRESS"; exec cat >/dev/null'
  const child = spawn('dbus-run-session', ['--', 'bash', '-c', script], { env: base })
  child.stderr.resume()
  const address = await new Promise<string>((resolve, reject) => {
    let text = ''
    const timer = setTimeout(() => reject(new Error('the D-Bus session did not start')), 15_000)
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      text += chunk
      const newline = text.indexOf('\n')
      if (newline >= 0) {
        clearTimeout(timer)
        resolve(text.slice(0, newline))
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`the D-Bus session ended early (exit ${code})`))
    })
  })
  return { env: { ...base, DBUS_SESSION_BUS_ADDRESS: address }, child, root }
}

async function stopSession(session: Session): Promise<void> {
  const { child } = session
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve))
    // Closing stdin ends `cat`, then dbus-run-session stops the bus and gnome-keyring with it.
    child.stdin.end()
    const timer = setTimeout(() => child.kill('SIGTERM'), 5000)
    await exited
    clearTimeout(timer)
  }
  rmSync(session.root, { recursive: true, force: true })
}

/** Object paths of the Secret Service items with these attributes (via dbus-send). */
function searchItems(env: Record<string, string>, attributes: Record<string, string>): string[] {
  const pairs = Object.entries(attributes).flat().join(',')
  const result = spawnSync(
    'dbus-send',
    [
      '--session',
      '--print-reply',
      '--dest=org.freedesktop.secrets',
      '/org/freedesktop/secrets',
      'org.freedesktop.Secret.Service.SearchItems',
      `dict:string:string:${pairs}`,
    ],
    { env, encoding: 'utf8' },
  )
  if (result.status !== 0) throw new Error(`dbus-send failed: ${result.stderr}`)
  return [...result.stdout.matchAll(/object path "([^"]+)"/g)].map((match) => match[1]!)
}

describe.skipIf(skipReason !== undefined)(
  'keychain credential store on a real Secret Service' +
    (skipReason ? ` (skipped: ${skipReason})` : ''),
  () => {
    let session: Session
    beforeAll(async () => {
      session = await startSession()
    }, 20_000)
    afterAll(async () => {
      if (session) await stopSession(session)
    })
    const store = (service = 'cryptorg-test', extra: Record<string, string> = {}) =>
      createKeychainStore({ service, timeoutMs: 5000, env: { ...session.env, ...extra } })

    it('stores, reads, replaces and deletes a secret', async () => {
      const keychain = store()
      expect(await keychain.get('alice')).toBeUndefined()
      await keychain.set('alice', SECRET)
      expect(await keychain.get('alice')).toBe(SECRET)
      await keychain.set('alice', 'replaced')
      expect(await keychain.get('alice')).toBe('replaced')
      expect(await keychain.delete('alice')).toBe(true)
      expect(await keychain.delete('alice')).toBe(false)
      expect(await keychain.get('alice')).toBeUndefined()
    })

    it('writes to the Secret Service itself, not the kernel keyring', async () => {
      await store('cryptorg-pinned').set('bob', SECRET)
      const found = searchItems(session.env, { service: 'cryptorg-pinned', username: 'bob' })
      expect(found.filter((path) => path.includes('/collection/'))).toHaveLength(1)
      await store('cryptorg-pinned').delete('bob')
      expect(searchItems(session.env, { service: 'cryptorg-pinned', username: 'bob' })).toEqual([])
    })

    it('keeps accounts and services apart and round-trips odd text', async () => {
      const odd = 'line one\nline "two" \u00e9\u{1f511} \\ end'
      await store('cryptorg-a').set('alice', 'a-alice')
      await store('cryptorg-a').set('bob', odd)
      await store('cryptorg-b').set('alice', 'b-alice')
      expect(await store('cryptorg-a').get('alice')).toBe('a-alice')
      expect(await store('cryptorg-a').get('bob')).toBe(odd)
      expect(await store('cryptorg-b').get('alice')).toBe('b-alice')
      expect(await store('cryptorg-b').get('bob')).toBeUndefined()
      for (const [service, account] of [
        ['cryptorg-a', 'alice'],
        ['cryptorg-a', 'bob'],
        ['cryptorg-b', 'alice'],
      ] as const) {
        expect(await store(service).delete(account)).toBe(true)
      }
    })

    it('ignores NODE_OPTIONS when starting its helper', async () => {
      const keychain = store('cryptorg-test', { NODE_OPTIONS: '--require=/nonexistent/preload.js' })
      await keychain.set('carol', SECRET)
      expect(await keychain.get('carol')).toBe(SECRET)
      expect(await keychain.delete('carol')).toBe(true)
    })

    it.skipIf(!existsSync(BUILT_STORE))('works from the compiled dist/ as well', async () => {
      const script = `
        import { createKeychainStore } from ${JSON.stringify(BUILT_STORE)}
        const options = { service: 'cryptorg-dist', timeoutMs: 5000, env: process.env }
        const store = createKeychainStore(options)
        const secret = 'dist-' + process.pid
        await store.set('dave', secret)
        const read = await store.get('dave')
        const deleted = await store.delete('dave')
        console.log(JSON.stringify({ ok: read === secret, deleted, kind: store.kind }))
      `
      const stdout = await new Promise<string>((resolve, reject) => {
        execFile(
          process.execPath,
          ['--input-type=module', '-e', script],
          { env: session.env, timeout: 15_000 },
          (error, out) => (error ? reject(error) : resolve(out)),
        )
      })
      expect(JSON.parse(stdout)).toEqual({ ok: true, deleted: true, kind: 'keychain' })
    })

    // Last: it locks the collection for good. Without a display the unlock prompt cannot be
    // shown, gnome-keyring reports it dismissed, and the store calls that unavailable.
    it('reports a locked keyring as unavailable, without the secret', async () => {
      await store().set('erin', SECRET)
      const lock = spawnSync(
        'dbus-send',
        [
          '--session',
          '--print-reply',
          '--dest=org.freedesktop.secrets',
          '/org/freedesktop/secrets',
          'org.freedesktop.Secret.Service.Lock',
          'array:objpath:/org/freedesktop/secrets/collection/login',
        ],
        { env: session.env, encoding: 'utf8' },
      )
      expect(lock.status).toBe(0)
      for (const run of [() => store().get('erin'), () => store().set('erin', SECRET)]) {
        const error = await failure(run)
        expect(error.code).toBe('ERR_STORAGE')
        expect(error.details).toEqual({ keychain: 'unavailable' })
        expectNoSecret(error, SECRET)
      }
    })
  },
)
