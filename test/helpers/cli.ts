/**
 * Runs the CLI in-process with captured streams, the way a user would type it, against
 * whatever database `--db` or `CRYPTORG_DB` names.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import type { CliIo } from '../../src/cli/io.js'
import { run } from '../../src/cli/main.js'
import type { Clock, FetchLike, Sleep } from '../../src/deps.js'
import type { OpenOptions } from '../../src/open.js'

/** scrypt at a token cost: the tests hash many passwords and test nothing about the cost. */
export const FAST_HASHING = { logN: 4, r: 1, p: 1 } as const

export interface CliResult {
  code: number
  stdout: string
  stderr: string
  /** Confirmation questions the run asked. */
  questions: string[]
}

export interface RunCliOptions {
  env?: Record<string, string | undefined>
  /** Pretend stdout is a terminal (tables instead of tab-separated lines). */
  stdoutTTY?: boolean
  /** Pretend stdin and stderr are a terminal, so questions may be asked. */
  interactive?: boolean
  /** Answer given to a confirmation question. */
  confirmAnswer?: boolean
  /** What standard input holds (for `--password-stdin`). */
  stdin?: string
  /** Answers to text and password questions, in the order they are asked. */
  answers?: string[]
  /** Options passed on to open(). @default fast password hashing */
  openOverrides?: Partial<OpenOptions>
  fetch?: FetchLike
  clock?: Clock
  sleep?: Sleep
  /** Receives the shutdown handler the daemon registers, to simulate SIGTERM. */
  onShutdown?: (trigger: (signal: string) => void) => void
}

export async function runCli(argv: string[], options: RunCliOptions = {}): Promise<CliResult> {
  let stdout = ''
  let stderr = ''
  const questions: string[] = []
  const io: CliIo = {
    stdout: { write: (chunk: string) => (stdout += chunk), isTTY: options.stdoutTTY ?? false },
    stderr: { write: (chunk: string) => (stderr += chunk), isTTY: options.interactive ?? false },
    stdin: { isTTY: options.interactive ?? false },
    env: options.env ?? {},
    homedir: '/nonexistent-home-for-tests',
    platform: 'linux',
    ...(options.fetch && { fetch: options.fetch }),
    ...(options.clock && { clock: options.clock }),
    ...(options.sleep && { sleep: options.sleep }),
    onShutdown(handler) {
      options.onShutdown?.(handler)
      return () => {}
    },
    async confirm(message) {
      questions.push(message)
      return options.confirmAnswer ?? false
    },
    async ask(message) {
      questions.push(message)
      return nextAnswer(message)
    },
    async askPassword(message) {
      questions.push(message)
      return nextAnswer(message)
    },
    async readStdin() {
      return options.stdin ?? ''
    },
    openOverrides: options.openOverrides ?? { passwordHashing: FAST_HASHING },
  }
  const answers = [...(options.answers ?? [])]
  const nextAnswer = (message: string) => {
    const answer = answers.shift()
    if (answer === undefined)
      throw new Error(`the test gave no answer to ${JSON.stringify(message)}`)
    return Promise.resolve(answer)
  }
  const code = await run(argv, io)
  return { code, stdout, stderr, questions }
}

/** A temporary directory holding a database path, removed by `cleanup()`. */
export function tempDatabase(): { path: string; cleanup: () => void } {
  const directory = mkdtempSync(join(tmpdir(), 'cryptorg-cli-'))
  return {
    path: join(directory, 'test.db'),
    cleanup: () => rmSync(directory, { recursive: true, force: true }),
  }
}
