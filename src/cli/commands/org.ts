import type { Command } from 'commander'

import { ORG_ORDERINGS, type OrgListOptions, type Organization } from '../../core/orgs.js'
import { CryptorgError } from '../../errors.js'
import type { CliContext } from '../context.js'
import type { ActionFactory } from '../main.js'
import { plural } from '../output.js'
import { registerMemberCommands } from './members.js'

export function registerOrgCommands(program: Command, action: ActionFactory): void {
  const org = program.command('org').description('create, list, rename and delete organizations')

  org
    .command('create')
    .description('create an organization')
    .argument('<name>', 'organization name, unique regardless of case')
    .action(action((ctx, name: string) => orgCreateRun(ctx, { name })))

  org
    .command('list')
    .alias('ls')
    .description('list the organizations you belong to (all of them for admins), oldest first')
    .option('--search <text>', 'only names containing this text, ignoring case')
    .option('--ordering <field>', `sort by ${ORG_ORDERINGS.join(', ')}`, 'created_at')
    .action(action((ctx, flags: OrgListOptions) => orgListRun(ctx, flags)))

  org
    .command('show')
    .description('show one organization')
    .argument('<org>', 'organization id or name')
    .action(action((ctx, ref: string) => orgShowRun(ctx, { org: ref })))

  org
    .command('rename')
    .description('rename an organization')
    .argument('<org>', 'organization id or name')
    .argument('<new-name>', 'the new name')
    .action(action((ctx, ref: string, newName: string) => orgRenameRun(ctx, { org: ref, newName })))

  org
    .command('delete')
    .alias('rm')
    .description('delete an organization and all of its prices')
    .argument('<org>', 'organization id or name')
    .option('-y, --yes', 'do not ask for confirmation (required when not on a terminal)')
    .action(
      action((ctx, ref: string, flags: { yes?: boolean }) =>
        orgDeleteRun(ctx, { org: ref, yes: Boolean(flags.yes) }),
      ),
    )

  registerMemberCommands(org, action)
}

export async function orgCreateRun(ctx: CliContext, opts: { name: string }): Promise<void> {
  const c = await ctx.workspace()
  const org = await c.orgs.create(opts.name)
  if (ctx.output.json) return ctx.output.printJson(org)
  ctx.output.printLine(`Created organization ${JSON.stringify(org.name)} (${org.id})`)
}

export async function orgListRun(ctx: CliContext, options: OrgListOptions = {}): Promise<void> {
  const c = await ctx.workspace()
  const orgs = await c.orgs.list({
    ...(options.search !== undefined && { search: options.search }),
    ...(options.ordering !== undefined && { ordering: options.ordering }),
  })
  if (ctx.output.json) return ctx.output.printJson(orgs)
  if (orgs.length === 0 && options.search !== undefined) {
    ctx.output.note(`No organization name contains ${JSON.stringify(options.search)}`)
    return
  }
  if (orgs.length === 0) {
    ctx.output.note('No organizations yet; create one with: cryptorg org create <name>')
    return
  }
  ctx.output.printTable(
    ['ID', 'NAME', 'CREATED'],
    orgs.map((o) => [o.id, o.name, o.created_at]),
  )
}

export async function orgShowRun(ctx: CliContext, opts: { org: string }): Promise<void> {
  const c = await ctx.workspace()
  const org = await c.orgs.get(opts.org)
  if (ctx.output.json) return ctx.output.printJson(org)
  printOrganization(ctx, org)
}

export async function orgRenameRun(
  ctx: CliContext,
  opts: { org: string; newName: string },
): Promise<void> {
  const c = await ctx.workspace()
  const before = await c.orgs.get(opts.org)
  const org = await c.orgs.rename(before.id, opts.newName)
  if (ctx.output.json) return ctx.output.printJson(org)
  ctx.output.printLine(
    `Renamed organization ${JSON.stringify(before.name)} to ${JSON.stringify(org.name)}`,
  )
}

export async function orgDeleteRun(
  ctx: CliContext,
  opts: { org: string; yes: boolean },
): Promise<void> {
  const c = await ctx.workspace()
  // Refused before the question, not after a person said yes.
  const org = await c.orgs.get(opts.org, { role: 'owner', doing: 'deleting' })
  if (!opts.yes) {
    if (!ctx.canPrompt()) {
      throw new CryptorgError(
        'ERR_USAGE',
        `refusing to delete organization ${JSON.stringify(org.name)} without --yes ` +
          'when not on a terminal',
      )
    }
    const agreed = await ctx.io.confirm(
      `Delete organization ${JSON.stringify(org.name)} and all of its prices?`,
    )
    if (!agreed) {
      ctx.output.note('Nothing deleted')
      return
    }
  }
  const deleted = await c.orgs.delete(org.id)
  if (ctx.output.json) return ctx.output.printJson(deleted)
  const count = deleted.prices_deleted
  ctx.output.printLine(
    `Deleted organization ${JSON.stringify(org.name)} and its ${plural(count, 'price')}`,
  )
}

function printOrganization(ctx: CliContext, org: Organization): void {
  ctx.output.printRecord([
    ['id', org.id],
    ['name', org.name],
    ['created_at', org.created_at],
  ])
}
