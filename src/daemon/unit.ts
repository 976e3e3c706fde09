/**
 * The systemd unit that runs the daemon as a service. It is rendered from plain inputs, never
 * from the running process, so tests can check the text and `systemd-analyze verify` it.
 *
 * @module
 */
import { posix } from 'node:path'

import { validationError } from '../errors.js'

/** Where the unit is meant to run: the system manager, or a user's own manager. */
export type UnitScope = 'system' | 'user'

/** Inputs of {@link renderDaemonUnit}. Paths must be absolute. */
export interface DaemonUnitOptions {
  scope: UnitScope
  /** The node executable, such as `/usr/bin/node`. */
  nodePath: string
  /** The package's `bin/cryptorg.js`. */
  binPath: string
  /**
   * The SQLite file; its directory is the only path the service may write to. Null for a
   * Postgres database, whose URL (with its password) the EnvironmentFile sets as CRYPTORG_DB.
   */
  databasePath: string | null
  /**
   * Environment file with secrets such as `COINGECKO_API_KEY`; the service starts without it.
   * @default DEFAULT_SYSTEM_ENV_FILE, or `%E/cryptorg/cryptorg.env` (the user's config home)
   */
  envFile?: string
  /** `User=` of a system unit; ignored for a user unit. @default DEFAULT_SERVICE_USER */
  serviceUser?: string
  /** Who generated the unit, named in its header comment. */
  invokingUser?: string
  /** Arguments added after `daemon --db <path>`. @default DEFAULT_DAEMON_ARGS */
  daemonArgs?: readonly string[]
}

export const DAEMON_UNIT_NAME = 'cryptorg.service'
export const DEFAULT_SERVICE_USER = 'cryptorg'
export const DEFAULT_SYSTEM_DATABASE = '/var/lib/cryptorg/cryptorg.db'
export const DEFAULT_SYSTEM_ENV_FILE = '/etc/cryptorg/cryptorg.env'
/** systemd passes the daemon's stderr to the journal, which keeps its own timestamps. */
export const DEFAULT_DAEMON_ARGS: readonly string[] = ['--log-format', 'journal']
/**
 * node flags for a daemon that runs for months, measured with the bench's daemon-memory
 * scenario (1,000 organizations, 1,000 ticks):
 * - V8 grows the young generation up to 3 x 16 MB under a burst of short-lived objects and
 *   keeps it committed: RSS wandered between 93 and 132 MB with 12 MB of live objects. At
 *   3 x 1 MB it stays within a few MB; the extra minor collections cost a tick nothing visible.
 * - fetch parses HTTP with a WebAssembly build of llhttp, which V8 recompiles with its
 *   optimizing compiler after some use, in ~10 MB of scratch memory that the allocator keeps
 *   (heaptrack). The baseline compiler's code is plenty for one request every few minutes.
 * NODE_OPTIONS refuses --no-wasm-tier-up, so both are on node's command line in ExecStart=.
 */
export const DAEMON_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1', '--no-wasm-tier-up']

// What ProtectHome= hides from a system service.
const HOME_DIRECTORIES = ['/home', '/root', '/run/user']
// Control characters end a unit file line; a backslash or double quote would need escaping
// rules that differ from one setting to the next. Paths holding them are refused instead.
const INEXPRESSIBLE = /[\p{Cc}\p{Cs}\p{Zl}\p{Zp}\\"]/u
const USER_NAME = /^[A-Za-z_][A-Za-z0-9_-]{0,31}$/
// Words made of these characters need no quotes in ExecStart= or ReadWritePaths=.
const BARE_WORD = /^[\w@%+=:,./-]+$/

/**
 * Renders the unit file text. A system unit runs as a dedicated user with a read-only view of
 * the system; a user unit gets only the hardening an unprivileged user manager can apply.
 *
 * @throws CryptorgError `ERR_VALIDATION` for a relative path, a path or argument holding a
 *   character systemd cannot take (newline, control characters, backslash, double quote), or a
 *   bad user name.
 */
export function renderDaemonUnit(options: DaemonUnitOptions): string {
  const unit = checkOptions(options)
  const sections =
    unit.scope === 'system'
      ? [header(unit), systemUnitSection(), systemServiceSection(unit), install('multi-user')]
      : [header(unit), userUnitSection(), userServiceSection(unit), install('default')]
  return `${sections.join('\n\n')}\n`
}

/** Things about the inputs that make a working unit unlikely, as sentences for people. */
export function daemonUnitWarnings(options: DaemonUnitOptions): string[] {
  if (options.scope === 'user') return []
  const user = options.serviceUser ?? DEFAULT_SERVICE_USER
  // Home directories are often private (mode 0700 on Debian 12), except to their owner.
  const ownHome = user === 'root' ? '/root' : `/home/${user}`
  const warnings: string[] = []
  for (const [what, path] of [
    ['node', options.nodePath],
    ['cryptorg', options.binPath],
    ['the database', options.databasePath],
  ] as const) {
    if (path === null) continue
    if (isUnderHome(path) && !isUnder(path, ownHome)) {
      warnings.push(
        `${what} is under a home directory (${path}), which user ${user} may not be able to ` +
          'reach; move it outside /home and /root',
      )
    }
    // PrivateTmp=yes gives the service an empty /tmp of its own.
    if (isUnder(path, '/tmp') || isUnder(path, '/var/tmp')) {
      warnings.push(
        `${what} is under a temporary directory (${path}), which the service does not see ` +
          '(PrivateTmp=yes); move it elsewhere',
      )
    }
  }
  if (user === 'root') warnings.push('the service runs as root; a dedicated user is safer')
  return warnings
}

interface CheckedUnit {
  scope: UnitScope
  nodePath: string
  binPath: string
  databasePath: string | null
  /** Already in unit syntax: it may hold the `%E` specifier. */
  envFileValue: string
  serviceUser: string
  invokingUser: string | undefined
  daemonArgs: readonly string[]
}

function checkOptions(options: DaemonUnitOptions): CheckedUnit {
  if (options.scope !== 'system' && options.scope !== 'user') {
    throw validationError('scope', `scope must be system or user, got ${String(options.scope)}`)
  }
  const serviceUser = options.serviceUser ?? DEFAULT_SERVICE_USER
  if (!USER_NAME.test(serviceUser)) {
    throw validationError(
      'serviceUser',
      `service user must be a user name such as cryptorg, got ${JSON.stringify(serviceUser)}`,
    )
  }
  const daemonArgs = options.daemonArgs ?? DEFAULT_DAEMON_ARGS
  daemonArgs.forEach((arg) => checkText(arg, 'daemon argument'))
  return {
    scope: options.scope,
    nodePath: checkPath(options.nodePath, 'node path'),
    binPath: checkPath(options.binPath, 'cryptorg path'),
    databasePath:
      options.databasePath === null ? null : checkPath(options.databasePath, 'database path'),
    envFileValue: envFileValue(options),
    serviceUser,
    invokingUser: options.invokingUser?.match(USER_NAME)?.[0],
    daemonArgs,
  }
}

function envFileValue(options: DaemonUnitOptions): string {
  if (options.envFile !== undefined) {
    return escapeSpecifiers(checkPath(options.envFile, 'environment file'))
  }
  return options.scope === 'system' ? DEFAULT_SYSTEM_ENV_FILE : '%E/cryptorg/cryptorg.env'
}

function checkPath(path: string, field: string): string {
  checkText(path, field)
  if (!posix.isAbsolute(path)) {
    throw validationError(field, `${field} must be absolute, got ${JSON.stringify(path)}`)
  }
  // systemd strips the end of a line, so a trailing space could never reach it.
  if (/\s$/u.test(path)) {
    throw validationError(field, `${field} must not end with a space, got ${JSON.stringify(path)}`)
  }
  return posix.normalize(path)
}

function checkText(text: string, field: string): void {
  if (typeof text !== 'string' || text === '' || INEXPRESSIBLE.test(text)) {
    throw validationError(
      field,
      `${field} must not be empty or hold control characters, backslashes or double quotes ` +
        'that a systemd unit cannot express, got ' +
        JSON.stringify(text),
    )
  }
}

function header(unit: CheckedUnit): string {
  const by = unit.invokingUser === undefined ? '' : ` by ${unit.invokingUser}`
  const lines = [
    `# ${DAEMON_UNIT_NAME}: the cryptorg CoinGecko poller as a ${unit.scope} service.`,
    `# Generated${by} with "cryptorg daemon unit${unit.scope === 'user' ? ' --user' : ''}".`,
    '# Generate it again, rather than editing it, after moving node, cryptorg or the database.',
    '# Secrets such as COINGECKO_API_KEY=... belong in the EnvironmentFile, never in this unit.',
  ]
  if (unit.scope === 'system' && unit.serviceUser === DEFAULT_SERVICE_USER) {
    lines.push(
      '# It runs as a dedicated system user, created once with:',
      '#   useradd --system --user-group -d /var/lib/cryptorg -s /usr/sbin/nologin cryptorg',
    )
  }
  return lines.join('\n')
}

/** Restart settings shared by both scopes, in [Unit] (start limits) and [Service]. */
const START_LIMITS = [
  '# Back-off: failed runs restart after RestartSec=; five failed starts within ten minutes',
  '# make systemd give up and mark the unit failed (see "systemctl status cryptorg").',
  '# systemd 254 and later could lengthen the delay on each attempt (RestartSteps=,',
  '# RestartMaxDelaySec=), but the systemd 252 of Debian 12 warns about those unknown keys.',
  'StartLimitIntervalSec=10min',
  'StartLimitBurst=5',
]

function systemUnitSection(): string {
  return [
    '[Unit]',
    'Description=cryptorg CoinGecko price poller',
    'Wants=network-online.target',
    'After=network-online.target',
    ...START_LIMITS,
  ].join('\n')
}

function userUnitSection(): string {
  return [
    '[Unit]',
    'Description=cryptorg CoinGecko price poller',
    // network-online.target belongs to the system manager; a user manager cannot wait for it.
    // A tick that finds no network fails, is logged, and the next one runs as usual.
    ...START_LIMITS,
  ].join('\n')
}

function processSettings(unit: CheckedUnit, identity: readonly string[]): string[] {
  const command = [
    unit.nodePath,
    ...DAEMON_NODE_FLAGS,
    unit.binPath,
    'daemon',
    ...(unit.databasePath === null ? [] : ['--db', unit.databasePath]),
    ...unit.daemonArgs,
  ]
  return [
    '[Service]',
    // exec, not simple: "systemctl start" fails when node cannot be started at all.
    'Type=exec',
    ...identity,
    ...(unit.databasePath === null
      ? [
          '# Sets CRYPTORG_DB=postgres://...: required, or the daemon would start on SQLite.',
          `EnvironmentFile=${unit.envFileValue}`,
        ]
      : [`EnvironmentFile=-${unit.envFileValue}`]),
    // node directly, not "npm start": npm does not pass SIGTERM on to the daemon.
    `ExecStart=${command.map(execWord).join(' ')}`,
    'SyslogIdentifier=cryptorg',
    'Restart=on-failure',
    'RestartSec=30s',
    '# Exit code 2 is a bad flag or setting, which restarting cannot fix.',
    'RestartPreventExitStatus=2',
    '# On SIGTERM the daemon gives a request in flight 3s to finish, releases its',
    '# leader lease and exits 0, well within TimeoutStopSec.',
    'KillSignal=SIGTERM',
    'TimeoutStopSec=30',
    unit.databasePath === null
      ? '# Whatever the service writes is readable by the service user only.'
      : '# The database and its WAL files are readable by the service user only.',
    'UMask=0077',
  ]
}

/** Hardening that works without mount namespaces or capabilities: seccomp and prctl only. */
const UNPRIVILEGED_HARDENING = [
  'NoNewPrivileges=yes',
  'RestrictSUIDSGID=yes',
  'RestrictRealtime=yes',
  'RestrictNamespaces=yes',
  'LockPersonality=yes',
  'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX',
  'SystemCallArchitectures=native',
]

const NOT_SET = [
  '# Not set on purpose: MemoryDenyWriteExecute= (V8 compiles JavaScript into memory that is',
  '# written, then executed) and SystemCallFilter= (the system calls node needs change between',
  '# releases, and a missing one kills the daemon with SIGSYS).',
]

function systemServiceSection(unit: CheckedUnit): string {
  const databaseDirectory = unit.databasePath === null ? null : posix.dirname(unit.databasePath)
  const homeBound = [unit.nodePath, unit.binPath, databaseDirectory].some(
    (path) => path !== null && isUnderHome(path),
  )
  // Group= only for the dedicated user, whose group useradd --user-group creates; any other
  // user runs with its own primary group.
  const identity = [
    `User=${unit.serviceUser}`,
    ...(unit.serviceUser === DEFAULT_SERVICE_USER ? [`Group=${DEFAULT_SERVICE_USER}`] : []),
  ]
  return [
    ...processSettings(unit, identity),
    '',
    ...(databaseDirectory === null
      ? ['# Sandbox. The database is a Postgres server: the service writes no file at all.']
      : [
          '# Sandbox. The database directory must exist and belong to the service user; it is',
          '# the only path the service may write to (SQLite adds -wal and -shm files next to it).',
          `ReadWritePaths=${pathWord(databaseDirectory)}`,
        ]),
    'ProtectSystem=strict',
    ...(homeBound
      ? ['# read-only, not yes: node, cryptorg or the database live under a home directory.']
      : []),
    `ProtectHome=${homeBound ? 'read-only' : 'yes'}`,
    'PrivateTmp=yes',
    'PrivateDevices=yes',
    'ProtectKernelTunables=yes',
    'ProtectKernelModules=yes',
    'ProtectKernelLogs=yes',
    'ProtectControlGroups=yes',
    'ProtectClock=yes',
    'ProtectHostname=yes',
    'ProtectProc=invisible',
    'PrivateMounts=yes',
    'RemoveIPC=yes',
    'CapabilityBoundingSet=',
    ...UNPRIVILEGED_HARDENING,
    ...NOT_SET,
  ].join('\n')
}

function userServiceSection(unit: CheckedUnit): string {
  return [
    ...processSettings(unit, []),
    '',
    '# Sandbox. A user manager cannot set up mount namespaces on systemd 252 (later versions',
    '# need unprivileged user namespaces for them) nor drop capabilities it does not hold, so',
    '# ProtectSystem=, ProtectHome=, PrivateTmp= and the like are left to system units.',
    ...UNPRIVILEGED_HARDENING,
    ...NOT_SET,
  ].join('\n')
}

function install(target: 'multi-user' | 'default'): string {
  return ['[Install]', `WantedBy=${target}.target`].join('\n')
}

function isUnderHome(path: string): boolean {
  return HOME_DIRECTORIES.some((home) => isUnder(path, home))
}

function isUnder(path: string, directory: string): boolean {
  return path === directory || path.startsWith(`${directory}/`)
}

/** `%` starts a specifier (`%h`, `%E`) in nearly every setting; `%%` is a literal percent. */
function escapeSpecifiers(text: string): string {
  return text.replaceAll('%', '%%')
}

/** A word of ExecStart=, where `$NAME` is also expanded from the environment. */
function execWord(word: string): string {
  return quoteIfNeeded(escapeSpecifiers(word).replaceAll('$', '$$$$'))
}

/** A path in a space-separated list such as ReadWritePaths=. */
function pathWord(path: string): string {
  return quoteIfNeeded(escapeSpecifiers(path))
}

function quoteIfNeeded(word: string): string {
  return BARE_WORD.test(word) ? word : `"${word}"`
}
