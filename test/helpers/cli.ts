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
