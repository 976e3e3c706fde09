/**
 * The `cryptorg` command line: builds the commander program, runs one invocation against the
 * given {@link CliIo}, and turns every outcome into an exit code.
 *
 * @module
 */
import { readFileSync } from 'node:fs'

import { Command, CommanderError } from 'commander'

import { CryptorgError, EXIT_CODES, toCryptorgError } from '../errors.js'
import { registerAuditCommand } from './commands/audit.js'
import { registerAuthCommands } from './commands/auth.js'
import { registerCoinCommands } from './commands/coins.js'
import { registerDaemonCommand } from './commands/daemon.js'
import { registerOrgCommands } from './commands/org.js'
import { registerPriceCommands } from './commands/prices.js'
import { registerServeCommand } from './commands/serve.js'
import { registerDbCommands } from './commands/db.js'
import { packageFile } from './package-root.js'
import { registerUserCommands } from './commands/users.js'
import { CliContext, type GlobalFlags } from './context.js'
import type { CliIo } from './io.js'
import { Output } from './output.js'
import { INTERRUPTED_EXIT_CODE, createProcessIo } from './process-io.js'

/** Wraps a command body so it receives the run's {@link CliContext} and its arguments. */
export type ActionFactory = <A extends unknown[]>(
  body: (ctx: CliContext, ...args: A) => Promise<void>,
) => (...args: unknown[]) => Promise<void>

/**
 * Runs one CLI invocation in-process and resolves to its exit code. Nothing is written to the
 * real process streams unless `io` is the process's own.
 */
export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  let context: CliContext | undefined
  const action: ActionFactory =
    (body) =>
    async (...args) => {
      // commander passes the positional arguments, then the options, then the command.
      const command = args[args.length - 1] as Command
      context = new CliContext(io, command.optsWithGlobals<GlobalFlags>())
      const positional = args.slice(0, -2)
      const options = args[args.length - 2]
      await body(context, ...([...positional, options] as never))
    }

  const { program, failedCommand } = buildProgram(io, action, argv)
  try {
    await program.parseAsync([...argv], { from: 'user' })
    return 0
  } catch (error) {
    const output = context?.output ?? fallbackOutput(io, argv)
    if (error instanceof CommanderError) {
      return commanderExitCode(error, output, failedCommand())
    }
    if (isPromptCancel(error)) return INTERRUPTED_EXIT_CODE
    return output.printError(toCryptorgError(error))
  } finally {
    await context?.close()
  }
}

/** Entry point of the `cryptorg` binary. */
export async function main(argv: readonly string[]): Promise<number> {
  return run(argv, createProcessIo())
}

/** Each registers one or more top-level commands, in the order help lists them. */
const COMMAND_GROUPS: readonly ((program: Command, action: ActionFactory) => unknown)[] = [
  registerAuthCommands,
  registerOrgCommands,
  registerPriceCommands,
  registerCoinCommands,
  registerUserCommands,
  registerAuditCommand,
  registerDaemonCommand,
  registerServeCommand,
  registerDbCommands,
]

function buildProgram(
  io: CliIo,
  action: ActionFactory,
  argv: readonly string[],
): { program: Command; failedCommand: () => Command | undefined } {
  const program = new Command('cryptorg')
    .description('Track cryptocurrency prices for many organizations')
    .version(readVersion(), '-V, --version', 'print the version')
    .option(
      '--db <location>',
      'SQLite file or postgres:// URL (default: $CRYPTORG_DB, then the data directory)',
    )
    .option('--json', 'print results as JSON on stdout, errors as JSON on stderr')
    .option('--verbose', 'print debug logs and stack traces')
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })

  // Registering every command is a few ms of each run's start-up. `cryptorg <command> ...`
  // stops once its own command exists; help, typos and anything unusual get them all.
  const wanted = requestedCommand(program, argv)
  for (const register of COMMAND_GROUPS) {
    register(program, action)
    if (wanted !== undefined && program.commands.some((c) => names(c).includes(wanted))) break
  }

  // Applies to every subcommand: usage errors come back as CommanderError instead of exiting.
  let failed: Command | undefined
  const configure = (command: Command) => {
    command.exitOverride((error) => {
      failed = command
      throw error
    })
    command.configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      // Our own error printer reports usage errors, in JSON when asked to.
      outputError: () => {},
    })
    command.commands.forEach(configure)
  }
  configure(program)
  return { program, failedCommand: () => failed }
}

const names = (command: Command) => [command.name(), ...command.aliases()]

/**
 * The top-level command `argv` asks for, when that is plain: the first word that is neither a
 * global option nor its value. Undefined for anything else (an unknown or bundled flag, `--`,
 * no command at all), which commander will then parse with every command in place.
 */
export function requestedCommand(program: Command, argv: readonly string[]): string | undefined {
  for (let index = 0; index < argv.length; index++) {
    const word = argv[index] as string
    if (!word.startsWith('-')) return word
    const flag = word.split('=', 1)[0]
    const option = program.options.find((o) => o.long === flag || o.short === flag)
    if (option === undefined || option.optional) return undefined
    // `--db PATH` takes the next word; `--db=PATH` does not.
    if (option.required && !word.includes('=')) index++
  }
  return undefined
}

function commanderExitCode(
  error: CommanderError,
  output: Output,
  command: Command | undefined,
): number {
  if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return 0
  // A bare noun such as `cryptorg org` has printed its help: an incomplete command.
  // `help org` and `org help` asked for help (exit code 0); a bare `org` did not.
  if (error.code === 'commander.help') return error.exitCode === 0 ? 0 : EXIT_CODES.ERR_USAGE
  const message = error.message.replace(/^error:\s*/, '').replace(/\.$/, '')
  const exitCode = output.printError(new CryptorgError('ERR_USAGE', message, { cause: error }))
  output.note(`Run "${commandPath(command)} --help" for usage`)
  return exitCode
}

function commandPath(command: Command | undefined): string {
  const names: string[] = []
  for (let current = command; current; current = current.parent ?? undefined) {
    names.unshift(current.name())
  }
  return names.join(' ') || 'cryptorg'
}

function fallbackOutput(io: CliIo, argv: readonly string[]): Output {
  return new Output(io, { json: argv.includes('--json'), verbose: argv.includes('--verbose') })
}

function isPromptCancel(error: unknown): boolean {
  return error instanceof Error && error.name === 'ExitPromptError'
}

function readVersion(): string {
  const packageJson = packageFile('package.json')
  return (JSON.parse(readFileSync(packageJson, 'utf8')) as { version: string }).version
}
