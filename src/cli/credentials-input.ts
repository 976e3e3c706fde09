/**
 * Usernames and passwords typed by a person (through inquirer, on a terminal) or piped by a
 * script (`--password-stdin`). Never from a flag: a password on the command line ends up in
 * the shell history and in `ps`.
 *
 * @module
 */
import { CryptorgError } from '../errors.js'
import type { CliContext } from './context.js'

export async function readUsername(
  ctx: CliContext,
  given: string | undefined,
  message: string,
): Promise<string> {
  if (given !== undefined) return given
  if (!ctx.canPrompt()) {
    throw new CryptorgError('ERR_USAGE', '--username is required when not on a terminal')
  }
  return ctx.io.ask(message)
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
    const again = await ctx.io.askPassword('Repeat the password')
    if (again !== password) {
      throw new CryptorgError('ERR_VALIDATION', 'the two passwords differ; nothing was changed')
    }
  }
  return password
}
