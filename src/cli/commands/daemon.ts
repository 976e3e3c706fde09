import type { Command } from 'commander'

import type { CoinGeckoOptions } from '../../coingecko/client.js'
import { formatDuration, parseDuration } from '../../core/time.js'
import { RECOMMENDED_MIN_INTERVAL_MS, validateInterval } from '../../daemon/loop.js'
import { describeTick } from '../../daemon/tick.js'
import { systemClock } from '../../deps.js'
import { CryptorgError } from '../../errors.js'
import type { CliContext } from '../context.js'
import { type LogFormat, createLineLogger } from '../logger.js'
import type { ActionFactory } from '../main.js'

interface DaemonFlags {
  once?: boolean
  interval: string
  logFormat?: string
}

export function registerDaemonCommand(program: Command, action: ActionFactory): void {
  program
    .command('daemon')
    .description('fetch the tracked coins from CoinGecko now and then at every interval')
    .option('--once', 'run a single tick and exit (non-zero if it failed)')
    .option('--interval <duration>', 'time between ticks, at least 1s (30s, 5m, 1h)', '5m')
    .option('--log-format <format>', 'human or json (default: human on a terminal, else json)')
    .addHelpText(
      'after',
      [
        '',
        'Environment:',
        '  CRYPTORG_COINGECKO_URL      API root (default https://api.coingecko.com/api/v3)',
        '  COINGECKO_API_KEY           API key, sent as a header and never logged',
        '  COINGECKO_API_PLAN          demo (default) or pro; pro uses pro-api.coingecko.com',
        '  CRYPTORG_COINGECKO_TIMEOUT  time one request may take (default 10s)',
      ].join('\n'),
    )
    .action(action((ctx, flags: DaemonFlags) => daemonRun(ctx, flags)))
}

export async function daemonRun(ctx: CliContext, flags: DaemonFlags): Promise<void> {
  const intervalMs = validateInterval(parseDuration(flags.interval, 'interval'))
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
    const symbols = (await c.coins.list()).map((coin) => coin.symbol)
    logger.info(
      `daemon started: ${symbols.join(', ') || 'no coins'} every ${formatDuration(intervalMs)}`,
      { interval_ms: intervalMs, database: ctx.databasePath() },
    )
    const summary = await c.poller.run({ intervalMs, signal: controller.signal })
    logger.info(`daemon stopped after ${summary.ticks} tick(s), ${summary.failures} failed`, {})
    if (ctx.output.json) ctx.output.printJson(summary)
  } finally {
    stopListening()
  }
}

/** Reads the CoinGecko settings from the environment, naming the variable at fault. */
export function coinGeckoOptionsFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): CoinGeckoOptions {
  const options: CoinGeckoOptions = {}
  const url = env['CRYPTORG_COINGECKO_URL']?.trim()
  if (url) {
    if (!/^https?:\/\/[^/\s]+/i.test(url)) {
      throw new CryptorgError(
        'ERR_USAGE',
        `CRYPTORG_COINGECKO_URL must be an http or https URL, got ${JSON.stringify(url)}`,
      )
    }
    options.baseUrl = url
  }
  const apiKey = env['COINGECKO_API_KEY']?.trim()
  if (apiKey) options.apiKey = apiKey
  const plan = env['COINGECKO_API_PLAN']?.trim().toLowerCase()
  if (plan) {
    if (plan !== 'demo' && plan !== 'pro') {
      throw new CryptorgError(
        'ERR_USAGE',
        `COINGECKO_API_PLAN must be demo or pro, got ${JSON.stringify(plan)}`,
      )
    }
    if (plan === 'pro' && !apiKey) {
      throw new CryptorgError(
        'ERR_USAGE',
        'COINGECKO_API_PLAN is pro but COINGECKO_API_KEY is not set',
      )
    }
    options.plan = plan
  }
  const timeout = env['CRYPTORG_COINGECKO_TIMEOUT']?.trim()
  if (timeout) {
    const timeoutMs = parseDuration(timeout, 'CRYPTORG_COINGECKO_TIMEOUT')
    if (timeoutMs < 100 || timeoutMs > 300_000) {
      throw new CryptorgError(
        'ERR_USAGE',
        `CRYPTORG_COINGECKO_TIMEOUT must be from 100ms to 5m, got ${JSON.stringify(timeout)}`,
      )
    }
    options.timeoutMs = timeoutMs
  }
  return options
}

function resolveLogFormat(flag: string | undefined, onTerminal: boolean): LogFormat {
  if (flag === undefined) return onTerminal ? 'human' : 'json'
  if (flag === 'human' || flag === 'json') return flag
  throw new CryptorgError(
    'ERR_USAGE',
    `--log-format must be human or json, got ${JSON.stringify(flag)}`,
  )
}
