import { describe, expect, it } from 'vitest'

import type { Organization } from '../../src/core/orgs.js'
import { fakeClock } from '../helpers/fake-clock.js'
import { ISO_UTC, UUID_V4, lines, useTempDatabase } from './support.js'

const db = useTempDatabase()

async function createOrg(name: string, clock = fakeClock()): Promise<Organization> {
  return db.json<Organization>(['org', 'create', name], { clock })
}

async function listOrgs(): Promise<Organization[]> {
  return db.json<Organization[]>(['org', 'list'])
}

async function addPrice(org: string, symbol = 'BTC', price = '1'): Promise<void> {
  const argv = ['prices', 'add', '--org', org, '--symbol', symbol, '--price', price]
  const result = await db.cli(argv)
  expect(result.code).toBe(0)
}

describe('org create', () => {
  it('prints the name and the new id and exits 0', async () => {
    const result = await db.cli(['org', 'create', 'Acme'])

    expect(result.code).toBe(0)
    expect(result.stderr).toBe('')
    const match = /^Created organization "Acme" \((.+)\)\n$/.exec(result.stdout)
    expect(match?.[1]).toMatch(UUID_V4)
    expect(await listOrgs()).toEqual([expect.objectContaining({ id: match?.[1], name: 'Acme' })])
  })

  it('prints exactly one JSON document with id, name and created_at with --json', async () => {
    const clock = fakeClock('2024-09-17T12:00:00.000Z')
    const result = await db.cli(['--json', 'org', 'create', 'Acme'], { clock })

    expect(result.code).toBe(0)
    expect(result.stderr).toBe('')
    const org = JSON.parse(result.stdout) as Organization
    expect(Object.keys(org).sort()).toEqual(['created_at', 'id', 'name'])
    expect(org.id).toMatch(UUID_V4)
    expect(org.name).toBe('Acme')
    expect(org.created_at).toMatch(ISO_UTC)
    expect(org.created_at).toBe('2024-09-17T12:00:00Z')
  })

  it('accepts --json after the subcommand', async () => {
    const result = await db.cli(['org', 'create', 'Acme', '--json'])

    expect(result.code).toBe(0)
    expect(JSON.parse(result.stdout)).toMatchObject({ name: 'Acme' })
  })

  it('stores the name without surrounding spaces', async () => {
    const result = await db.cli(['org', 'create', '  Acme  '])

    expect(result.stdout).toMatch(/^Created organization "Acme" /)
    expect((await listOrgs()).map((o) => o.name)).toEqual(['Acme'])
  })

  it.each(['Acme', 'ACME', ' acme '])(
    'exits 3 with one line on stderr when %j is taken regardless of case and spaces',
    async (duplicate) => {
      await createOrg('Acme')

      const result = await db.cli(['org', 'create', duplicate])

      expect(result.code).toBe(3)
      expect(result.stdout).toBe('')
      expect(result.stderr).toBe(
        `cryptorg: organization ${JSON.stringify(duplicate.trim())} already exists\n`,
      )
      expect((await listOrgs()).map((o) => o.name)).toEqual(['Acme'])
    },
  )

  it('reports a duplicate as JSON on stderr with --json', async () => {
    await createOrg('Acme')

    const result = await db.cli(['--json', 'org', 'create', 'acme'])

    expect(result.code).toBe(3)
    expect(result.stdout).toBe('')
    expect(JSON.parse(result.stderr)).toEqual({
      error: { code: 'ERR_CONFLICT', message: 'organization "acme" already exists' },
    })
  })

  it.each([
    ['empty', '', /name must not be empty/],
    ['blank', '   ', /name must not be empty/],
    ['256 characters long', 'a'.repeat(256), /name must be at most 255 characters/],
    ['holding a tab', 'Ac\tme', /control characters/],
    ['holding a newline', 'Ac\nme', /control characters/],
    ['holding a bell', 'Ac\u0007me', /control characters/],
    ['holding DEL', 'Ac\u007fme', /control characters/],
    ['UUID-shaped', '123e4567-e89b-42d3-a456-426614174000', /name must not be a UUID/],
    ['made of zero-width spaces', '\u200b\u200b', /name must not be empty/],
    ['holding a line separator', 'Ac\u2028me', /control characters/],
    ['holding a C1 control', 'Ac\u0085me', /control characters/],
  ])('exits 2 and writes nothing when the name is %s', async (_label, name, rule) => {
    const result = await db.cli(['org', 'create', name])

    expect(result.code).toBe(2)
    expect(result.stdout).toBe('')
    expect(result.stderr).toMatch(rule)
    expect(lines(result.stderr)).toHaveLength(1)
    expect(await listOrgs()).toEqual([])
  })

  it('accepts a name of exactly 255 characters', async () => {
    const name = 'a'.repeat(255)

    expect((await db.cli(['org', 'create', name])).code).toBe(0)
    expect((await listOrgs()).map((o) => o.name)).toEqual([name])
  })

  it('exits 2 with a usage hint when the name is missing', async () => {
    const result = await db.cli(['org', 'create'])

    expect(result.code).toBe(2)
    expect(result.stderr).toContain("missing required argument 'name'")
    expect(result.stderr).toContain('Run "cryptorg org create --help" for usage')
  })
})

describe('org list', () => {
  it('prints nothing on stdout and a hint on stderr when there is no organization', async () => {
    const result = await db.cli(['org', 'list'])

    expect(result.code).toBe(0)
    expect(result.stdout).toBe('')
    expect(result.stderr).toContain('cryptorg org create')
  })

  it('prints [] and no hint with --json when there is no organization', async () => {
    const result = await db.cli(['--json', 'org', 'list'])

    expect(result.code).toBe(0)
    expect(JSON.parse(result.stdout)).toEqual([])
    expect(result.stdout.trim()).toBe('[]')
    expect(result.stderr).toBe('')
  })

  it('prints tab-separated lines with a header, oldest first, when stdout is a pipe', async () => {
    const clock = fakeClock('2024-09-17T12:00:00.000Z')
    const globex = await createOrg('Globex', clock)
    clock.advance(1000)
    const acme = await createOrg('Acme', clock)

    const result = await db.cli(['org', 'list'])

    expect(result.code).toBe(0)
    expect(result.stderr).toBe('')
    expect(lines(result.stdout)).toEqual([
      'ID\tNAME\tCREATED',
      `${globex.id}\tGlobex\t2024-09-17T12:00:00Z`,
      `${acme.id}\tAcme\t2024-09-17T12:00:01Z`,
    ])
  })

  it('prints a bordered table without tabs when stdout is a terminal', async () => {
    const acme = await createOrg('Acme')

    const result = await db.cli(['org', 'list'], { stdoutTTY: true })

    expect(result.code).toBe(0)
    expect(result.stdout).not.toContain('\t')
    expect(result.stdout).toMatch(/^┌/)
    expect(result.stdout).toMatch(/│ ID +│ NAME +│ CREATED +│/)
    expect(result.stdout).toContain(`│ ${acme.id} │ Acme │`)
  })

  it('answers to the alias ls', async () => {
    await createOrg('Acme')

    const result = await db.cli(['org', 'ls'])

    expect(result.code).toBe(0)
    expect(result.stdout).toContain('\tAcme\t')
  })
})

describe('org show', () => {
  it('prints the fields of an organization looked up by id', async () => {
    const acme = await createOrg('Acme', fakeClock('2024-09-17T12:00:00.000Z'))

    const result = await db.cli(['org', 'show', acme.id])

    expect(result.code).toBe(0)
    expect(lines(result.stdout)).toEqual([
      `id\t${acme.id}`,
      'name\tAcme',
      'created_at\t2024-09-17T12:00:00Z',
    ])
  })

  it('finds an organization by its id in upper case', async () => {
    const acme = await createOrg('Acme')

    const result = await db.json<Organization>(['org', 'show', acme.id.toUpperCase()])

    expect(result).toEqual(acme)
  })

  it.each(['Acme', 'acme', 'ACME', '  aCmE  '])(
    'finds an organization by the name %j',
    async (ref) => {
      const acme = await createOrg('Acme')

      expect(await db.json<Organization>(['org', 'show', ref])).toEqual(acme)
    },
  )

  it('prints a bordered record when stdout is a terminal', async () => {
    const acme = await createOrg('Acme')

    const result = await db.cli(['org', 'show', 'Acme'], { stdoutTTY: true })

    expect(result.stdout).not.toContain('\t')
    expect(result.stdout).toMatch(/│ name +│ Acme +│/)
    expect(result.stdout).toContain(acme.id)
  })

  it('exits 3 when the organization does not exist', async () => {
    const result = await db.cli(['org', 'show', 'nope'])

    expect(result.code).toBe(3)
    expect(result.stdout).toBe('')
    expect(result.stderr).toBe('cryptorg: organization "nope" not found\n')
  })

  it('exits 3 for an unknown id', async () => {
    const result = await db.cli(['org', 'show', '123e4567-e89b-42d3-a456-426614174000'])

    expect(result.code).toBe(3)
    expect(result.stderr).toContain('not found')
  })
})

describe('org rename', () => {
  it('renames the organization and keeps its id', async () => {
    const acme = await createOrg('Acme')

    const result = await db.cli(['org', 'rename', 'acme', 'Globex'])

    expect(result.code).toBe(0)
    expect(result.stdout).toBe('Renamed organization "Acme" to "Globex"\n')
    expect(await listOrgs()).toEqual([{ ...acme, name: 'Globex' }])
    expect((await db.cli(['org', 'show', 'Acme'])).code).toBe(3)
  })

  it('prints the renamed organization with --json', async () => {
    const acme = await createOrg('Acme')

    const result = await db.json<Organization>(['org', 'rename', acme.id, 'Globex'])

    expect(result).toEqual({ ...acme, name: 'Globex' })
  })

  it('allows changing only the case of the name', async () => {
    await createOrg('Acme')

    const result = await db.cli(['org', 'rename', 'Acme', 'ACME'])

    expect(result.code).toBe(0)
    expect((await listOrgs()).map((o) => o.name)).toEqual(['ACME'])
  })

  it('keeps the prices of the renamed organization', async () => {
    await createOrg('Acme')
    await addPrice('Acme')

    await db.cli(['org', 'rename', 'Acme', 'Globex'])

    expect(await db.json(['prices', 'history', '--org', 'Globex'])).toHaveLength(1)
  })

  it.each(['Globex', 'globex', ' GLOBEX '])(
    'exits 3 and changes nothing when the new name %j is taken',
    async (taken) => {
      await createOrg('Acme')
      await createOrg('Globex')

      const result = await db.cli(['org', 'rename', 'Acme', taken])

      expect(result.code).toBe(3)
      expect(result.stdout).toBe('')
      expect(result.stderr).toMatch(/^cryptorg: organization ".+" already exists\n$/)
      expect((await listOrgs()).map((o) => o.name).sort()).toEqual(['Acme', 'Globex'])
    },
  )

  it('exits 2 and changes nothing when the new name is invalid', async () => {
    await createOrg('Acme')

    const result = await db.cli(['org', 'rename', 'Acme', ' '])

    expect(result.code).toBe(2)
    expect(result.stderr).toContain('new name must not be empty')
    expect((await listOrgs()).map((o) => o.name)).toEqual(['Acme'])
  })

  it('exits 3 when the organization does not exist', async () => {
    const result = await db.cli(['org', 'rename', 'nope', 'Globex'])

    expect(result.code).toBe(3)
    expect(result.stderr).toBe('cryptorg: organization "nope" not found\n')
    expect(await listOrgs()).toEqual([])
  })
})

describe('org delete', () => {
  it('exits 2, mentions --yes and keeps the organization when not on a terminal', async () => {
    await createOrg('Acme')

    const result = await db.cli(['org', 'delete', 'Acme'])

    expect(result.code).toBe(2)
    expect(result.stdout).toBe('')
    expect(result.stderr).toContain('--yes')
    expect(result.stderr).toContain('"Acme"')
    expect(result.questions).toEqual([])
    expect(await listOrgs()).toHaveLength(1)
  })

  it('deletes with --yes and reports the number of prices deleted', async () => {
    await createOrg('Acme')
    await addPrice('Acme', 'BTC')
    await addPrice('Acme', 'ETH')

    const result = await db.cli(['org', 'delete', 'acme', '--yes'])

    expect(result.code).toBe(0)
    expect(result.stdout).toBe('Deleted organization "Acme" and its 2 prices\n')
    expect(result.questions).toEqual([])
    expect(await listOrgs()).toEqual([])
  })

  it('uses the singular for one price', async () => {
    await createOrg('Acme')
    await addPrice('Acme')

    const result = await db.cli(['org', 'delete', 'Acme', '-y'])

    expect(result.stdout).toBe('Deleted organization "Acme" and its 1 price\n')
  })

  it('reports zero prices for an organization without prices', async () => {
    await createOrg('Acme')

    const result = await db.cli(['org', 'rm', 'Acme', '--yes'])

    expect(result.code).toBe(0)
    expect(result.stdout).toBe('Deleted organization "Acme" and its 0 prices\n')
  })

  it('prints the deleted organization and price count with --json', async () => {
    const acme = await createOrg('Acme')
    await addPrice('Acme')

    const result = await db.json(['org', 'delete', 'Acme', '--yes'])

    expect(result).toEqual({ organization: acme, prices_deleted: 1 })
  })

  it('deletes the prices of the organization and leaves other organizations alone', async () => {
    await createOrg('Acme')
    await createOrg('Globex')
    await addPrice('Acme')
    await addPrice('Globex')

    await db.cli(['org', 'delete', 'Acme', '--yes'])
    await createOrg('Acme')

    expect(await db.json(['prices', 'history', '--org', 'Acme'])).toEqual([])
    expect(await db.json(['prices', 'history', '--org', 'Globex'])).toHaveLength(1)
  })

  it('asks on a terminal and deletes nothing when the answer is no', async () => {
    await createOrg('Acme')
    await addPrice('Acme')

    const result = await db.cli(['org', 'delete', 'Acme'], {
      interactive: true,
      confirmAnswer: false,
    })

    expect(result.code).toBe(0)
    expect(result.questions).toEqual(['Delete organization "Acme" and all of its prices?'])
    expect(result.stdout).toBe('')
    expect(result.stderr).toContain('Nothing deleted')
    expect(await listOrgs()).toHaveLength(1)
    expect(await db.json(['prices', 'history', '--org', 'Acme'])).toHaveLength(1)
  })

  it('asks on a terminal and deletes when the answer is yes', async () => {
    await createOrg('Acme')

    const result = await db.cli(['org', 'delete', 'Acme'], {
      interactive: true,
      confirmAnswer: true,
    })

    expect(result.code).toBe(0)
    expect(result.questions).toHaveLength(1)
    expect(result.stdout).toBe('Deleted organization "Acme" and its 0 prices\n')
    expect(await listOrgs()).toEqual([])
  })

  it('does not ask on a terminal when --yes is given', async () => {
    await createOrg('Acme')

    const result = await db.cli(['org', 'delete', 'Acme', '--yes'], {
      interactive: true,
      confirmAnswer: false,
    })

    expect(result.questions).toEqual([])
    expect(await listOrgs()).toEqual([])
  })

  it('exits 3 when the organization does not exist, before asking anything', async () => {
    const result = await db.cli(['org', 'delete', 'nope'], {
      interactive: true,
      confirmAnswer: true,
    })

    expect(result.code).toBe(3)
    expect(result.stderr).toBe('cryptorg: organization "nope" not found\n')
    expect(result.questions).toEqual([])
  })

  it('exits 3 for an unknown organization with --yes', async () => {
    await createOrg('Acme')

    const result = await db.cli(['org', 'delete', 'nope', '--yes'])

    expect(result.code).toBe(3)
    expect(result.stderr).toBe('cryptorg: organization "nope" not found\n')
    expect(await listOrgs()).toHaveLength(1)
  })
})

describe('org list --search and --ordering', () => {
  const names = async (...flags: string[]) =>
    (await db.json<Organization[]>(['org', 'list', ...flags])).map((o) => o.name)

  it('filters by a case-insensitive part of the name and sorts as asked', async () => {
    const created = ['Globex', 'Acme', 'acme west', '100%_real']
    for (const [minute, name] of created.entries()) {
      await createOrg(name, fakeClock(`2024-09-17T12:0${minute}:00.000Z`))
    }

    expect(await names('--search', 'ACME')).toEqual(['Acme', 'acme west'])
    expect(await names('--search', 'ACME', '--ordering', '-name')).toEqual(['acme west', 'Acme'])
    expect(await names('--ordering', 'name')).toEqual(['100%_real', 'Acme', 'acme west', 'Globex'])
    expect(await names('--ordering', '-created_at')).toEqual([
      '100%_real',
      'acme west',
      'Acme',
      'Globex',
    ])
    // LIKE wildcards in the search are plain characters.
    expect(await names('--search', '%_')).toEqual(['100%_real'])
    expect(await names('--search', '_')).toEqual(['100%_real'])
  })

  it('refuses an unknown ordering, naming the choices', async () => {
    const result = await db.cli(['org', 'list', '--ordering', 'size'])
    expect(result).toMatchObject({
      code: 2,
      stderr:
        'cryptorg: ordering must be one of name, -name, created_at, -created_at, got "size"\n',
    })
  })
})
