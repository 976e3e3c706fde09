/**
 * The administrator every test database starts with, created through the library so that CLI
 * and process tests can act as someone without typing a password.
 *
 * @module
 */
import { open } from '../../src/open.js'
import { FAST_HASHING } from './cli.js'

export const ADMIN = { username: 'admin', password: 'admin password' } as const

/** Creates the first administrator of a new database and returns a long-lived access token. */
export async function bootstrapAdmin(databasePath: string): Promise<string> {
  const c = await open({
    databasePath,
    passwordHashing: FAST_HASHING,
    auth: { accessTtlSeconds: 365 * 86_400 },
  })
  try {
    await c.auth.bootstrap(ADMIN)
    return (await c.auth.login(ADMIN.username, ADMIN.password)).access
  } finally {
    await c.close()
  }
}

/** A year-long access token for an existing user, for acting as them in CLI tests. */
export async function tokenFor(
  databasePath: string,
  username: string,
  password: string,
): Promise<string> {
  const c = await open({
    databasePath,
    passwordHashing: FAST_HASHING,
    auth: { accessTtlSeconds: 365 * 86_400 },
  })
  try {
    return (await c.auth.login(username, password)).access
  } finally {
    await c.close()
  }
}
