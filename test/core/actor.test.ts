// resolveOrgAccess() must answer exactly as resolveAccess() followed by findVisibleOrg(), the two
// checks it merges into one query: same access, same organization and role, same errors.

import type { Kysely } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import {
  type Actor,
  SYSTEM,
  findVisibleOrg,
  resolveAccess,
  resolveOrgAccess,
} from '../../src/core/actor.js'
import type { Database } from '../../src/db/schema.js'
import type { Cryptorg, Organization } from '../../src/index.js'
import { secondConnection } from '../helpers/backend.js'
import type { tempDir } from '../helpers/open-test-db.js'
import { openWithUsers } from '../helpers/users.js'

const GONE: Actor = { kind: 'user', id: '9f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f', username: 'gone' }

let c: Cryptorg
let dir: ReturnType<typeof tempDir>
let db: Kysely<Database>
let acme: Organization
const actors: Record<string, Actor> = {}

beforeAll(async () => {
  const opened = await openWithUsers('actor.db', ['alice', 'carol', 'frank', 'zoe'])
  ;({ c, dir } = opened)
  for (const [name, workspace] of Object.entries(opened.as)) actors[name] = workspace.actor
  acme = await opened.as['alice']!.orgs.create('Acme')
  await opened.as['alice']!.members.add('Acme', 'carol', 'viewer')
  await opened.as['alice']!.members.add('Acme', 'zoe', 'member')
  await opened.as['admin']!.users.deactivate('zoe')
  db = await secondConnection(opened.path)
})

afterAll(async () => {
  await db.destroy()
  await c.close()
  dir.remove()
})

/** The answer or the error of a call, in a form that toEqual compares. */
async function outcome(call: () => Promise<unknown>) {
  try {
    return { value: await call() }
  } catch (error) {
    const { code, message, details } = error as { code: string; message: string; details: unknown }
    return { error: { code, message, details } }
  }
}

const refs = () => ({
  name: 'acme',
  id: acme.id,
  'id in capitals': acme.id.toUpperCase(),
  unknown: 'Initech',
  empty: '  ',
})

describe('resolveOrgAccess', () => {
  const cases = ['alice', 'carol', 'frank', 'admin', 'zoe', 'gone', 'system'].flatMap((who) =>
    ['name', 'id', 'id in capitals', 'unknown', 'empty'].map((ref) => [who, ref] as const),
  )

  it.each(cases)('as %s with the %s reference answers as the two checks do', async (who, ref) => {
    const actor = who === 'system' ? SYSTEM : who === 'gone' ? GONE : actors[who]!
    const text = refs()[ref as keyof ReturnType<typeof refs>]
    const separate = await outcome(async () => {
      const access = await resolveAccess(db, actor)
      return { access, org: await findVisibleOrg(db, access, text) }
    })
    const merged = await outcome(() => resolveOrgAccess(db, actor, text))
    expect(merged).toEqual(separate)
  })

  it('finds the organization with the role held', async () => {
    const { org, access } = await resolveOrgAccess(db, actors['carol']!, 'ACME')
    expect(org).toEqual({
      row: expect.objectContaining({ id: acme.id, name: 'Acme' }),
      role: 'viewer',
    })
    expect(access).toMatchObject({ name: 'carol', unrestricted: false })
  })
})
