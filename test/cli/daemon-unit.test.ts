import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

import { describe, expect, it } from 'vitest'

import { type DaemonUnitResult, INSTALLED_BIN_PATH } from '../../src/cli/commands/daemon-unit.js'
import { type CliResult, type RunCliOptions, runCli } from '../helpers/cli.js'
import { assertBuilt, runBin } from '../helpers/process.js'

const TEST_HOME = '/nonexistent-home-for-tests'

/** Runs the real CLI in-process; `daemon unit` never opens a database. */
function runUnit(argv: string[], options: RunCliOptions = {}): Promise<CliResult> {
  return runCli(argv, { env: {}, ...options })
}

/** The error code printed with --json on stderr. */
function errorCode(result: CliResult): string | undefined {
  const line = result.stderr.split('\n')[0] ?? ''
  return (JSON.parse(line) as { error?: { code?: string } }).error?.code
}

function execStart(unit: string): string {
  return unit.split('\n').find((line) => line.startsWith('ExecStart=')) ?? ''
}

function setting(unit: string, key: string): string | undefined {
  return unit
    .split('\n')
    .find((line) => line.startsWith(`${key}=`))
    ?.slice(key.length + 1)
}

describe('daemon unit', () => {
  it('prints a system unit with this node, the installed bin and the system database', async () => {
    const { code, stdout, stderr } = await runUnit(['daemon', 'unit'])

    expect(code).toBe(0)
    expect(execStart(stdout)).toBe(
      `ExecStart=${process.execPath} --max-semi-space-size=1 --no-wasm-tier-up ${INSTALLED_BIN_PATH} daemon ` +
        '--db /var/lib/cryptorg/cryptorg.db --log-format journal',
    )
    expect(setting(stdout, 'User')).toBe('cryptorg')
    expect(setting(stdout, 'EnvironmentFile')).toBe('-/etc/cryptorg/cryptorg.env')
    expect(stdout.endsWith('WantedBy=multi-user.target\n')).toBe(true)
    expect(stderr).toContain('Save this as /etc/systemd/system/cryptorg.service')
    expect(stderr).toContain('systemctl daemon-reload && systemctl enable --now cryptorg')
  })

  it('finds bin/cryptorg.js of this package', () => {
    const repoBin = fileURLToPath(new URL('../../bin/cryptorg.js', import.meta.url))
    expect(INSTALLED_BIN_PATH).toBe(repoBin)
    expect(existsSync(INSTALLED_BIN_PATH)).toBe(true)
  })

  it('finds it from the bundled binary too, and reads the version there', async () => {
    assertBuilt()
    // The home does not exist: no compile cache may be made there (root could create it).
    const env = { PATH: process.env['PATH'], HOME: TEST_HOME, CRYPTORG_COMPILE_CACHE: 'off' }
    const unit = await runBin(['daemon', 'unit', '--db', '/srv/prices.db'], env)
    const repoBin = fileURLToPath(new URL('../../bin/cryptorg.js', import.meta.url))
    expect(execStart(unit.stdout)).toBe(
      `ExecStart=${process.execPath} --max-semi-space-size=1 --no-wasm-tier-up ${repoBin} daemon --db /srv/prices.db --log-format journal`,
    )
    const version = await runBin(['--version'], env)
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/)
  })

  it('takes a Postgres URL from the EnvironmentFile, not from the unit', async () => {
    const url = 'postgres://cryptorg:s3cret@db.internal:5432/cryptorg'
    const { code, stdout, stderr } = await runUnit(['daemon', 'unit', '--db', url])
    expect(code).toBe(0)
    expect(execStart(stdout)).toBe(
      `ExecStart=${process.execPath} --max-semi-space-size=1 --no-wasm-tier-up ${INSTALLED_BIN_PATH} daemon --log-format journal`,
    )
    expect(stdout).not.toContain('s3cret')
    expect(stdout).not.toContain('ReadWritePaths=')
    expect(setting(stdout, 'EnvironmentFile')).toBe('/etc/cryptorg/cryptorg.env')
    expect(stderr).toContain(
      'Put CRYPTORG_DB=postgres://cryptorg:***@db.internal:5432/cryptorg (with its password) ' +
        'in /etc/cryptorg/cryptorg.env',
    )
    expect(stderr).not.toContain('s3cret')
  })

  it.each(['mysql://x/y', 'postgres://x:pw@h', 'postgres://x@/db?host=/run/postgresql'])(
    'refuses --db %s as other commands do, before printing any unit',
    async (db) => {
      const { code, stdout, stderr } = await runUnit(['daemon', 'unit', '--db', db])
      expect(code).toBe(2)
      expect(stdout).toBe('')
      expect(stderr).toMatch(/^cryptorg: --db /)
      expect(stderr).not.toContain('pw')
    },
  )

  it('gives the EnvironmentFile line in --json for a Postgres database', async () => {
    const url = 'postgres://cryptorg:s3cret@db.internal:5432/cryptorg'
    const { code, stdout } = await runUnit(['daemon', 'unit', '--db', url, '--json'])
    expect(code).toBe(0)
    expect(JSON.parse(stdout).environment_file_line).toBe(
      'CRYPTORG_DB=postgres://cryptorg:***@db.internal:5432/cryptorg',
    )
  })

  it('uses --db, given before or after the subcommand, made absolute', async () => {
    const after = await runUnit(['daemon', 'unit', '--db', '/srv/prices.db'])
    const before = await runUnit(['--db', 'relative/prices.db', 'daemon', 'unit'])

    expect(execStart(after.stdout)).toContain(' --db /srv/prices.db ')
    expect(setting(after.stdout, 'ReadWritePaths')).toBe('/srv')
    expect(execStart(before.stdout)).toContain(` --db ${resolve('relative/prices.db')} `)
  })

  it('falls back to CRYPTORG_DB when --db is not given', async () => {
    const { stdout } = await runUnit(['daemon', 'unit'], { env: { CRYPTORG_DB: '/data/c.db' } })
    expect(execStart(stdout)).toContain(' --db /data/c.db ')
  })

  it('prints a user unit with the data directory and the config home', async () => {
    const { stdout, stderr } = await runUnit(['daemon', 'unit', '--user'], {
      env: { USER: 'alice' },
    })

    expect(execStart(stdout)).toContain(` --db ${TEST_HOME}/.local/share/cryptorg/cryptorg.db `)
    expect(setting(stdout, 'EnvironmentFile')).toBe(`-${TEST_HOME}/.config/cryptorg/cryptorg.env`)
    expect(setting(stdout, 'User')).toBeUndefined()
    expect(stdout).toContain('# Generated by alice with "cryptorg daemon unit --user".')
    expect(stderr).toContain(`Save this as ${TEST_HOME}/.config/systemd/user/cryptorg.service`)
    expect(stderr).toContain('systemctl --user daemon-reload && systemctl --user enable --now')
  })

  it('follows XDG_DATA_HOME and XDG_CONFIG_HOME for a user unit', async () => {
    const env = { XDG_DATA_HOME: '/xdg/data', XDG_CONFIG_HOME: '/xdg/config' }
    const { stdout } = await runUnit(['--json', 'daemon', 'unit', '--user'], { env })
    const result = JSON.parse(stdout) as DaemonUnitResult

    expect(execStart(result.unit)).toContain(' --db /xdg/data/cryptorg/cryptorg.db ')
    expect(setting(result.unit, 'EnvironmentFile')).toBe('-/xdg/config/cryptorg/cryptorg.env')
    expect(result.path_hint).toBe('/xdg/config/systemd/user/cryptorg.service')
  })

  it('takes --environment-file and --service-user', async () => {
    const { stdout } = await runUnit([
      'daemon',
      'unit',
      '--environment-file',
      '/etc/prices/key.env',
      '--service-user',
      'prices',
    ])
    expect(setting(stdout, 'EnvironmentFile')).toBe('-/etc/prices/key.env')
    expect(setting(stdout, 'User')).toBe('prices')
  })

  it('passes --interval and --retention on to the daemon, before or after "unit"', async () => {
    const after = await runUnit(['daemon', 'unit', '--interval', '1m', '--retention', '90d'])
    const before = await runUnit(['daemon', '--retention', '30d', 'unit'])

    expect(execStart(after.stdout)).toMatch(/ --log-format journal --interval 1m --retention 90d$/)
    expect(execStart(before.stdout)).toMatch(/ --log-format journal --retention 30d$/)
  })

  it('passes --jitter on to the daemon and checks it first', async () => {
    const ok = await runUnit(['daemon', 'unit', '--jitter', '10s'])
    const bad = await runUnit(['--json', 'daemon', 'unit', '--jitter', 'soon'])

    expect(execStart(ok.stdout)).toMatch(/ --log-format journal --jitter 10s$/)
    expect(bad.code).toBe(2)
    expect(bad.stdout).toBe('')
  })

  it('leaves the daemon defaults out of the unit', async () => {
    const { stdout } = await runUnit(['daemon', 'unit'])
    expect(execStart(stdout)).toMatch(/ --log-format journal$/)
  })

  it('prints only the unit and its path hint with --json', async () => {
    const { stdout, stderr } = await runUnit(['--json', 'daemon', 'unit'])
    const result = JSON.parse(stdout) as DaemonUnitResult

    expect(Object.keys(result).sort()).toEqual(['path_hint', 'unit'])
    expect(result.path_hint).toBe('/etc/systemd/system/cryptorg.service')
    expect(result.unit).toMatch(/^# cryptorg\.service: /)
    expect(stderr).toBe('')
  })

  it('warns on stderr when the service would run as root', async () => {
    const { stderr } = await runUnit(['daemon', 'unit', '--service-user', 'root'])
    expect(stderr).toMatch(/^warning: the service runs as root/m)
  })

  it.each([
    [
      '--service-user with --user',
      ['daemon', 'unit', '--user', '--service-user', 'x'],
      'ERR_USAGE',
    ],
    ['an in-memory database', ['--db', ':memory:', 'daemon', 'unit'], 'ERR_USAGE'],
    ['an empty --environment-file', ['daemon', 'unit', '--environment-file', ''], 'ERR_USAGE'],
    [
      'a database path with a newline',
      ['--db', '/srv/a\nb.db', 'daemon', 'unit'],
      'ERR_VALIDATION',
    ],
    ['a bad service user', ['daemon', 'unit', '--service-user', 'a b'], 'ERR_VALIDATION'],
    ['a retention under a day', ['daemon', 'unit', '--retention', '1s'], 'ERR_VALIDATION'],
    ['an interval under a second', ['daemon', 'unit', '--interval', '10ms'], 'ERR_VALIDATION'],
  ])('refuses %s with exit code 2 and prints nothing', async (_, argv, code) => {
    const result = await runUnit(['--json', ...argv])
    expect(result.code).toBe(2)
    expect(errorCode(result)).toBe(code)
    expect(result.stdout).toBe('')
  })
})
