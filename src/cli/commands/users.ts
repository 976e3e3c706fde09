/**
 * `cryptorg user ...`: managing the users of an installation (administrators), and changing
 * one's own password (everyone).
 *
 * @module
 */
import type { Command } from 'commander'

import type { User } from '../../core/users.js'
import { newUsername } from '../../core/users-lookup.js'
import { CryptorgError } from '../../errors.js'
import type { CliContext } from '../context.js'
import { readPassword } from '../credentials-input.js'
import type { ActionFactory } from '../main.js'

export function registerUserCommands(program: Command, action: ActionFactory): void {
  const user = program.command('user').description('manage users (administrators)')

  user
    .command('create')
    .description('create a user')
    .argument('<name>', 'username: letters, digits and @ . + - _')
    .option('--admin', 'make the user an administrator')
    .option('--password-stdin', 'read the password from standard input')
    .action(
      action(async (ctx, name: string, flags: { admin?: boolean; passwordStdin?: boolean }) => {
        const c = await ctx.workspace()
        newUsername(name)
        const password = await readPassword(ctx, {
          fromStdin: Boolean(flags.passwordStdin),
          message: `Password for ${name}`,
          confirm: true,
        })
        const created = await c.users.create({
          username: name,
          password,
          admin: Boolean(flags.admin),
        })
        if (ctx.output.json) return ctx.output.printJson(created)
        const kind = created.is_admin ? 'administrator' : 'user'
        ctx.output.printLine(`Created ${kind} ${created.username}`)
      }),
    )

  user
    .command('list')
    .alias('ls')
    .description('list users')
    .action(
      action(async (ctx) => {
        const users = await (await ctx.workspace()).users.list()
        if (ctx.output.json) return ctx.output.printJson(users)
        ctx.output.printTable(['USERNAME', 'ADMIN', 'ACTIVE', 'CREATED'], users.map(userRow))
      }),
    )

  user
    .command('passwd')
    .description('change a password (your own when no name is given)')
    .argument('[name]', "username (administrators may change anyone's)")
    .option(
      '--password-stdin',
      'read from standard input: the new password, preceded by the current one on its own ' +
        'line when changing your own',
    )
    .action(
      action(async (ctx, name: string | undefined, flags: { passwordStdin?: boolean }) => {
        const c = await ctx.workspace()
        const me = await c.users.me()
        const target = name ?? me.username
        const own = target.toLowerCase() === me.username.toLowerCase()
        let currentPassword: string | undefined
        let newPassword: string
        if (flags.passwordStdin) {
          const lines = (await ctx.io.readStdin()).split(/\r?\n/)
          if (own) currentPassword = lines.shift() ?? ''
          newPassword = lines[0] ?? ''
          if (newPassword === '') {
            throw new CryptorgError('ERR_USAGE', 'no new password on standard input')
          }
        } else {
          if (own) {
            currentPassword = await readPassword(ctx, {
              fromStdin: false,
              message: 'Current password',
              confirm: false,
            })
          }
          newPassword = await readPassword(ctx, {
            fromStdin: false,
            message: `New password for ${target}`,
            confirm: true,
          })
        }
        const changed = await c.users.changePassword(target, {
          newPassword,
          ...(currentPassword !== undefined && { currentPassword }),
        })
        if (ctx.output.json)
          return ctx.output.printJson({ username: changed.username, changed: true })
        ctx.output.printLine(
          `Changed the password of ${changed.username} and ended all of their sessions`,
        )
        if (own) ctx.output.note('Sign in again with: cryptorg login')
      }),
    )

  user
    .command('deactivate')
    .description('block a user from signing in and end their sessions')
    .argument('<name>', 'username')
    .action(
      action(async (ctx, name: string) => {
        const done = await (await ctx.workspace()).users.deactivate(name)
        if (ctx.output.json) return ctx.output.printJson(done)
        ctx.output.printLine(`Deactivated ${done.username}`)
      }),
    )

  user
    .command('activate')
    .description('let a deactivated user sign in again')
    .argument('<name>', 'username')
    .action(
      action(async (ctx, name: string) => {
        const done = await (await ctx.workspace()).users.activate(name)
        if (ctx.output.json) return ctx.output.printJson(done)
        ctx.output.printLine(`Activated ${done.username}`)
      }),
    )

  user
    .command('delete')
    .alias('rm')
    .description('delete a user and their memberships')
    .argument('<name>', 'username')
    .option('-y, --yes', 'do not ask for confirmation (required when not on a terminal)')
    .action(
      action(async (ctx, name: string, flags: { yes?: boolean }) => {
        const c = await ctx.workspace()
        const target = await c.users.get(name)
        if (!flags.yes) {
          if (!ctx.canPrompt()) {
            throw new CryptorgError(
              'ERR_USAGE',
              `refusing to delete user ${target.username} without --yes when not on a terminal`,
            )
          }
          if (!(await ctx.io.confirm(`Delete user ${target.username}?`))) {
            ctx.output.note('Nothing deleted')
            return
          }
        }
        const done = await c.users.delete(target.username)
        if (ctx.output.json) return ctx.output.printJson(done)
        ctx.output.printLine(`Deleted user ${done.username}`)
      }),
    )
}

function userRow(user: User): string[] {
  return [
    user.username,
    user.is_admin ? 'yes' : 'no',
    user.is_active ? 'yes' : 'no',
    user.created_at,
  ]
}
