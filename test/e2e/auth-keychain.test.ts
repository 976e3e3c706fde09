/**
 * The first-run story with the built binary, as a new user types it: `init`, then
 * `org create`, then `prices latest`, with the tokens in a real Secret Service (gnome-keyring in
 * a private D-Bus session) and, on a host without D-Bus, in the 0600 file.
 */
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'

import { assertBuilt, runBin } from '../helpers/process.js'
import {
  type Session,
  searchItems,
  skipReason,
  startSession,
  stopSession,
} from '../helpers/secret-service.js'

const PASSWORD = 'first admin password 7d1c'
let directory: string

beforeAll(assertBuilt)
beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), 'cryptorg-e2e-auth-'))
})
afterEach(() => {
  rmSync(directory, { recursive: true, force: true })
})

/** The first-run commands; returns every output so the test can look for leaked secrets. */
async function firstRun(env: NodeJS.ProcessEnv) {
  const init = await runBin(['init', '--username', 'alice', '--password-stdin'], env, PASSWORD)
  expect(init).toMatchObject({ code: 0 })
  const create = await runBin(['org', 'create', 'Acme'], env)
  expect(create).toMatchObject({ code: 0 })
  const latest = await runBin(['prices', 'latest', '--org', 'Acme'], env)
  expect(latest).toMatchObject({ code: 0 })
  const status = await runBin(['auth', 'status', '--json'], env)
  expect(status.code).toBe(0)
  return { outputs: [init, create, latest, status], status: JSON.parse(status.stdout) }
}

function expectNoSecrets(outputs: { stdout: string; stderr: string }[]) {
  for (const { stdout, stderr } of outputs) {
    expect(stdout + stderr).not.toContain(PASSWORD)
    // A JWT starts with the base64url of '{"alg"'.
    expect(stdout + stderr).not.toContain('eyJhbGci')
  }
}

describe.skipIf(skipReason !== undefined)(
  'sign-in with the OS keychain' + (skipReason ? ` (skipped: ${skipReason})` : ''),
  () => {
    let session: Session
    beforeAll(async () => {
      session = await startSession()
    }, 20_000)
    afterAll(async () => {
      if (session) await stopSession(session)
    })

    it('keeps the tokens in the Secret Service and nowhere on disk', async () => {
      const env = {
        ...session.env,
        CRYPTORG_DB: join(directory, 'cryptorg.db'),
        CRYPTORG_CONFIG_DIR: join(directory, 'config'),
      }
      const { outputs, status } = await firstRun(env)

      expect(status).toMatchObject({
        username: 'alice',
        is_admin: true,
        store: 'keychain',
        location: 'OS keychain (Secret Service)',
      })
      expect(existsSync(join(directory, 'config', 'credentials.json'))).toBe(false)
      expect(searchItems(session.env, { service: 'cryptorg' })).toHaveLength(1)
      expectNoSecrets(outputs)

      const logout = await runBin(['logout'], env)
      expect(logout).toMatchObject({ code: 0, stdout: 'Signed out alice\n' })
      expect(searchItems(session.env, { service: 'cryptorg' })).toHaveLength(0)
      const after = await runBin(['org', 'list'], env)
      expect(after).toMatchObject({
        code: 4,
        stderr: 'cryptorg: not signed in: run "cryptorg login"\n',
      })
    })

    it("lets a second user sign in and see none of the first one's organizations", async () => {
      const env = {
        ...session.env,
        CRYPTORG_DB: join(directory, 'cryptorg.db'),
        CRYPTORG_CONFIG_DIR: join(directory, 'config'),
      }
      await firstRun(env)
      const create = await runBin(
        ['user', 'create', 'bob', '--password-stdin'],
        env,
        'bob password',
      )
      expect(create.code).toBe(0)
      const login = await runBin(
        ['login', '--username', 'bob', '--password-stdin'],
        env,
        'bob password',
      )
      expect(login).toMatchObject({ code: 0, stdout: 'Signed in as bob\n' })

      expect(await runBin(['org', 'list', '--json'], env)).toMatchObject({
        code: 0,
        stdout: '[]\n',
      })
      expect(await runBin(['prices', 'latest', '--org', 'Acme'], env)).toMatchObject({
        code: 3,
        stderr: 'cryptorg: organization "Acme" not found\n',
      })
    })
  },
)

describe('sign-in without D-Bus', () => {
  it('falls back to a 0600 file, says so once, and keeps working', async () => {
    const env = {
      PATH: process.env['PATH'],
      HOME: join(directory, 'home'),
      CRYPTORG_DB: join(directory, 'cryptorg.db'),
      CRYPTORG_CONFIG_DIR: join(directory, 'config'),
    }
    const { outputs, status } = await firstRun(env)

    const file = join(directory, 'config', 'credentials.json')
    expect(status).toMatchObject({ username: 'alice', store: 'file', location: file })
    expect(statSync(file).mode & 0o777).toBe(0o600)
    expect(statSync(join(directory, 'config')).mode & 0o777).toBe(0o700)
    const notices = outputs.filter((o) => o.stderr.includes('No OS keychain is available'))
    expect(notices).toHaveLength(1)
    expectNoSecrets(outputs)
  })
})
