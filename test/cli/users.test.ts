// Covers src/cli/commands/users.ts, src/cli/commands/members.ts and src/cli/commands/audit.ts.
import { beforeEach, describe, expect, it } from 'vitest'

import { tokenFor } from '../helpers/admin.js'
import { lines, useTempDatabase } from './support.js'

const db = useTempDatabase()

/** Creates a user through the CLI (as the admin) and returns a token to act as them. */
async function createUser(name: string, ...flags: string[]): Promise<string> {
  const result = await db.cli(['user', 'create', name, '--password-stdin', ...flags], {
    stdin: `${name} password\n`,
  })
  expect(result).toMatchObject({ code: 0 })
  return tokenFor(db.path, name, `${name} password`)
}

const as = (token: string) => ({ env: { CRYPTORG_TOKEN: token } })

describe('user', () => {
  it('creates, lists, deactivates, activates and deletes users', async () => {
    await createUser('alice')
    await createUser('root2', '--admin')

    const list = await db.cli(['user', 'list'])
    expect(lines(list.stdout)).toEqual([
      'USERNAME\tADMIN\tACTIVE\tCREATED',
      expect.stringMatching(/^admin\tyes\tyes\t/),
      expect.stringMatching(/^alice\tno\tyes\t/),
      expect.stringMatching(/^root2\tyes\tyes\t/),
    ])
    expect(await db.cli(['user', 'deactivate', 'alice'])).toMatchObject({
      code: 0,
      stdout: 'Deactivated alice\n',
    })
    expect(await db.cli(['user', 'activate', 'alice'])).toMatchObject({ code: 0 })
    expect(await db.cli(['user', 'delete', 'alice', '--yes'])).toMatchObject({
      code: 0,
      stdout: 'Deleted user alice\n',
    })
    const names = (await db.json<{ username: string }[]>(['user', 'list'])).map((u) => u.username)
    expect(names).toEqual(['admin', 'root2'])
  })

  it('never prints a password hash', async () => {
    await createUser('alice')
    const listed = await db.cli(['--json', 'user', 'list'])
    expect(listed.stdout).not.toMatch(/scrypt|password/)
  })

  it('refuses user management to non-admins with exit code 4', async () => {
    const alice = await createUser('alice')

    for (const argv of [
      ['user', 'list'],
      ['user', 'deactivate', 'admin'],
      ['user', 'delete', 'admin', '--yes'],
    ]) {
      const result = await db.cli(argv, as(alice))
      expect(result.code).toBe(4)
      expect(result.stderr).toMatch(/^cryptorg: .* needs an administrator\n$/)
    }
    const create = await db.cli(['user', 'create', 'eve', '--password-stdin'], {
      ...as(alice),
      stdin: 'eve password',
    })
    expect(create).toMatchObject({
      code: 4,
      stderr: 'cryptorg: creating users needs an administrator\n',
    })
  })

  it('refuses a taken name regardless of case, and a bad name', async () => {
    await createUser('alice')
    const taken = await db.cli(['user', 'create', 'ALICE', '--password-stdin'], {
      stdin: 'x'.repeat(9),
    })
    expect(taken).toMatchObject({ code: 3, stderr: 'cryptorg: user "ALICE" already exists\n' })
    const bad = await db.cli(['user', 'create', 'a b', '--password-stdin'], {
      stdin: 'x'.repeat(9),
    })
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('username may contain only letters, digits and @ . + - _')
  })

  it('keeps the last administrator', async () => {
    const result = await db.cli(['user', 'deactivate', 'admin'])
    expect(result).toMatchObject({
      code: 3,
      stderr: 'cryptorg: cannot deactivate admin: it is the last active administrator\n',
    })
  })

  it("lets an admin set another user's password without the current one", async () => {
    await createUser('alice')
    const result = await db.cli(['user', 'passwd', 'alice', '--password-stdin'], {
      stdin: 'a new password for alice\n',
    })
    expect(result).toMatchObject({ code: 0 })
    await expect(tokenFor(db.path, 'alice', 'alice password')).rejects.toMatchObject({
      code: 'ERR_UNAUTHENTICATED',
    })
    await expect(tokenFor(db.path, 'alice', 'a new password for alice')).resolves.toBeTruthy()
  })

  it('asks before deleting on a terminal and refuses without --yes in a script', async () => {
    await createUser('alice')
    expect((await db.cli(['user', 'delete', 'alice'])).code).toBe(2)
    const asked = await db.cli(['user', 'delete', 'alice'], {
      interactive: true,
      confirmAnswer: false,
    })
    expect(asked.questions).toEqual(['Delete user alice?'])
    expect(asked.stderr).toBe('Nothing deleted\n')
  })
})

describe('org members', () => {
  let alice: string
  let bob: string
  beforeEach(async () => {
    alice = await createUser('alice')
    bob = await createUser('bob')
    expect((await db.cli(['org', 'create', 'Acme'], as(alice))).code).toBe(0)
  })

  it('lists members with the creator as owner', async () => {
    const result = await db.cli(['org', 'members', 'Acme'], as(alice))
    expect(lines(result.stdout)).toEqual([
      'USERNAME\tROLE\tJOINED\tACTIVE',
      expect.stringMatching(/^alice\towner\t.+\tyes$/),
    ])
  })

  it('adds, re-roles and removes a member; roles decide what each may do', async () => {
    const add = await db.cli(
      ['org', 'members', 'add', 'Acme', 'bob', '--role', 'viewer'],
      as(alice),
    )
    expect(add).toMatchObject({ code: 0, stdout: 'Added bob to "Acme" as viewer\n' })

    expect((await db.cli(['prices', 'latest', '--org', 'Acme'], as(bob))).code).toBe(0)
    const write = await db.cli(
      ['prices', 'add', '--org', 'Acme', '--symbol', 'BTC', '--price', '1'],
      as(bob),
    )
    expect(write).toMatchObject({
      code: 4,
      stderr: 'cryptorg: adding prices to "Acme" needs the member role (you are a viewer)\n',
    })

    expect(
      await db.cli(['org', 'members', 'role', 'Acme', 'bob', 'member'], as(alice)),
    ).toMatchObject({
      code: 0,
      stdout: 'bob is now member of "Acme"\n',
    })
    const again = await db.cli(
      ['prices', 'add', '--org', 'Acme', '--symbol', 'BTC', '--price', '1'],
      as(bob),
    )
    expect(again.code).toBe(0)
    expect((await db.cli(['org', 'rename', 'Acme', 'Bobco'], as(bob))).code).toBe(4)

    expect(await db.cli(['org', 'members', 'remove', 'Acme', 'bob'], as(alice))).toMatchObject({
      code: 0,
      stdout: 'Removed bob from "Acme"\n',
    })
    expect(await db.cli(['org', 'show', 'Acme'], as(bob))).toMatchObject({ code: 3 })
  })

  it('refuses a viewer before asking to confirm a delete', async () => {
    await db.cli(['org', 'members', 'add', 'Acme', 'bob', '--role', 'viewer'], as(alice))
    const result = await db.cli(['org', 'delete', 'Acme'], {
      ...as(bob),
      interactive: true,
      confirmAnswer: true,
    })
    expect(result).toMatchObject({
      code: 4,
      questions: [],
      stderr: 'cryptorg: deleting "Acme" needs the owner role (you are a viewer)\n',
    })
  })

  it('never removes or demotes the last owner', async () => {
    const remove = await db.cli(['org', 'members', 'remove', 'Acme', 'alice'], as(alice))
    expect(remove).toMatchObject({
      code: 3,
      stderr:
        'cryptorg: cannot remove the last active owner of "Acme": make someone else an ' +
        'owner first\n',
    })
    const demote = await db.cli(['org', 'members', 'role', 'Acme', 'alice', 'viewer'], as(alice))
    expect(demote.code).toBe(3)
  })

  it('refuses a bad role and an unknown user', async () => {
    const role = await db.cli(['org', 'members', 'add', 'Acme', 'bob', '--role', 'boss'], as(alice))
    expect(role).toMatchObject({
      code: 2,
      stderr: 'cryptorg: role must be one of owner, member, viewer, got "boss"\n',
    })
    const user = await db.cli(['org', 'members', 'add', 'Acme', 'zed'], as(alice))
    expect(user).toMatchObject({ code: 3, stderr: 'cryptorg: user "zed" not found\n' })
  })

  it('hides the organization from a non-member, even its member list', async () => {
    const result = await db.cli(['org', 'members', 'Acme'], as(bob))
    expect(result).toMatchObject({ code: 3, stderr: 'cryptorg: organization "Acme" not found\n' })
  })
})

describe('audit', () => {
  it('records who did what, and shows owners only their organizations', async () => {
    const alice = await createUser('alice')
    const bob = await createUser('bob')
    await db.cli(['org', 'create', 'Acme'], as(alice))
    await db.cli(['org', 'create', 'Globex'], as(bob))
    await db.cli(['org', 'rename', 'Acme', 'Acme Corp'], as(alice))

    const all = await db.json<{ actor: string; action: string; org_name: string | null }[]>([
      'audit',
    ])
    expect(all.map((e) => [e.actor, e.action, e.org_name])).toEqual([
      ['alice', 'org.rename', 'Acme Corp'],
      ['bob', 'org.create', 'Globex'],
      ['alice', 'org.create', 'Acme'],
      ['admin', 'user.create', null],
      ['admin', 'user.create', null],
      ['system', 'user.create', null],
    ])
    const mine = await db.cli(['--json', 'audit'], as(alice))
    const names = (JSON.parse(mine.stdout) as { org_name: string }[]).map((e) => e.org_name)
    expect(names).toEqual(['Acme Corp', 'Acme'])
    expect(mine.stdout).not.toContain('Globex')
    const since = await db.cli(['--json', 'audit', '--since', '1m', '--org', 'Globex'], as(bob))
    expect(JSON.parse(since.stdout)).toHaveLength(1)
  })

  it('refuses a bad --since and a bad --limit', async () => {
    expect((await db.cli(['audit', '--since', 'yesterday'])).code).toBe(2)
    expect((await db.cli(['audit', '--limit', '0'])).code).toBe(2)
  })
})
