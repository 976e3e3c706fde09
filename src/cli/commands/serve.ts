/**
 * `cryptorg serve`: the REST API, optionally with the poller in the same process (one systemd
 * unit for a small installation).
 *
 * @module
 */
import type { Command } from 'commander'

import { parsePruneAge } from '../../core/prices.js'
import { parseDuration } from '../../core/time.js'
import { validateInterval } from '../../daemon/loop.js'
import { systemClock } from '../../deps.js'
import { CryptorgError, toCryptorgError } from '../../errors.js'
import { coinGeckoOptionsFromEnv } from '../coingecko-env.js'
import type { CliContext } from '../context.js'
import { createLineLogger } from '../logger.js'
import type { ActionFactory } from '../main.js'
import { resolveLogFormat } from './daemon.js'

interface ServeFlags {
  host: string
  port: string
  daemon?: boolean
  interval: string
  retention?: string
  logFormat?: string
}

export function registerServeCommand(program: Command, action: ActionFactory): void {
  program
    .command('serve')
    .description("serve the REST API (the seed's /api/... endpoints) over HTTP")
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--port <number>', 'port to listen on (0 picks a free one)', '8000')
    .option('--daemon', 'also run the poller in this process')
    .option('--interval <duration>', 'with --daemon: time between ticks', '5m')
    .option('--retention <duration>', 'with --daemon: prune prices older than this daily')
    .option('--log-format <format>', 'human, json or journal (default: human on a terminal)')
    .addHelpText(
      'after',
      [
        '',
        'SIGTERM or SIGINT: stop accepting connections, let requests in flight finish (10s at',
        'most), stop the poller, close the database, exit 0.',
      ].join('\n'),
    )
    .action(action((ctx, flags: ServeFlags) => serveRun(ctx, flags)))
}

export async function serveRun(ctx: CliContext, flags: ServeFlags): Promise<void> {
  const port = parsePort(flags.port)
  const intervalMs = validateInterval(parseDuration(flags.interval, 'interval'))
  const retentionMs =
    flags.retention === undefined ? undefined : parsePruneAge(flags.retention, 'retention')
  const clock = ctx.io.clock ?? systemClock
  const logger = createLineLogger({
    stream: ctx.io.stderr,
    format: resolveLogFormat(flags.logFormat, Boolean(ctx.io.stderr.isTTY)),
    level: ctx.output.options.verbose ? 'debug' : 'info',
    clock,
  })

  const stopped = new AbortController()
  let listening = false
  const stopListening = ctx.io.onShutdown((signal) => {
    logger.info(`${signal} received; finishing requests in flight`, {})
    stopped.abort()
  })
  try {
    const c = await ctx.open({ coingecko: coinGeckoOptionsFromEnv(ctx.io.env), logger })
    // Loaded only here: the HTTP stack is no start-up cost of the other commands.
    const { startServer } = await import('../../server/index.js')
    const server = await startServer(c, {
      host: flags.host,
      port,
      logger,
      clock,
      ...(flags.daemon && { readyTickAgeMs: 2 * intervalMs + 60_000 }),
    })
    listening = true
    logger.info(`listening on ${server.url}`, { url: server.url, daemon: Boolean(flags.daemon) })
    let pollerFailure: unknown
    const poller = flags.daemon
      ? c.poller
          .run({
            intervalMs,
            signal: stopped.signal,
            ...(retentionMs !== undefined && { retentionMs }),
          })
          .catch((error: unknown) => {
            // Only a broken database stops the poller: the server cannot go on either.
            pollerFailure = error
            stopped.abort()
          })
      : undefined
    await new Promise<void>((resolve) => {
      if (stopped.signal.aborted) resolve()
      else stopped.signal.addEventListener('abort', () => resolve(), { once: true })
    })
    await Promise.all([server.close(), poller])
    if (pollerFailure !== undefined) throw pollerFailure
    logger.info('server stopped', {})
  } catch (error) {
    const failure = toCryptorgError(error)
    const what = listening ? 'server stopped' : 'server not started'
    logger.error(`${what}: ${failure.message}`, { code: failure.code })
    throw new CryptorgError(failure.code, failure.message, {
      cause: failure,
      details: { ...failure.details, logged: true },
    })
  } finally {
    stopListening()
  }
}

function parsePort(text: string): number {
  const port = /^\d{1,5}$/.test(text.trim()) ? Number(text) : Number.NaN
  if (!(port >= 0 && port <= 65_535)) {
    throw new CryptorgError(
      'ERR_USAGE',
      `--port must be a number from 0 to 65535, got ${JSON.stringify(text)}`,
    )
  }
  return port
}
