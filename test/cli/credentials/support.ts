/**
 * Shared pieces of the credential store tests: private temporary folders, a check that a secret
 * appears nowhere in an error, and a reader for processes started by this test process.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, expect } from 'vitest'

import { CryptorgError } from '../../../src/errors.js'

/** Registers cleanup and returns a function that makes a fresh temporary folder per call. */
export function useTempDirs(): (prefix?: string) => string {
  const made: string[] = []
  afterEach(() => {
    for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true })
  })
  return (prefix = 'cryptorg-credentials-') => {
    const dir = mkdtempSync(join(tmpdir(), prefix))
    made.push(dir)
    return dir
  }
}

/** Awaits `run`, expects a CryptorgError, and returns it for more checks. */
export async function failure(run: () => Promise<unknown>): Promise<CryptorgError> {
  try {
    await run()
  } catch (error) {
    expect(error).toBeInstanceOf(CryptorgError)
    return error as CryptorgError
  }
  throw new Error('expected the call to fail')
}

/** Everything of an error a logger or `--verbose` could print, causes included. */
function everythingPrintable(error: unknown, depth = 0): string {
  if (depth > 5 || error === undefined || error === null) return ''
  if (!(error instanceof Error)) return String(error)
  const details = (error as { details?: unknown }).details
  return [
    error.message,
    error.stack ?? '',
    details === undefined ? '' : JSON.stringify(details),
    everythingPrintable(error.cause, depth + 1),
  ].join('\n')
}

/** Fails when the secret shows up in the error's message, stack, details or causes. */
export function expectNoSecret(error: unknown, secret: string): void {
  expect(everythingPrintable(error)).not.toContain(secret)
}

/** Messages are one sentence on one line, without a trailing period. */
export function expectOneLine(error: CryptorgError): void {
  expect(error.message).not.toContain('\n')
  expect(error.message).not.toMatch(/\.$/)
}

export interface ChildInfo {
  pid: number
  argv: string[]
  environ: string
}

/** Live children of this process whose command line contains `marker` (Linux /proc only). */
export function childrenMatching(marker: string): ChildInfo[] {
  const found: ChildInfo[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      // The command name in parentheses may hold spaces; the fields after it do not.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      if (Number(fields[1]) !== process.pid) continue
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0')
      if (!argv.some((arg) => arg.includes(marker))) continue
      const environ = readFileSync(`/proc/${entry}/environ`, 'utf8')
      found.push({ pid: Number(entry), argv, environ })
    } catch {
      // The process ended while we looked.
    }
  }
  return found
}

/** True while /proc still lists the process (a zombie counts as ended). */
export function processExists(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z'
  } catch {
    return false
  }
}
