import type { Command } from 'commander'

import type { Member } from '../../core/members.js'
import { ROLES } from '../../core/actor.js'
import { CryptorgError } from '../../errors.js'
import type { CliContext } from '../context.js'
import type { ActionFactory } from '../main.js'

/** `cryptorg org members ...`: who belongs to an organization, with which role. */
export function registerMemberCommands(org: Command, action: ActionFactory): void {
  const roles = ROLES.join(', ')
  const members = org
    .command('members')
    .description(`list or manage the members of an organization (roles: ${roles})`)
    .argument('[org]', 'organization id or name: lists its members')
    .action(
      action(async (ctx, ref: string | undefined) => {
        if (ref === undefined) {
          throw new CryptorgError('ERR_USAGE', 'missing organization: cryptorg org members <org>')
        }
        await membersListRun(ctx, { org: ref })
      }),
    )

  members
    .command('list')
    .description('list the members of an organization, owners first')
    .argument('<org>', 'organization id or name')
    .action(action((ctx, ref: string) => membersListRun(ctx, { org: ref })))

  members
    .command('add')
    .description('add a user to an organization (owners and admins)')
    .argument('<org>', 'organization id or name')
    .argument('<user>', 'username')
    .option('--role <role>', `one of ${roles}`, 'member')
    .action(
      action(async (ctx, ref: string, username: string, flags: { role: string }) => {
        const c = await ctx.workspace()
        const member = await c.members.add(ref, username, flags.role as Member['role'])
        if (ctx.output.json) return ctx.output.printJson(member)
        const name = (await c.orgs.get(ref)).name
        ctx.output.printLine(
          `Added ${member.username} to ${JSON.stringify(name)} as ${member.role}`,
        )
      }),
    )

  members
    .command('remove')
    .alias('rm')
    .description('remove a user from an organization (owners and admins)')
    .argument('<org>', 'organization id or name')
    .argument('<user>', 'username')
    .action(
      action(async (ctx, ref: string, username: string) => {
        const c = await ctx.workspace()
        const name = (await c.orgs.get(ref)).name
        await c.members.remove(ref, username)
        if (ctx.output.json) return ctx.output.printJson({ org: name, username, removed: true })
        ctx.output.printLine(`Removed ${username} from ${JSON.stringify(name)}`)
      }),
    )

  members
    .command('role')
    .description("change a member's role (owners and admins)")
    .argument('<org>', 'organization id or name')
    .argument('<user>', 'username')
    .argument('<role>', roles)
    .action(
      action(async (ctx, ref: string, username: string, role: string) => {
        const c = await ctx.workspace()
        const member = await c.members.setRole(ref, username, role as Member['role'])
        if (ctx.output.json) return ctx.output.printJson(member)
        const name = (await c.orgs.get(ref)).name
        ctx.output.printLine(`${member.username} is now ${member.role} of ${JSON.stringify(name)}`)
      }),
    )
}

export async function membersListRun(ctx: CliContext, opts: { org: string }): Promise<void> {
  const c = await ctx.workspace()
  const list = await c.members.list(opts.org)
  if (ctx.output.json) return ctx.output.printJson(list)
  ctx.output.printTable(
    ['USERNAME', 'ROLE', 'JOINED', 'ACTIVE'],
    list.map((m) => [m.username, m.role, m.joined_at, m.is_active ? 'yes' : 'no']),
  )
}
