// Covers src/cli/commands/auth.ts and src/cli/session.ts: signing in from the command line,
// stored sessions, silent refresh, and what a user is told when a session is gone.
import { chmodSync, readFileSync, readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'

import { type RunCliOptions, runCli, tempDatabase } from '../helpers/cli.js'
import { type FakeClock, fakeClock } from '../helpers/fake-clock.js'
import { noNetworkFetch } from './support.js'

const PASSWORD = 'correct horse battery'
let database: { path: string; cleanup: () => void }
let clock: FakeClock
/** Everything the runs printed, to check that no secret ever shows. */
let printed: string

const configDir = () => join(dirname(database.path), 'config')
const credentialsFile = () => join(configDir(), 'credentials.json')

async function cli(argv: string[], options: RunCliOptions = {}) {
  const result = await runCli(['--db', database.path, ...argv], {
    fetch: noNetworkFetch,
    clock,
    ...options,
    env: { CRYPTORG_CONFIG_DIR: configDir(), ...options.env },
  })
  printed += result.stdout + result.stderr
  return result
}

const init = (username = 'alice') =>
  cli(['init', '--username', username, '--password-stdin'], { stdin: `${PASSWORD}\n` })

function storedTokens(): { access: string; refresh: string } {
  const file = JSON.parse(readFileSync(credentialsFile(), 'utf8')) as {
    accounts: Record<string, string>
  }
  const [secret] = Object.values(file.accounts)
  return JSON.parse(secret as string) as { access: string; refresh: string }
}

beforeEach(() => {
  database = tempDatabase()
  clock = fakeClock(new Date())
  printed = ''
})

afterEach(() => {
  database.cleanup()
  expect(printed).not.toContain(PASSWORD)
})

describe('init', () => {
  it('creates the first administrator from a script and signs in', async () => {
    const result = await init()

    expect(result.code).toBe(0)
    expect(result.stdout).toBe('Created administrator alice and signed in\n')
    expect(result.stderr).toContain(`tokens are kept in ${credentialsFile()} (mode 0600)`)
    expect(await cli(['whoami'])).toMatchObject({ code: 0, stdout: 'alice (administrator)\n' })
  })

  it('asks for the name and the password twice on a terminal', async () => {
    const result = await cli(['init'], {
      interactive: true,
      answers: ['alice', PASSWORD, PASSWORD],
    })

    expect(result.code).toBe(0)
    expect(result.questions).toEqual([
      'Administrator username',
      'Password for alice',
      'Repeat the password',
    ])
    expect(await cli(['org', 'create', 'Acme'])).toMatchObject({ code: 0 })
    expect(await cli(['prices', 'latest', '--org', 'Acme'])).toMatchObject({ code: 0 })
  })

  it('refuses a bad name or a short password at once, before the next question', async () => {
    const badName = await cli(['init'], { interactive: true, answers: ['bad name'] })
    expect(badName.code).toBe(2)
    expect(badName.questions).toEqual(['Administrator username'])

    const short = await cli(['init'], { interactive: true, answers: ['alice', 'short'] })
    expect(short).toMatchObject({
      code: 2,
      stderr: 'cryptorg: password must be at least 8 characters\n',
    })
    expect(short.questions).toEqual(['Administrator username', 'Password for alice'])
  })

  it('creates nothing when the two passwords differ', async () => {
    const result = await cli(['init'], {
      interactive: true,
      answers: ['alice', PASSWORD, 'something else'],
    })

    expect(result).toMatchObject({
      code: 2,
      stderr: 'cryptorg: the two passwords differ; nothing was changed\n',
    })
    expect(await init()).toMatchObject({ code: 0 })
  })

  it('needs --username and --password-stdin when not on a terminal', async () => {
    expect(await cli(['init'])).toMatchObject({
      code: 2,
      stderr: 'cryptorg: --username is required when not on a terminal\n',
    })
    expect(await cli(['init', '--username', 'alice'])).toMatchObject({
      code: 2,
      stderr: 'cryptorg: a password is needed: use --password-stdin when not on a terminal\n',
    })
  })

  it('refuses a short password, naming the rule and not the password', async () => {
    const result = await cli(['init', '--username', 'alice', '--password-stdin'], {
      stdin: 'short\n',
    })

    expect(result).toMatchObject({
      code: 2,
      stderr: 'cryptorg: password must be at least 8 characters\n',
    })
    expect(await init()).toMatchObject({ code: 0 })
  })

  it('refuses to run twice', async () => {
    await init()
    const again = await init('mallory')

    expect(again.code).toBe(3)
    expect(again.stderr).toContain('is already set up: sign in with "cryptorg login"')
    expect(await cli(['--json', 'user', 'list'])).toMatchObject({ code: 0 })
    const users = JSON.parse((await cli(['--json', 'user', 'list'])).stdout) as unknown[]
    expect(users).toHaveLength(1)
  })
})

describe('before signing in', () => {
  it('says to run init on a database without users', async () => {
    expect(await cli(['org', 'list'])).toMatchObject({
      code: 4,
      stderr:
        'cryptorg: this database has no users yet: run "cryptorg init" to create the first ' +
        'administrator\n',
    })
  })

  it('says to log in when nobody is signed in', async () => {
    await init()
    await cli(['logout'])

    expect(await cli(['org', 'list'])).toMatchObject({
      code: 4,
      stderr: 'cryptorg: not signed in: run "cryptorg login"\n',
    })
    expect(await cli(['auth', 'status'])).toMatchObject({ code: 4 })
  })
})

describe('login and logout', () => {
  beforeEach(async () => {
    await init()
    const bob = await cli(['user', 'create', 'bob', '--password-stdin'], { stdin: 'bob password' })
    expect(bob.code).toBe(0)
  })

  it("switches users, and the second user cannot see the first one's organization", async () => {
    await cli(['org', 'create', 'Acme'])
    const login = await cli(['login', '--username', 'bob', '--password-stdin'], {
      stdin: 'bob password',
    })

    expect(login).toMatchObject({ code: 0, stdout: 'Signed in as bob\n' })
    expect(await cli(['whoami'])).toMatchObject({ stdout: 'bob\n' })
    expect(await cli(['--json', 'org', 'list'])).toMatchObject({ code: 0, stdout: '[]\n' })
    expect(await cli(['prices', 'latest', '--org', 'Acme'])).toMatchObject({
      code: 3,
      stderr: 'cryptorg: organization "Acme" not found\n',
    })
  })

  it('asks for the username and password on a terminal', async () => {
    const result = await cli(['login'], { interactive: true, answers: ['bob', 'bob password'] })

    expect(result.code).toBe(0)
    expect(result.questions).toEqual(['Username', 'Password for bob'])
  })

  it('refuses a wrong password with one message for every failure', async () => {
    const wrong = await cli(['login', '--username', 'bob', '--password-stdin'], { stdin: 'nope' })
    const unknown = await cli(['login', '--username', 'zed', '--password-stdin'], { stdin: 'x' })

    for (const result of [wrong, unknown]) {
      expect(result).toMatchObject({ code: 4, stderr: 'cryptorg: wrong username or password\n' })
    }
    // The earlier session is untouched by a failed attempt.
    expect(await cli(['whoami'])).toMatchObject({ stdout: 'alice (administrator)\n' })
  })

  it('logs out: the tokens are forgotten and refused from then on', async () => {
    const { access } = storedTokens()
    const logout = await cli(['logout'])

    expect(logout).toMatchObject({ code: 0, stdout: 'Signed out alice\n' })
    const reused = await cli(['org', 'list'], { env: { CRYPTORG_TOKEN: access } })
    expect(reused.code).toBe(4)
    expect(reused.stderr).toBe(
      'cryptorg: CRYPTORG_TOKEN was refused (signed out): set a fresh token in CRYPTORG_TOKEN\n',
    )
    expect(await cli(['logout'])).toMatchObject({
      code: 0,
      stderr: 'Not signed in; nothing to do\n',
    })
  })
})

describe('signing out when things went wrong', () => {
  beforeEach(async () => {
    await init()
  })

  it('ends the session even when the token file cannot be read', async () => {
    const { access } = storedTokens()
    chmodSync(credentialsFile(), 0o644)

    const logout = await cli(['logout'])
    expect(logout).toMatchObject({ code: 0, stdout: 'Signed out alice\n' })
    expect(logout.stderr).toContain(
      'The session has ended, but its old tokens could not be removed',
    )
    const reused = await cli(['whoami'], { env: { CRYPTORG_TOKEN: access } })
    expect(reused.code).toBe(4)
  })

  it('ends the earlier session when someone signs in again on the same database', async () => {
    const first = storedTokens()
    await cli(['user', 'create', 'bob', '--password-stdin'], { stdin: 'bob password' })
    await cli(['login', '--username', 'bob', '--password-stdin'], { stdin: 'bob password' })

    const old = await cli(['whoami'], { env: { CRYPTORG_TOKEN: first.access } })
    expect(old).toMatchObject({ code: 4 })
    expect(old.stderr).toContain('CRYPTORG_TOKEN was refused (signed out)')
    expect(await cli(['whoami'])).toMatchObject({ code: 0, stdout: 'bob\n' })
  })
})

describe('stored sessions', () => {
  beforeEach(async () => {
    await init()
  })

  it('refreshes an expired access token silently and stores the new pair', async () => {
    const before = storedTokens()
    clock.advance(6 * 60_000)

    expect(await cli(['org', 'create', 'Acme'])).toMatchObject({ code: 0 })
    const after = storedTokens()
    expect(after.access).not.toBe(before.access)
    expect(after.refresh).not.toBe(before.refresh)
    // The retired refresh token is refused, and using it ends the session.
    clock.advance(6 * 60_000)
    const stolen = await cli(['whoami'], { env: { CRYPTORG_TOKEN: before.access } })
    expect(stolen.code).toBe(4)
  })

  it('lets parallel commands share one refresh instead of ending the session', async () => {
    clock.advance(6 * 60_000)

    const results = await Promise.all(
      Array.from({ length: 4 }, (_, i) => cli(['org', 'create', `Parallel ${i}`])),
    )
    expect(results.map((r) => r.code)).toEqual([0, 0, 0, 0])
    expect(await cli(['whoami'])).toMatchObject({ code: 0 })
    expect(readdirSync(configDir()).filter((name) => name.endsWith('.lock'))).toEqual([])
  })

  it('says to log in again once the refresh token has expired', async () => {
    clock.advance(2 * 86_400_000)

    const result = await cli(['org', 'list'])
    expect(result.code).toBe(4)
    expect(result.stderr).toBe(
      'cryptorg: your session has ended (refresh token has expired): run "cryptorg login"\n',
    )
  })

  it('ends the session everywhere when the password changes', async () => {
    const change = await cli(['user', 'passwd', '--password-stdin'], {
      stdin: `${PASSWORD}\nan entirely new password\n`,
    })

    expect(change).toMatchObject({ code: 0 })
    expect(change.stderr).toContain('Sign in again with: cryptorg login')
    const next = await cli(['org', 'list'])
    expect(next).toMatchObject({
      code: 4,
      stderr: 'cryptorg: your session has ended (password changed): run "cryptorg login"\n',
    })
    const login = await cli(['login', '--username', 'alice', '--password-stdin'], {
      stdin: 'an entirely new password',
    })
    expect(login.code).toBe(0)
  })

  it('refuses to change your own password without the current one', async () => {
    const change = await cli(['user', 'passwd', '--password-stdin'], {
      stdin: 'not my password\nan entirely new password\n',
    })

    expect(change).toMatchObject({ code: 4, stderr: 'cryptorg: current password is wrong\n' })
    expect(await cli(['whoami'])).toMatchObject({ code: 0 })
  })

  it('reports who is signed in, until when and where the tokens are', async () => {
    const result = await cli(['--json', 'auth', 'status'])

    expect(result.code).toBe(0)
    expect(JSON.parse(result.stdout)).toEqual({
      username: 'alice',
      is_admin: true,
      database: database.path,
      source: 'stored',
      store: 'file',
      location: credentialsFile(),
      access_expires_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      refresh_expires_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
    })
  })

  it('prints an access token that works as CRYPTORG_TOKEN', async () => {
    const token = (await cli(['auth', 'token'])).stdout.trim()
    printed = printed.replace(token, '')

    const result = await cli(['--json', 'auth', 'status'], {
      env: { CRYPTORG_TOKEN: token, CRYPTORG_CONFIG_DIR: join(configDir(), 'elsewhere') },
    })
    expect(JSON.parse(result.stdout)).toMatchObject({ username: 'alice', source: 'CRYPTORG_TOKEN' })
  })

  it('refuses a tampered CRYPTORG_TOKEN without printing it', async () => {
    const { access } = storedTokens()
    const tampered = `${access.slice(0, -4)}AAAA`

    const result = await cli(['org', 'list'], { env: { CRYPTORG_TOKEN: tampered } })
    expect(result.code).toBe(4)
    expect(result.stderr).toBe(
      'cryptorg: CRYPTORG_TOKEN was refused (access token signature is invalid): set a fresh ' +
        'token in CRYPTORG_TOKEN\n',
    )
    expect(result.stderr).not.toContain(tampered.slice(0, 20))
  })

  it('says what to do when the stored tokens were removed', async () => {
    const file = credentialsFile()
    const { rmSync } = await import('node:fs')
    rmSync(file)

    const result = await cli(['org', 'list'])
    expect(result).toMatchObject({
      code: 4,
      stderr: 'cryptorg: the tokens of alice are gone from the file: run "cryptorg login"\n',
    })
  })
})
