/**
 * `cryptorg daemon unit`: prints a systemd unit for the daemon, with the absolute paths of this
 * node and this installation filled in.
 *
 * @module
 */
import { isAbsolute, join, resolve } from 'node:path'

import type { Command } from 'commander'

import { parsePruneAge } from '../../core/prices.js'
import { parseDuration } from '../../core/time.js'
import { validateInterval } from '../../daemon/loop.js'
import {
  DAEMON_UNIT_NAME,
  DEFAULT_DAEMON_ARGS,
  DEFAULT_SERVICE_USER,
  DEFAULT_SYSTEM_DATABASE,
  DEFAULT_SYSTEM_ENV_FILE,
  type DaemonUnitOptions,
  daemonUnitWarnings,
  renderDaemonUnit,
} from '../../daemon/unit.js'
import { CryptorgError } from '../../errors.js'
import type { CliContext } from '../context.js'
import type { ActionFactory } from '../main.js'
import { packageFile } from '../package-root.js'
import { DATABASE_FILE_NAME, defaultDataDirectory, withHome } from '../paths.js'

/** The package's executable, as the unit starts it. */
export const INSTALLED_BIN_PATH = packageFile('bin/cryptorg.js')

export interface DaemonUnitFlags {
  user?: boolean
  environmentFile?: string
  serviceUser?: string
  interval?: string
  jitter?: string
  retention?: string
}

/** Flags plus what the command would otherwise take from the running process. */
export interface DaemonUnitRunOptions extends DaemonUnitFlags {
  /** @default process.execPath */
  nodePath?: string
  /** @default INSTALLED_BIN_PATH */
  binPath?: string
}

/** What `--json` prints. */
export interface DaemonUnitResult {
  unit: string
  /** Where the unit is usually installed. */
  path_hint: string
  /** For a Postgres database: the line its EnvironmentFile needs (password masked). */
  environment_file_line?: string
}

export function registerDaemonUnitCommand(daemon: Command, action: ActionFactory): void {
  daemon
    .command('unit')
    .description('print a systemd unit file that runs the daemon as a service')
    .option('--user', 'a unit for your own user manager (systemctl --user), not the system')
    .option(
      // Not --env-file: Node 20 takes that flag for itself even after the script name.
      '--environment-file <path>',
      `file with COINGECKO_API_KEY and other settings (default: ${DEFAULT_SYSTEM_ENV_FILE}, ` +
        'with --user ~/.config/cryptorg/cryptorg.env)',
    )
    .option(
      '--service-user <name>',
      `user a system unit runs as (default: ${DEFAULT_SERVICE_USER})`,
    )
    .addHelpText(
      'after',
      [
        '',
        'The database is --db, else $CRYPTORG_DB, else /var/lib/cryptorg/cryptorg.db for a',
        'system unit and the data directory for --user. Save the output, for example:',
        '  cryptorg daemon unit > /etc/systemd/system/cryptorg.service',
        '  cryptorg daemon unit --user > ~/.config/systemd/user/cryptorg.service',
        '',
        'The daemon\'s --interval, --jitter and --retention, given before or after "unit",',
        'are written into the unit: cryptorg daemon unit --interval 1m --retention 90d',
      ].join('\n'),
    )
    .action(
      action((ctx, flags: DaemonUnitFlags) =>
        daemonUnitRun(ctx, { ...flags, ...flagsForDaemon(daemon) }),
      ),
    )
}

/**
 * The daemon's own flags typed on this command line. They belong to the parent `daemon`
 * command, which parses them wherever they stand; only values typed, not defaults, count.
 */
function flagsForDaemon(
  daemon: Command,
): Pick<DaemonUnitFlags, 'interval' | 'jitter' | 'retention'> {
  const typed: Pick<DaemonUnitFlags, 'interval' | 'jitter' | 'retention'> = {}
  const values = daemon.opts<Record<string, string | undefined>>()
  for (const name of ['interval', 'jitter', 'retention'] as const) {
    const value = values[name]
    if (daemon.getOptionValueSource(name) === 'cli' && value !== undefined) typed[name] = value
  }
  return typed
}

export async function daemonUnitRun(ctx: CliContext, opts: DaemonUnitRunOptions): Promise<void> {
  const scope = opts.user ? 'user' : 'system'
  if (scope === 'user' && opts.serviceUser !== undefined) {
    throw new CryptorgError('ERR_USAGE', '--service-user is for system units; --user runs as you')
  }
  const options: DaemonUnitOptions = {
    scope,
    nodePath: opts.nodePath ?? process.execPath,
    binPath: opts.binPath ?? INSTALLED_BIN_PATH,
    databasePath: unitDatabasePath(ctx, scope),
    envFile:
      opts.environmentFile === undefined
        ? defaultEnvFile(ctx, scope)
        : resolveFlag(opts.environmentFile),
    ...(opts.serviceUser !== undefined && { serviceUser: opts.serviceUser }),
    ...(ctx.io.env['USER'] && { invokingUser: ctx.io.env['USER'] }),
    daemonArgs: daemonArgs(opts),
  }
  const result: DaemonUnitResult = {
    unit: renderDaemonUnit(options),
    path_hint: unitPathHint(ctx, scope),
    ...(options.databasePath === null && {
      environment_file_line: `CRYPTORG_DB=${ctx.databaseDescription()}`,
    }),
  }

  if (ctx.output.json) return ctx.output.printJson(result)
  ctx.output.printLine(result.unit.trimEnd())
  for (const warning of daemonUnitWarnings(options)) ctx.output.note(`warning: ${warning}`)
  if (options.databasePath === null) {
    ctx.output.note(
      `Put ${result.environment_file_line} (with its password) in ` +
        `${options.envFile ?? 'the environment file'}, readable by the service user only`,
    )
  }
  const systemctl = scope === 'user' ? 'systemctl --user' : 'systemctl'
  ctx.output.note(
    `Save this as ${result.path_hint}, then run: ${systemctl} daemon-reload && ` +
      `${systemctl} enable --now cryptorg`,
  )
}

/** The daemon's own flags, checked now so that the unit cannot fail on them at start. */
function daemonArgs(opts: DaemonUnitFlags): string[] {
  const args = [...DEFAULT_DAEMON_ARGS]
  if (opts.interval !== undefined) {
    validateInterval(parseDuration(opts.interval, 'interval'))
    args.push('--interval', opts.interval.trim())
  }
  if (opts.jitter !== undefined) {
    parseDuration(opts.jitter, 'jitter')
    args.push('--jitter', opts.jitter.trim())
  }
  if (opts.retention !== undefined) {
    parsePruneAge(opts.retention, 'retention')
    args.push('--retention', opts.retention.trim())
  }
  return args
}

/** `--db`, then `CRYPTORG_DB`, then a default that suits the scope; never created here. */
function unitDatabasePath(ctx: CliContext, scope: 'system' | 'user'): string | null {
  const chosen = ctx.flags.db ?? ctx.io.env['CRYPTORG_DB']
  if (chosen === undefined) {
    if (scope === 'system') return DEFAULT_SYSTEM_DATABASE
    const directory = defaultDataDirectory(ctx.io.env, ctx.io.homedir, ctx.io.platform)
    return join(directory, DATABASE_FILE_NAME)
  }
  if (chosen.trim() === '' || chosen.trim() === ':memory:') {
    throw new CryptorgError(
      'ERR_USAGE',
      `a service needs a database file, got ${JSON.stringify(chosen)} (--db or CRYPTORG_DB)`,
    )
  }
  // Checked as every other command checks it, before anything is printed.
  const location = ctx.resolveLocation(chosen, ctx.flags.db !== undefined ? '--db' : 'CRYPTORG_DB')
  // The URL may hold a password: it goes in the EnvironmentFile, not in the unit.
  return location.kind === 'postgres' ? null : location.path
}

function resolveFlag(path: string): string {
  if (path.trim() === '')
    throw new CryptorgError('ERR_USAGE', '--environment-file must not be empty')
  return resolve(path)
}

function defaultEnvFile(ctx: CliContext, scope: 'system' | 'user'): string {
  if (scope === 'system') return DEFAULT_SYSTEM_ENV_FILE
  return join(configHome(ctx), 'cryptorg', 'cryptorg.env')
}

function unitPathHint(ctx: CliContext, scope: 'system' | 'user'): string {
  if (scope === 'system') return `/etc/systemd/system/${DAEMON_UNIT_NAME}`
  return join(configHome(ctx), 'systemd', 'user', DAEMON_UNIT_NAME)
}

/** `$XDG_CONFIG_HOME`, or `~/.config`; XDG says to ignore a relative value. */
function configHome(ctx: CliContext): string {
  const xdg = ctx.io.env['XDG_CONFIG_HOME']
  return xdg && xdg.startsWith('/') ? xdg : join(withHome(ctx.io.homedir), '.config')
}
