import type { Command } from 'commander'

import { formatDuration, parseDuration } from '../../core/time.js'
import { parsePruneAge } from '../../core/prices.js'
import { RECOMMENDED_MIN_INTERVAL_MS, validateInterval } from '../../daemon/loop.js'
import { describeTick } from '../../daemon/tick.js'
import { systemClock } from '../../deps.js'
import { CryptorgError, toCryptorgError } from '../../errors.js'
import { coinGeckoOptionsFromEnv } from '../coingecko-env.js'
import type { CliContext } from '../context.js'
import { type LogFormat, createLineLogger } from '../logger.js'
import type { ActionFactory } from '../main.js'
import { registerDaemonStatusCommand } from './daemon-status.js'
import { registerDaemonUnitCommand } from './daemon-unit.js'

interface DaemonFlags {
  once?: boolean
  interval: string
  jitter?: string
  retention?: string
  logFormat?: string
}

const LOG_FORMATS: readonly LogFormat[] = ['human', 'json', 'journal']

export function registerDaemonCommand(program: Command, action: ActionFactory): Command {
  const daemon = program
    .command('daemon')
    .description('fetch the tracked coins from CoinGecko now and then at every interval')
    .option('--once', 'run a single tick and exit (non-zero if it failed)')
    .option('--interval <duration>', 'time between ticks, at least 1s (30s, 5m, 1h)', '5m')
    .option('--jitter <duration>', 'start each tick up to this much later, at random')
    .option('--retention <duration>', 'prune prices older than this once a day (at least 1d)')
    .option(
      '--log-format <format>',
      'human, json or journal (default: human on a terminal, else json)',
    )
    .addHelpText(
      'after',
      [
        '',
        'Ticks fall on interval boundaries (:00, :05, ... for 5m). Only one daemon per database',
        'writes ticks (the holder of the leader lease); others stand by and take over.',
        '',
        'Environment:',
        '  CRYPTORG_COINGECKO_URL      API root (default https://api.coingecko.com/api/v3)',
        '  COINGECKO_API_KEY           API key, sent as a header and never logged',
        '  COINGECKO_API_PLAN          demo (default) or pro; pro uses pro-api.coingecko.com',
        '  CRYPTORG_COINGECKO_TIMEOUT  time one request may take (default 10s)',
      ].join('\n'),
    )
    .action(action((ctx, flags: DaemonFlags) => daemonRun(ctx, flags)))

  registerDaemonStatusCommand(daemon, action)
  registerDaemonUnitCommand(daemon, action)
  return daemon
}

export async function daemonRun(ctx: CliContext, flags: DaemonFlags): Promise<void> {
  const intervalMs = validateInterval(parseDuration(flags.interval, 'interval'))
  const jitterMs = flags.jitter === undefined ? 0 : parseDuration(flags.jitter, 'jitter')
  const retentionMs =
    flags.retention === undefined ? undefined : parsePruneAge(flags.retention, 'retention')
  const coingecko = coinGeckoOptionsFromEnv(ctx.io.env)
  const logger = createLineLogger({
    stream: ctx.io.stderr,
    format: resolveLogFormat(flags.logFormat, Boolean(ctx.io.stderr.isTTY)),
    level: ctx.output.options.verbose ? 'debug' : 'info',
    clock: ctx.io.clock ?? systemClock,
  })

  if (flags.once) {
    const c = await ctx.open({ coingecko, logger })
    const result = await c.poller.tick()
    if (ctx.output.json) return ctx.output.printJson(result)
    ctx.output.printLine(describeTick(result))
    return
  }

  // Listening before the database opens means an early SIGTERM still ends the run cleanly.
  const controller = new AbortController()
  const stopListening = ctx.io.onShutdown((signal) => {
    logger.info(`${signal} received; stopping after the current tick`, {})
    controller.abort()
  })
  try {
    const c = await ctx.open({ coingecko, logger })
    if (intervalMs < RECOMMENDED_MIN_INTERVAL_MS) {
      logger.warn(
        `interval ${formatDuration(intervalMs)} is shorter than a minute; CoinGecko refreshes ` +
          'prices about once a minute, so most ticks will store repeated prices',
        {},
      )
    }
    const symbols = (await c.system.coins.list()).map((coin) => coin.symbol)
    logger.info(
      `daemon started: ${symbols.join(', ') || 'no coins'} every ${formatDuration(intervalMs)}`,
      { interval_ms: intervalMs, database: ctx.databaseDescription() },
    )
    const summary = await c.poller.run({
      intervalMs,
      jitterMs,
      signal: controller.signal,
      ...(retentionMs !== undefined && { retentionMs }),
    })
    logger.info(`daemon stopped after ${summary.ticks} tick(s), ${summary.failures} failed`, {})
    if (ctx.output.json) ctx.output.printJson(summary)
  } catch (error) {
    // The daemon's last word belongs in its log, in the log's format, not as a bare line.
    const failure = toCryptorgError(error)
    logger.error(`daemon stopped: ${failure.message}`, { code: failure.code })
    throw new CryptorgError(failure.code, failure.message, {
      cause: failure,
      details: { ...failure.details, logged: true },
    })
  } finally {
    stopListening()
  }
}

export function resolveLogFormat(flag: string | undefined, onTerminal: boolean): LogFormat {
  if (flag === undefined) return onTerminal ? 'human' : 'json'
  if ((LOG_FORMATS as readonly string[]).includes(flag)) return flag as LogFormat
  throw new CryptorgError(
    'ERR_USAGE',
    `--log-format must be human, json or journal, got ${JSON.stringify(flag)}`,
  )
}
