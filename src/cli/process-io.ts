import { homedir } from 'node:os'

import { CryptorgError } from '../errors.js'
import type { CliIo } from './io.js'

const MAX_STDIN_BYTES = 64 * 1024

/** Exit code of a run interrupted by Ctrl-C or a signal, by shell convention. */
export const INTERRUPTED_EXIT_CODE = 130

/** The {@link CliIo} of the real process. */
export function createProcessIo(): CliIo {
  // A reader that stops early (`| head -1`) closes the pipe: that is not our failure, and the
  // work the command did is already committed, so leave quietly as a piped tool does.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0)
    throw error
  })
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    // A getter: process.stdin builds a stream (and loads its modules) on first access, a cost
    // only the commands that ask a question should pay.
    get stdin() {
      return process.stdin
    },
    env: process.env,
    homedir: homeDirectory(),
    platform: process.platform,
    onShutdown(handler) {
      let received = 0
      const onSignal = (signal: NodeJS.Signals) => {
        received += 1
        // The first signal asks for a graceful stop; a second one means "now".
        if (received > 1) process.exit(INTERRUPTED_EXIT_CODE)
        handler(signal)
      }
      process.on('SIGINT', onSignal)
      process.on('SIGTERM', onSignal)
      return () => {
        process.off('SIGINT', onSignal)
        process.off('SIGTERM', onSignal)
      }
    },
    async confirm(message) {
      // Loaded only when a question is really asked: prompts are no start-up cost.
      const { confirm } = await import('@inquirer/prompts')
      return confirm({ message, default: false }, { input: process.stdin, output: process.stderr })
    },
    async ask(message) {
      const { input } = await import('@inquirer/prompts')
      return input({ message }, { input: process.stdin, output: process.stderr })
    },
    async askPassword(message) {
      const { password } = await import('@inquirer/prompts')
      return password({ message, mask: '*' }, { input: process.stdin, output: process.stderr })
    },
    async readStdin() {
      const chunks: Buffer[] = []
      let size = 0
      for await (const chunk of process.stdin) {
        size += (chunk as Buffer).length
        // Passwords are at most 1024 characters: do not buffer whatever is piped in.
        if (size > MAX_STDIN_BYTES) {
          throw new CryptorgError('ERR_USAGE', 'standard input is larger than 64 KiB')
        }
        chunks.push(chunk as Buffer)
      }
      return Buffer.concat(chunks).toString('utf8')
    },
  }
}

/** The user's home, or '' when there is none (no HOME and no passwd entry): see withHome(). */
function homeDirectory(): string {
  try {
    return homedir()
  } catch {
    return ''
  }
}
