import type { Command } from 'commander'

import { parseSince } from '../../core/time.js'
import type { ActionFactory } from '../main.js'

interface AuditFlags {
  org?: string
  since?: string
  limit?: string
}

/** `cryptorg audit`: who changed organizations, members and users. */
export function registerAuditCommand(program: Command, action: ActionFactory): void {
  program
    .command('audit')
    .description('show the audit trail, newest first (admins: all; owners: their organizations)')
    .option('--org <org>', 'only this organization (id or name)')
    .option('--since <when>', 'a duration back from now (24h, 7d) or an ISO-8601 time')
    .option('--limit <n>', 'at most this many events (1-10000)', '100')
    .action(
      action(async (ctx, flags: AuditFlags) => {
        const c = await ctx.workspace()
        const since =
          flags.since === undefined
            ? undefined
            : parseSince(flags.since, new Date(ctx.now()), 'since')
        const events = await c.audit.list({
          ...(flags.org !== undefined && { org: flags.org }),
          ...(since !== undefined && { since }),
          ...(flags.limit !== undefined && { limit: flags.limit }),
        })
        if (ctx.output.json) return ctx.output.printJson(events)
        if (events.length === 0) {
          ctx.output.note('No events')
          return
        }
        ctx.output.printTable(
          ['TIME', 'ACTOR', 'ACTION', 'ORGANIZATION', 'USER', 'DETAILS'],
          events.map((e) => [
            e.at,
            e.actor,
            e.action,
            e.org_name ?? '',
            e.user ?? '',
            e.details === null ? '' : JSON.stringify(e.details),
          ]),
        )
      }),
    )
}
