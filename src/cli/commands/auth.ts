/**
 * Signing in from the command line: `init`, `login`, `logout`, `whoami`, `auth status` and
 * `auth token`.
 *
 * @module
 */
import type { Command } from 'commander'

import type { TokenPair } from '../../core/auth.js'
import { newUsername } from '../../core/users-lookup.js'
import { CryptorgError } from '../../errors.js'
import type { Cryptorg } from '../../open.js'
import type { CliContext } from '../context.js'
import type { ActionFactory } from '../main.js'
import { readPassword, readUsername } from '../credentials-input.js'

interface SignInFlags {
  username?: string
  passwordStdin?: boolean
}

export function registerAuthCommands(program: Command, action: ActionFactory): void {
  program
    .command('init')
    .description('set up a new database: create the first administrator and sign in')
    .option('--username <name>', 'name of the first administrator (asked on a terminal)')
    .option('--password-stdin', 'read the password from standard input')
    .action(action((ctx, flags: SignInFlags) => initRun(ctx, flags)))

  program
    .command('login')
    .description('sign in and keep the tokens in the OS keychain')
    .option('--username <name>', 'who signs in (asked on a terminal)')
    .option('--password-stdin', 'read the password from standard input')
    .action(action((ctx, flags: SignInFlags) => loginRun(ctx, flags)))

  program
    .command('logout')
    .description('sign out: end the session and forget its tokens')
    .action(action((ctx) => logoutRun(ctx)))

  program
    .command('whoami')
    .description('print the signed-in user')
    .action(action((ctx) => whoamiRun(ctx)))

  const auth = program.command('auth').description('inspect the sign-in')
  auth
    .command('status')
    .description('who is signed in, until when, and where the tokens are kept')
    .action(action((ctx) => authStatusRun(ctx)))
  auth
    .command('token')
    .description('print a valid access token, for CRYPTORG_TOKEN in scripts')
    .action(action((ctx) => authTokenRun(ctx)))
}

export async function initRun(ctx: CliContext, flags: SignInFlags): Promise<void> {
  const c = await ctx.open()
  if (await c.auth.initialized()) {
    throw new CryptorgError(
      'ERR_CONFLICT',
      `${ctx.databaseDescription()} is already set up: sign in with "cryptorg login"`,
    )
  }
  const username = await readUsername(ctx, flags.username, 'Administrator username', newUsername)
  const password = await readPassword(ctx, {
    fromStdin: Boolean(flags.passwordStdin),
    message: `Password for ${username}`,
    confirm: true,
  })
  const user = await c.auth.bootstrap({ username, password })
  const pair = await c.auth.login(username, password)
  const where = await keep(ctx, c, pair)
  if (ctx.output.json)
    return ctx.output.printJson({ user, database: ctx.databaseDescription(), ...where })
  ctx.output.printLine(`Created administrator ${user.username} and signed in`)
  ctx.output.note(`Database: ${ctx.databaseDescription()}`)
  ctx.output.note(`Tokens kept in ${where.location}`)
}

export async function loginRun(ctx: CliContext, flags: SignInFlags): Promise<void> {
  const c = await ctx.open()
  if (!(await c.auth.initialized())) {
    throw new CryptorgError(
      'ERR_UNAUTHENTICATED',
      'this database has no users yet: run "cryptorg init" to create the first administrator',
    )
  }
  const username = await readUsername(ctx, flags.username, 'Username')
  const password = await readPassword(ctx, {
    fromStdin: Boolean(flags.passwordStdin),
    message: `Password for ${username}`,
    confirm: false,
  })
  const pair = await c.auth.login(username, password)
  const where = await keep(ctx, c, pair)
  if (ctx.output.json) {
    return ctx.output.printJson({
      user: pair.user,
      access_expires_at: pair.access_expires_at,
      refresh_expires_at: pair.refresh_expires_at,
      ...where,
    })
  }
  ctx.output.printLine(`Signed in as ${pair.user.username}`)
  ctx.output.note(`Tokens kept in ${where.location}`)
}

export async function logoutRun(ctx: CliContext): Promise<void> {
  const { signOut } = await import('../session.js')
  const { username, leftover } = await signOut(ctx, await ctx.open())
  if (leftover !== undefined) {
    ctx.output.note(`The session has ended, but its old tokens could not be removed: ${leftover}`)
  }
  if (ctx.output.json) return ctx.output.printJson({ signed_out: username ?? null })
  if (username === undefined) ctx.output.note('Not signed in; nothing to do')
  else ctx.output.printLine(`Signed out ${username}`)
}

export async function whoamiRun(ctx: CliContext): Promise<void> {
  const me = await (await ctx.workspace()).users.me()
  if (ctx.output.json) return ctx.output.printJson(me)
  ctx.output.printLine(me.is_admin ? `${me.username} (administrator)` : me.username)
}

export async function authStatusRun(ctx: CliContext): Promise<void> {
  const { readSessionInfo } = await import('../session.js')
  const fromEnv = (ctx.io.env['CRYPTORG_TOKEN'] ?? '').trim() !== ''
  const info = fromEnv ? undefined : await readSessionInfo(ctx)
  if (!fromEnv && !info) {
    throw new CryptorgError('ERR_UNAUTHENTICATED', 'not signed in: run "cryptorg login"')
  }
  // Checking the token for real: a status that says "signed in" must mean commands will work.
  const me = await (await ctx.workspace()).users.me()
  const after = fromEnv ? undefined : await readSessionInfo(ctx)
  const status = {
    username: me.username,
    is_admin: me.is_admin,
    database: ctx.databaseDescription(),
    source: fromEnv ? 'CRYPTORG_TOKEN' : 'stored',
    store: after?.store ?? null,
    location: after?.location ?? null,
    access_expires_at: after?.access_expires_at ?? null,
    refresh_expires_at: after?.refresh_expires_at ?? null,
  }
  if (ctx.output.json) return ctx.output.printJson(status)
  ctx.output.printRecord([
    ['user', `${me.username}${me.is_admin ? ' (administrator)' : ''}`],
    ['database', status.database],
    ['token from', fromEnv ? 'CRYPTORG_TOKEN' : `${status.store}: ${status.location}`],
    ...(after
      ? ([
          ['access expires', after.access_expires_at ?? 'unknown'],
          ['session expires', after.refresh_expires_at ?? 'unknown'],
        ] as const)
      : []),
  ])
}

export async function authTokenRun(ctx: CliContext): Promise<void> {
  const c = await ctx.open()
  const { currentTokens } = await import('../session.js')
  const tokens = await currentTokens(ctx, c)
  await c.auth.authenticate(tokens.access)
  if (ctx.output.json) {
    return ctx.output.printJson({ access: tokens.access, expires_at: tokens.access_expires_at })
  }
  ctx.output.printLine(tokens.access)
}

async function keep(
  ctx: CliContext,
  c: Cryptorg,
  pair: TokenPair,
): Promise<{ store: string; location: string }> {
  const { saveSession } = await import('../session.js')
  try {
    const store = await saveSession(ctx, pair, c)
    return { store: store.kind, location: store.location }
  } catch (error) {
    // Tokens that could not be kept must not stay valid anywhere.
    await c.auth.endSession(pair.session_id)
    throw error
  }
}
