/**
 * The keychain store against a real Secret Service: a private D-Bus session started with
 * dbus-run-session, with gnome-keyring unlocked inside it and fresh HOME and XDG folders, so
 * nothing here can reach the keyring of whoever runs the tests.
 */
import { execFile, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { createKeychainStore } from '../../../src/cli/credentials/store.js'
import {
  type Session,
  searchItems,
  skipReason,
  startSession,
  stopSession,
} from '../../helpers/secret-service.js'
import { expectNoSecret, failure } from './support.js'

const BUILT_STORE = fileURLToPath(
  new URL('../../../dist/cli/credentials/store.js', import.meta.url),
)
const SECRET = 'ss-3a8e91c4-very-secret'

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
