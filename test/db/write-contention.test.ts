// Covers the transaction mode chosen in src/db/sqlite.ts: several processes changing the same
// rows at once queue on the busy timeout instead of failing with "database is locked".
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, beforeAll, beforeEach, expect, it } from 'vitest'

import { open } from '../../src/open.js'
import { FAST_HASHING } from '../helpers/cli.js'
import { tempDir } from '../helpers/open-test-db.js'
import { assertBuilt } from '../helpers/process.js'

const LIBRARY = fileURLToPath(new URL('../../dist/index.js', import.meta.url))
let dir: ReturnType<typeof tempDir>
let databasePath: string

beforeAll(assertBuilt)
beforeEach(async () => {
  dir = tempDir()
  databasePath = join(dir.path, 'contention.db')
  const c = await open({ databasePath, passwordHashing: FAST_HASHING })
  await c.auth.bootstrap({ username: 'admin', password: 'admin password' })
  const admin = c.as(await c.auth.actorFor('admin'))
  await admin.orgs.create('Busy')
  for (const name of ['u1', 'u2', 'u3']) {
    await admin.users.create({ username: name, password: 'a long password' })
    await admin.members.add('Busy', name, 'viewer')
  }
  await c.close()
})
afterEach(() => dir.remove())

/** One process flipping roles in read-then-write transactions, as fast as it can. */
function flipRoles(worker: number): Promise<{ ok: number; failed: string[] }> {
  const script = `
    const { open } = await import(${JSON.stringify(LIBRARY)})
    const c = await open({ databasePath: ${JSON.stringify(databasePath)} })
    const admin = c.as(await c.auth.actorFor('admin'))
    let ok = 0
    const failed = []
    for (let i = 0; i < 40; i++) {
      const user = 'u' + (1 + ((i + ${worker}) % 3))
      try {
        await admin.members.setRole('Busy', user, i % 2 ? 'viewer' : 'member')
        ok++
      } catch (error) {
        failed.push(error.code + ': ' + error.message)
      }
    }
    await c.close()
    console.log(JSON.stringify({ ok, failed }))
  `
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--input-type=module', '-e', script], (error, stdout) =>
      error ? reject(error) : resolve(JSON.parse(stdout) as { ok: number; failed: string[] }),
    )
  })
}

it('lets four processes change memberships at once without a busy error', async () => {
  const results = await Promise.all([0, 1, 2, 3].map(flipRoles))

  expect(results.flatMap((r) => r.failed)).toEqual([])
  expect(results.map((r) => r.ok)).toEqual([40, 40, 40, 40])
}, 60_000)
