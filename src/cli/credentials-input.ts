/**
 * Usernames and passwords typed by a person (through inquirer, on a terminal) or piped by a
 * script (`--password-stdin`). Never from a flag: a password on the command line ends up in
 * the shell history and in `ps`.
 *
 * @module
 */
import { checkNewPassword } from '../auth/password.js'
import { CryptorgError } from '../errors.js'
import type { CliContext } from './context.js'

/**
 * The username from `--username`, or asked on a terminal. `check` runs at once, so that a bad
 * name is refused before any password is asked for.
 */
export async function readUsername(
  ctx: CliContext,
  given: string | undefined,
  message: string,
  check: (name: string) => string = (name) => name,
): Promise<string> {
  if (given !== undefined) return check(given)
  if (!ctx.canPrompt()) {
    throw new CryptorgError('ERR_USAGE', '--username is required when not on a terminal')
  }
  return check(await ctx.io.ask(message))
}

export interface PasswordQuestion {
  fromStdin: boolean
  message: string
  /** Ask twice and compare (for a new password). */
  confirm: boolean
}

export async function readPassword(ctx: CliContext, question: PasswordQuestion): Promise<string> {
  if (question.fromStdin) {
    const password = await ctx.passwordFromStdin()
    if (password === '') throw new CryptorgError('ERR_USAGE', 'no password on standard input')
    return password
  }
  if (!ctx.canPrompt()) {
    throw new CryptorgError(
      'ERR_USAGE',
      'a password is needed: use --password-stdin when not on a terminal',
    )
  }
  const password = await ctx.io.askPassword(question.message)
  if (question.confirm) {
    // A new password: say what is wrong with it before asking for it a second time.
    checkNewPassword(password)
    const again = await ctx.io.askPassword('Repeat the password')
    if (again !== password) {
      throw new CryptorgError('ERR_VALIDATION', 'the two passwords differ; nothing was changed')
    }
  }
  return password
}
