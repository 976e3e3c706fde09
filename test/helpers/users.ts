/**
 * A file database with a first administrator (`admin`) and plain users, each with a workspace,
 * as the core tests of users, members and isolation start from.
 *
 * @module
 */
import { join } from 'node:path'

import type { Cryptorg, Workspace } from '../../src/index.js'
import { FAST_HASHING } from './cli.js'
import { type FakeClock, fakeClock } from './fake-clock.js'
import { openTestDb, tempDir } from './open-test-db.js'

export interface UsersDb {
  c: Cryptorg
  dir: ReturnType<typeof tempDir>
  /** The database file, for reading it behind the library's back. */
  path: string
  clock: FakeClock
  /** By username, `admin` included. Passwords are `<name> password`. */
  as: Record<string, Workspace>
}

export async function openWithUsers(
  file: string,
  names: readonly string[],
  start = '2024-09-17T12:00:00.000Z',
): Promise<UsersDb> {
  const dir = tempDir()
  const path = join(dir.path, file)
  const clock = fakeClock(start)
  const c = await openTestDb({ databasePath: path, passwordHashing: FAST_HASHING, clock })
  await c.auth.bootstrap({ username: 'admin', password: 'admin password' })
  const as: Record<string, Workspace> = { admin: c.as(await c.auth.actorFor('admin')) }
  for (const name of names) {
    await (as['admin'] as Workspace).users.create({ username: name, password: `${name} password` })
    as[name] = c.as(await c.auth.actorFor(name))
  }
  return { c, dir, path, clock, as }
}
