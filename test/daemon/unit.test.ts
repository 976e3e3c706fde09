import { spawnSync } from 'node:child_process'
import { accessSync, constants, mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { fileURLToPath } from 'node:url'

import { afterEach, beforeEach, describe, expect, it } from 'vitest'

import {
  type DaemonUnitOptions,
  daemonUnitWarnings,
  renderDaemonUnit,
} from '../../src/daemon/unit.js'
import { validationFailure } from '../helpers/errors.js'
import { tempDir } from '../helpers/open-test-db.js'

const SYSTEM: DaemonUnitOptions = {
  scope: 'system',
  nodePath: '/usr/bin/node',
  binPath: '/usr/local/lib/node_modules/cryptorg/bin/cryptorg.js',
  databasePath: '/var/lib/cryptorg/cryptorg.db',
}

const USER: DaemonUnitOptions = {
  scope: 'user',
  nodePath: '/usr/bin/node',
  binPath: '/usr/local/lib/node_modules/cryptorg/bin/cryptorg.js',
  databasePath: '/home/alice/.local/share/cryptorg/cryptorg.db',
  envFile: '/home/alice/.config/cryptorg/cryptorg.env',
}

/** The value of every `Key=` line, in order; comments are left out. */
function settings(unit: string, key: string): string[] {
  return unit
    .split('\n')
    .filter((line) => line.startsWith(`${key}=`))
    .map((line) => line.slice(key.length + 1))
}

/** The section a `[Name]` header opens, up to the next header. */
function section(unit: string, name: string): string {
  const start = unit.indexOf(`[${name}]\n`)
  expect(start).toBeGreaterThanOrEqual(0)
  const end = unit.indexOf('\n[', start + 1)
  return unit.slice(start, end === -1 ? undefined : end)
}

describe('renderDaemonUnit for the system manager', () => {
  const unit = renderDaemonUnit(SYSTEM)

  it('starts node and the installed bin directly, with the database and journal logs', () => {
    expect(settings(unit, 'ExecStart')).toEqual([
      '/usr/bin/node --max-semi-space-size=1 --no-wasm-tier-up /usr/local/lib/node_modules/cryptorg/bin/cryptorg.js daemon ' +
        '--db /var/lib/cryptorg/cryptorg.db --log-format journal',
    ])
    expect(unit).not.toMatch(/npm/)
  })

  it('runs as the dedicated cryptorg user and says how to create it', () => {
    expect(settings(unit, 'User')).toEqual(['cryptorg'])
    expect(settings(unit, 'Group')).toEqual(['cryptorg'])
    expect(unit).toMatch(/^# +useradd --system .*cryptorg$/m)
  })

  it('reads secrets from an optional environment file, never from the unit', () => {
    expect(settings(unit, 'EnvironmentFile')).toEqual(['-/etc/cryptorg/cryptorg.env'])
    expect(settings(unit, 'Environment')).toEqual([])
  })

  it('restarts on failure with a delay and a start limit, but not after a usage error', () => {
    expect(settings(unit, 'Restart')).toEqual(['on-failure'])
    expect(settings(unit, 'RestartSec')).toEqual(['30s'])
    expect(settings(unit, 'RestartPreventExitStatus')).toEqual(['2'])
    expect(section(unit, 'Unit')).toMatch(/^StartLimitIntervalSec=10min$/m)
    expect(section(unit, 'Unit')).toMatch(/^StartLimitBurst=5$/m)
    // Keys that systemd 252 (Debian 12) does not know, and would warn about.
    expect(settings(unit, 'RestartSteps')).toEqual([])
    expect(settings(unit, 'RestartMaxDelaySec')).toEqual([])
  })

  it('stops with SIGTERM and waits 30 seconds for the current tick', () => {
    expect(settings(unit, 'KillSignal')).toEqual(['SIGTERM'])
    expect(settings(unit, 'TimeoutStopSec')).toEqual(['30'])
  })

  it('waits for the network and is wanted by multi-user.target', () => {
    expect(settings(unit, 'After')).toEqual(['network-online.target'])
    expect(settings(unit, 'Wants')).toEqual(['network-online.target'])
    expect(section(unit, 'Install')).toBe('[Install]\nWantedBy=multi-user.target\n')
    expect(settings(unit, 'Description')).toEqual(['cryptorg CoinGecko price poller'])
  })

  it('lets the service write to the database directory only', () => {
    expect(settings(unit, 'ReadWritePaths')).toEqual(['/var/lib/cryptorg'])
    expect(settings(unit, 'ProtectSystem')).toEqual(['strict'])
    expect(settings(unit, 'ProtectHome')).toEqual(['yes'])
  })

  it.each([
    ['NoNewPrivileges', 'yes'],
    ['PrivateTmp', 'yes'],
    ['PrivateDevices', 'yes'],
    ['ProtectKernelTunables', 'yes'],
    ['ProtectKernelModules', 'yes'],
    ['ProtectKernelLogs', 'yes'],
    ['ProtectControlGroups', 'yes'],
    ['ProtectClock', 'yes'],
    ['ProtectHostname', 'yes'],
    ['RestrictSUIDSGID', 'yes'],
    ['RestrictRealtime', 'yes'],
    ['RestrictNamespaces', 'yes'],
    ['LockPersonality', 'yes'],
    ['RestrictAddressFamilies', 'AF_INET AF_INET6 AF_UNIX'],
    ['CapabilityBoundingSet', ''],
    ['SystemCallArchitectures', 'native'],
    ['UMask', '0077'],
  ])('sets %s=%s', (key, value) => {
    expect(settings(unit, key)).toEqual([value])
  })

  it('leaves MemoryDenyWriteExecute out because it breaks the V8 JIT, and says so', () => {
    expect(settings(unit, 'MemoryDenyWriteExecute')).toEqual([])
    expect(unit).toMatch(/^# .*MemoryDenyWriteExecute= \(V8/m)
  })

  it('opens with a comment saying how it was generated', () => {
    const withUser = renderDaemonUnit({ ...SYSTEM, invokingUser: 'alice' })
    expect(withUser.split('\n')[0]).toMatch(/^# cryptorg\.service: /)
    expect(withUser).toMatch(/^# Generated by alice with "cryptorg daemon unit"\.$/m)
  })

  it('runs as another user when asked, without a Group= or the useradd hint', () => {
    const other = renderDaemonUnit({ ...SYSTEM, serviceUser: 'alice' })
    expect(settings(other, 'User')).toEqual(['alice'])
    expect(settings(other, 'Group')).toEqual([])
    expect(other).not.toMatch(/useradd/)
  })

  it('passes other daemon arguments instead of the default ones', () => {
    const custom = renderDaemonUnit({ ...SYSTEM, daemonArgs: ['--interval', '1m'] })
    expect(settings(custom, 'ExecStart')[0]).toMatch(/ daemon --db \S+ --interval 1m$/)
  })
})

describe('renderDaemonUnit for a user manager', () => {
  const unit = renderDaemonUnit(USER)

  it('has no User= and is wanted by default.target', () => {
    expect(settings(unit, 'User')).toEqual([])
    expect(settings(unit, 'Group')).toEqual([])
    expect(section(unit, 'Install')).toBe('[Install]\nWantedBy=default.target\n')
    expect(unit).toMatch(/^# Generated with "cryptorg daemon unit --user"\.$/m)
  })

  it('keeps the same command, restart policy and environment file', () => {
    expect(settings(unit, 'ExecStart')[0]).toMatch(
      / daemon --db \/home\/alice\/.local\/share\/cryptorg\/cryptorg.db --log-format journal$/,
    )
    expect(settings(unit, 'EnvironmentFile')).toEqual([
      '-/home/alice/.config/cryptorg/cryptorg.env',
    ])
    expect(settings(unit, 'Restart')).toEqual(['on-failure'])
  })

  it.each([
    'ProtectSystem',
    'ProtectHome',
    'PrivateTmp',
    'PrivateDevices',
    'ReadWritePaths',
    'ProtectKernelTunables',
    'ProtectControlGroups',
    'CapabilityBoundingSet',
    'After',
    'Wants',
  ])('leaves out %s, which an unprivileged user manager cannot apply', (key) => {
    expect(settings(unit, key)).toEqual([])
  })

  it.each(['NoNewPrivileges', 'RestrictSUIDSGID', 'LockPersonality', 'RestrictNamespaces'])(
    'keeps %s, which needs no privileges',
    (key) => {
      expect(settings(unit, key)).toEqual(['yes'])
    },
  )

  it("defaults the environment file to the user's config home through %E", () => {
    const { envFile: _, ...withoutEnvFile } = USER
    expect(settings(renderDaemonUnit(withoutEnvFile), 'EnvironmentFile')).toEqual([
      '-%E/cryptorg/cryptorg.env',
    ])
  })
})

describe('renderDaemonUnit with unusual paths', () => {
  it('quotes paths with spaces in ExecStart= and ReadWritePaths=, not in EnvironmentFile=', () => {
    const unit = renderDaemonUnit({
      ...SYSTEM,
      nodePath: '/opt/node js/bin/node',
      databasePath: '/srv/price data/cryptorg.db',
      envFile: '/etc/crypt org/cryptorg.env',
    })
    expect(settings(unit, 'ExecStart')).toEqual([
      '"/opt/node js/bin/node" --max-semi-space-size=1 --no-wasm-tier-up /usr/local/lib/node_modules/cryptorg/bin/cryptorg.js daemon ' +
        '--db "/srv/price data/cryptorg.db" --log-format journal',
    ])
    expect(settings(unit, 'ReadWritePaths')).toEqual(['"/srv/price data"'])
    // EnvironmentFile= takes the rest of the line as one path: quotes would become part of it.
    expect(settings(unit, 'EnvironmentFile')).toEqual(['-/etc/crypt org/cryptorg.env'])
  })

  it('escapes % specifiers everywhere and $ expansion in ExecStart=', () => {
    const unit = renderDaemonUnit({
      ...SYSTEM,
      databasePath: '/srv/100%$HOME/cryptorg.db',
      envFile: '/etc/50%.env',
    })
    expect(settings(unit, 'ExecStart')[0]).toContain(' --db "/srv/100%%$$HOME/cryptorg.db" ')
    expect(settings(unit, 'ReadWritePaths')).toEqual(['"/srv/100%%$HOME"'])
    expect(settings(unit, 'EnvironmentFile')).toEqual(['-/etc/50%%.env'])
  })

  it('quotes a path with a single quote so systemd does not read it as a quote', () => {
    const unit = renderDaemonUnit({ ...SYSTEM, databasePath: "/srv/o'brien/cryptorg.db" })
    expect(settings(unit, 'ReadWritePaths')).toEqual([`"/srv/o'brien"`])
  })

  it('normalizes paths before writing them', () => {
    const unit = renderDaemonUnit({ ...SYSTEM, databasePath: '/var/lib//cryptorg/./x/../c.db' })
    expect(settings(unit, 'ReadWritePaths')).toEqual(['/var/lib/cryptorg'])
  })

  it.each([
    ['node path', { nodePath: '/usr/bin/no\nde' }],
    ['database path', { databasePath: '/var/lib/cryptorg/a\nExecStartPre=/bin/sh' }],
    ['environment file', { envFile: '/etc/cryptorg/x\r.env' }],
    ['cryptorg path', { binPath: '/opt/cryptorg\tbin/cryptorg.js' }],
    ['database path', { databasePath: '/srv/back\\slash/c.db' }],
    ['database path', { databasePath: '/srv/"quoted"/c.db' }],
    ['database path', { databasePath: 'relative/cryptorg.db' }],
    ['node path', { nodePath: '' }],
    ['environment file', { envFile: '/etc/cryptorg/trailing ' }],
    ['daemon argument', { daemonArgs: ['--interval', '1m\n[Install]'] }],
    ['serviceUser', { serviceUser: 'bad user' }],
    ['serviceUser', { serviceUser: 'x\nExecStart=/bin/sh' }],
  ])('refuses a bad %s with ERR_VALIDATION', (field, bad) => {
    const error = validationFailure(() => renderDaemonUnit({ ...SYSTEM, ...bad }))
    expect(error.details['field']).toBe(field)
  })

  it('leaves out an invoking user name that is not a plain user name', () => {
    const unit = renderDaemonUnit({ ...SYSTEM, invokingUser: 'eve\n[Service]' })
    expect(unit).toMatch(/^# Generated with "cryptorg daemon unit"\.$/m)
  })
})

describe('ProtectHome for programs under home directories', () => {
  it.each([
    ['node under /home', { nodePath: '/home/alice/.nvm/versions/node/v20/bin/node' }],
    ['node under /root', { nodePath: '/root/.volta/bin/node' }],
    ['the bin under /home', { binPath: '/home/alice/cryptorg/bin/cryptorg.js' }],
    ['the database under /home', { databasePath: '/home/alice/prices/cryptorg.db' }],
  ])('is read-only, not yes, with %s', (_, paths) => {
    const unit = renderDaemonUnit({ ...SYSTEM, ...paths })
    expect(settings(unit, 'ProtectHome')).toEqual(['read-only'])
  })

  it('is yes for /homework, which only starts like /home', () => {
    const unit = renderDaemonUnit({ ...SYSTEM, nodePath: '/homework/node' })
    expect(settings(unit, 'ProtectHome')).toEqual(['yes'])
  })
})

describe('daemonUnitWarnings', () => {
  it('is empty for a system-wide install', () => {
    expect(daemonUnitWarnings(SYSTEM)).toEqual([])
  })

  it('warns when node lives in a home directory the service user may not read', () => {
    const warnings = daemonUnitWarnings({ ...SYSTEM, nodePath: '/root/.nvm/bin/node' })
    expect(warnings).toEqual([expect.stringMatching(/^node is under a home directory/)])
  })

  it("warns about a database in another user's home, not in the service user's own", () => {
    const databasePath = '/home/alice/prices/cryptorg.db'
    expect(daemonUnitWarnings({ ...SYSTEM, databasePath })).toEqual([
      expect.stringMatching(/^the database is under a home directory/),
    ])
    expect(daemonUnitWarnings({ ...SYSTEM, databasePath, serviceUser: 'alice' })).toEqual([])
  })

  it.each([
    ['cryptorg', { binPath: '/tmp/checkout/bin/cryptorg.js' }],
    ['the database', { databasePath: '/var/tmp/prices/cryptorg.db' }],
  ])('warns that %s under a temporary directory is hidden by PrivateTmp', (what, paths) => {
    expect(daemonUnitWarnings({ ...SYSTEM, ...paths })).toEqual([
      expect.stringMatching(new RegExp(`^${what} is under a temporary directory .*PrivateTmp`)),
    ])
  })

  it('warns about root and says nothing for user units', () => {
    expect(daemonUnitWarnings({ ...SYSTEM, serviceUser: 'root' })).toHaveLength(1)
    expect(daemonUnitWarnings({ ...USER, nodePath: '/home/alice/node' })).toEqual([])
  })
})

/** The absolute path of an executable on PATH, or undefined. */
function findOnPath(name: string): string | undefined {
  for (const directory of (process.env['PATH'] ?? '').split(delimiter)) {
    if (!directory) continue
    const candidate = join(directory, name)
    try {
      accessSync(candidate, constants.X_OK)
      return candidate
    } catch {
      // Not in this directory.
    }
  }
  return undefined
}

const systemdAnalyze = findOnPath('systemd-analyze')
const REAL_BIN = fileURLToPath(new URL('../../bin/cryptorg.js', import.meta.url))

// `systemd-analyze verify` parses the unit as systemd would and checks that the ExecStart
// binary exists, so these units use the real node and the real bin/cryptorg.js. It does not
// look up User= (the cryptorg user need not exist), and --man=no skips man page checks. A
// user unit is checked with --user, which wants a private XDG_RUNTIME_DIR.
describe.skipIf(!systemdAnalyze)('systemd-analyze verify (skipped: systemd not installed)', () => {
  let dir: { path: string; remove(): void }

  beforeEach(() => {
    dir = tempDir('cryptorg-unit-')
  })

  afterEach(() => {
    dir.remove()
  })

  function verify(options: DaemonUnitOptions): { status: number | null; output: string } {
    const unitDir = join(dir.path, options.scope)
    const runtimeDir = join(dir.path, 'runtime')
    mkdirSync(unitDir, { recursive: true })
    mkdirSync(runtimeDir, { recursive: true, mode: 0o700 })
    const file = join(unitDir, 'cryptorg.service')
    writeFileSync(file, renderDaemonUnit(options))
    const scopeFlag = options.scope === 'user' ? ['--user'] : []
    const result = spawnSync(systemdAnalyze as string, [...scopeFlag, 'verify', '--man=no', file], {
      encoding: 'utf8',
      timeout: 30_000,
      env: { ...process.env, XDG_RUNTIME_DIR: runtimeDir, SYSTEMD_PAGER: '', SYSTEMD_COLORS: '0' },
    })
    return { status: result.status, output: `${result.stdout}${result.stderr}` }
  }

  const real = (scope: 'system' | 'user'): DaemonUnitOptions => ({
    scope,
    nodePath: process.execPath,
    binPath: REAL_BIN,
    databasePath: join(dir.path, 'data', 'cryptorg.db'),
    envFile: join(dir.path, 'cryptorg.env'),
  })

  it('accepts the system unit without a warning', () => {
    const { status, output } = verify(real('system'))
    expect(output).not.toContain('cryptorg.service')
    expect(status).toBe(0)
  })

  it('accepts the user unit without a warning', () => {
    const { status, output } = verify(real('user'))
    expect(output).not.toContain('cryptorg.service')
    expect(status).toBe(0)
  })

  it.each(['system', 'user'] as const)(
    'accepts the %s unit of a Postgres installation without a warning',
    (scope) => {
      const { status, output } = verify({ ...real(scope), databasePath: null })
      expect(output).not.toContain('cryptorg.service')
      expect(status).toBe(0)
    },
  )

  it('finds node through a quoted path with spaces and percent signs', () => {
    const spaced = join(dir.path, 'node 100% js')
    mkdirSync(spaced)
    symlinkSync(process.execPath, join(spaced, 'node'))
    const { status, output } = verify({
      ...real('system'),
      nodePath: join(spaced, 'node'),
      databasePath: join(dir.path, 'price data', 'cryptorg.db'),
    })
    expect(output).not.toContain('cryptorg.service')
    expect(status).toBe(0)
  })

  it('reports a missing ExecStart binary, so a clean result means something', () => {
    const { status, output } = verify({ ...real('system'), nodePath: join(dir.path, 'no-node') })
    expect(output).toMatch(/no-node is not executable/)
    expect(status).not.toBe(0)
  })
})
