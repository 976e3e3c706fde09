/**
 * Runs the built `cryptorg` binary as a child process, the way users and systemd run it.
 * `npm test` builds dist/ before the tests run.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

export const BIN = fileURLToPath(new URL('../../bin/cryptorg.js', import.meta.url))
const BUILT_CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url))

/** Fails with a clear message when dist/ has not been built. */
export function assertBuilt(): void {
  if (!existsSync(BUILT_CLI)) throw new Error('dist/ is missing: run "npm run build" first')
}

export interface ProcessResult {
  code: number
  stdout: string
  stderr: string
}

/** Runs `cryptorg ...args` to completion. */
export function runBin(
  args: string[],
  env: NodeJS.ProcessEnv,
  stdin?: string,
): Promise<ProcessResult> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [BIN, ...args], { env }, (error, stdout, stderr) => {
      const code = error ? Number((error as { code?: unknown }).code ?? 1) : 0
      resolve({ code, stdout, stderr })
    })
    // Closed at once without input, so nothing can wait on a terminal that is not there.
    child.stdin?.end(stdin ?? '')
  })
}

export interface RunningProcess {
  child: ChildProcess
  /** Complete stderr lines received so far. */
  lines: string[]
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

/** Starts `cryptorg ...args` in the background, collecting stderr lines as they arrive. */
export function startBin(args: string[], env: NodeJS.ProcessEnv): RunningProcess {
  const child = spawn(process.execPath, [BIN, ...args], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  const lines: string[] = []
  let partial = ''
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n')
    partial = parts.pop() ?? ''
    lines.push(...parts)
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  )
  return { child, lines, exited }
}

/** Polls `condition` every 20 ms until it holds, failing after `timeoutMs`. */
export async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs}ms`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}
