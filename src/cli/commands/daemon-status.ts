import type { Command } from 'commander'

import type { DaemonStatus } from '../../daemon/health.js'
import { formatDuration } from '../../core/time.js'
import { CryptorgError } from '../../errors.js'
import type { CliContext } from '../context.js'
import type { ActionFactory } from '../main.js'

export function registerDaemonStatusCommand(daemon: Command, action: ActionFactory): void {
  daemon
    .command('status')
    .description(
      'show the leading daemon, the last success and failure, and the next tick; ' +
        'exits 6 when the last success is older than two intervals',
    )
    .action(action((ctx) => daemonStatusRun(ctx)))
}

export async function daemonStatusRun(ctx: CliContext): Promise<void> {
  const c = await ctx.open()
  const status = await c.poller.status()
  if (ctx.output.json) ctx.output.printJson(status)
  else printStatus(ctx, status)

  if (!status.healthy) {
    throw new CryptorgError('ERR_UNHEALTHY', `daemon is unhealthy: ${status.problem}`)
  }
}

function printStatus(ctx: CliContext, status: DaemonStatus): void {
  const leader = status.leader
  const success = status.last_success
  const failure = status.last_failure
  ctx.output.printRecord([
    ['healthy', status.healthy ? 'yes' : `no (${status.problem})`],
    ['interval', status.interval_ms === null ? '-' : formatDuration(status.interval_ms)],
    [
      'leader',
      leader === null
        ? 'none yet'
        : leader.active
          ? `${leader.holder} (since ${leader.acquired_at})`
          : `none (${leader.holder} let its lease expire at ${leader.expires_at})`,
    ],
    ['next tick', status.next_tick_at ?? '-'],
    [
      'last success',
      success
        ? `${success.finished_at} (${success.rows_written} rows, slot ${success.slot_at})`
        : '-',
    ],
    ['last failure', failure ? `${failure.finished_at}: ${failure.error}` : '-'],
  ])
}
