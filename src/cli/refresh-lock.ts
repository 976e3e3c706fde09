/**
 * One refresh at a time per database among the CLI processes of a user. A refresh token is
 * single-use: two commands refreshing it together would look to the server like a stolen copy,
 * and the session would be ended. The lock is a file created exclusively; a lock left behind
 * by a killed process is taken over once it is older than any refresh can take.
 *
 * @module
 */
import { createHash } from 'node:crypto'
import { closeSync, mkdirSync, openSync, statSync, unlinkSync } from 'node:fs'
import { join } from 'node:path'

import { CryptorgError } from '../errors.js'

const STALE_AFTER_MS = 15_000
const GIVE_UP_AFTER_MS = 20_000
const POLL_MS = 25

export async function withRefreshLock<T>(
  directory: string,
  target: string,
  body: () => Promise<T>,
): Promise<T> {
  mkdirSync(directory, { recursive: true, mode: 0o700 })
  const name = createHash('sha256').update(target).digest('hex').slice(0, 16)
  const path = join(directory, `refresh-${name}.lock`)
  const deadline = Date.now() + GIVE_UP_AFTER_MS
  for (;;) {
    try {
      closeSync(openSync(path, 'wx', 0o600))
      break
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new CryptorgError(
          'ERR_STORAGE',
          `could not create ${path}: ${(error as NodeJS.ErrnoException).code}`,
          { cause: error },
        )
      }
    }
    if (isStale(path)) {
      try {
        unlinkSync(path)
      } catch {
        // Another waiter removed it first; try to take it again.
      }
      continue
    }
    if (Date.now() > deadline) {
      throw new CryptorgError('ERR_STORAGE', `another cryptorg holds ${path}; try again`)
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS))
  }
  try {
    return await body()
  } finally {
    try {
      unlinkSync(path)
    } catch {
      // Taken over as stale by another process: nothing left to release.
    }
  }
}

function isStale(path: string): boolean {
  try {
    return Date.now() - statSync(path).mtimeMs > STALE_AFTER_MS
  } catch {
    return false
  }
}
