import { spawnSync } from 'node:child_process'
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  closeSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'

import { createFileStore } from '../../../src/cli/credentials/store.js'
import { expectNoSecret, expectOneLine, failure, useTempDirs } from './support.js'

const SECRET = 'tok-9f2c1e6a-very-secret'
const posix = process.platform !== 'win32'
const isRoot = process.getuid?.() === 0

function mode(path: string): number {
  return statSync(path).mode & 0o777
}

describe('file credential store', () => {
  const tempDir = useTempDirs()

  it('reads nothing and creates nothing while no secret was stored', async () => {
    const folder = join(tempDir(), 'config', 'cryptorg')
    const store = createFileStore({ path: join(folder, 'credentials.json') })
    expect(await store.get('alice')).toBeUndefined()
    expect(await store.delete('alice')).toBe(false)
    expect(existsSync(folder)).toBe(false)
  })

  it('describes itself by its absolute path', () => {
    const dir = tempDir()
    const store = createFileStore({ path: relative(process.cwd(), join(dir, 'c.json')) })
    expect(store.kind).toBe('file')
    expect(store.location).toBe(join(dir, 'c.json'))
  })

  it.skipIf(!posix)('creates missing folders 0700 and the file 0600', async () => {
    const root = tempDir()
    const path = join(root, 'a', 'b', 'credentials.json')
    await createFileStore({ path }).set('alice', SECRET)
    expect(mode(join(root, 'a'))).toBe(0o700)
    expect(mode(join(root, 'a', 'b'))).toBe(0o700)
    expect(mode(path)).toBe(0o600)
    expect(statSync(path).isFile()).toBe(true)
  })

  it('round-trips secrets per account, replaces them and keeps odd names apart', async () => {
    const path = join(tempDir(), 'credentials.json')
    const store = createFileStore({ path })
    const odd = 'line one\nline "two" \u00e9\u{1f511} \\ end'
    await store.set('alice@https://api.example', SECRET)
    await store.set('bob', odd)
    await store.set('__proto__', 'proto-secret')
    await store.set('constructor', 'ctor-secret')
    expect(await store.get('alice@https://api.example')).toBe(SECRET)
    expect(await store.get('bob')).toBe(odd)
    expect(await store.get('__proto__')).toBe('proto-secret')
    expect(await store.get('constructor')).toBe('ctor-secret')
    expect(await store.get('toString')).toBeUndefined()
    await store.set('bob', 'second')
    // A second store on the same file sees what the first wrote.
    expect(await createFileStore({ path }).get('bob')).toBe('second')
    const onDisk = JSON.parse(readFileSync(path, 'utf8'))
    expect(onDisk.version).toBe(1)
    expect(Object.keys(onDisk.accounts).sort()).toEqual(
      ['__proto__', 'alice@https://api.example', 'bob', 'constructor'].sort(),
    )
  })

  it('accepts an empty secret', async () => {
    const store = createFileStore({ path: join(tempDir(), 'credentials.json') })
    await store.set('alice', '')
    expect(await store.get('alice')).toBe('')
  })

  it('rewrites by renaming a new file over the old one and leaves no temporary file', async () => {
    const dir = tempDir()
    const path = join(dir, 'credentials.json')
    const store = createFileStore({ path })
    await store.set('alice', 'first')
    const before = statSync(path).ino
    const oldText = readFileSync(path, 'utf8')
    // A reader that opened the old file keeps reading it whole while a writer replaces it.
    const reader = openSync(path, 'r')
    try {
      await store.set('bob', 'second')
      const buffer = Buffer.alloc(oldText.length + 100)
      const read = readSync(reader, buffer, 0, buffer.length, 0)
      expect(buffer.subarray(0, read).toString('utf8')).toBe(oldText)
    } finally {
      closeSync(reader)
    }
    expect(statSync(path).ino).not.toBe(before)
    if (posix) expect(mode(path)).toBe(0o600)
    expect(readdirSync(dir)).toEqual(['credentials.json'])
  })

  it('deletes one account and removes the file with the last one', async () => {
    const path = join(tempDir(), 'credentials.json')
    const store = createFileStore({ path })
    await store.set('alice', SECRET)
    await store.set('bob', 'other')
    expect(await store.delete('alice')).toBe(true)
    expect(await store.delete('alice')).toBe(false)
    expect(await store.get('alice')).toBeUndefined()
    expect(await store.get('bob')).toBe('other')
    expect(readFileSync(path, 'utf8')).not.toContain(SECRET)
    expect(await store.delete('bob')).toBe(true)
    expect(existsSync(path)).toBe(false)
  })

  it('refuses an empty account name', async () => {
    const store = createFileStore({ path: join(tempDir(), 'credentials.json') })
    const error = await failure(() => store.set('', SECRET))
    expect(error.code).toBe('ERR_VALIDATION')
    expectNoSecret(error, SECRET)
  })

  it('reports a corrupt file by its path, without its content', async () => {
    const path = join(tempDir(), 'credentials.json')
    writeFileSync(path, `{"version":1,"accounts":{"alice":"${SECRET}"`, { mode: 0o600 })
    const store = createFileStore({ path })
    for (const run of [() => store.get('alice'), () => store.set('bob', 'x')]) {
      const error = await failure(run)
      expect(error.code).toBe('ERR_STORAGE')
      expect(error.message).toBe(
        `credentials file ${path} is not valid JSON; delete it and log in again`,
      )
      expect(error.cause).toBeUndefined()
      expectNoSecret(error, SECRET)
    }
    // The broken file is left for the user to look at, not overwritten.
    expect(readFileSync(path, 'utf8')).toContain(SECRET)
  })

  it('reports a file of another shape by its path, without its content', async () => {
    const dir = tempDir()
    const cases = [
      `"${SECRET}"`,
      `[${JSON.stringify(SECRET)}]`,
      JSON.stringify({ alice: SECRET }),
      JSON.stringify({ version: 2, accounts: { alice: SECRET } }),
      JSON.stringify({ version: 1, accounts: [SECRET] }),
      JSON.stringify({ version: 1, accounts: { alice: [SECRET] } }),
    ]
    for (const [index, text] of cases.entries()) {
      const path = join(dir, `c${index}.json`)
      writeFileSync(path, text, { mode: 0o600 })
      const error = await failure(() => createFileStore({ path }).get('alice'))
      expect(error.code).toBe('ERR_STORAGE')
      expect(error.message).toContain(path)
      expectOneLine(error)
      expectNoSecret(error, SECRET)
    }
  })

  it.skipIf(!posix)('refuses a file other users can read or write, and leaves it', async () => {
    const path = join(tempDir(), 'credentials.json')
    const store = createFileStore({ path })
    await store.set('alice', SECRET)
    for (const loose of [0o644, 0o640, 0o602, 0o620]) {
      chmodSync(path, loose)
      const error = await failure(() => store.get('alice'))
      expect(error.code).toBe('ERR_STORAGE')
      expect(error.message).toBe(
        `credentials file ${path} is accessible to other users ` +
          `(mode 0${loose.toString(8)}); run chmod 600 on it and treat the tokens in it as exposed`,
      )
      expectNoSecret(error, SECRET)
      expectNoSecret(await failure(() => store.set('bob', 'x')), SECRET)
      expect(mode(path)).toBe(loose)
    }
    chmodSync(path, 0o400)
    expect(await store.get('alice')).toBe(SECRET)
  })

  it.skipIf(!posix)('refuses a symbolic link and leaves its target alone', async () => {
    const dir = tempDir()
    const target = join(dir, 'elsewhere.json')
    writeFileSync(target, JSON.stringify({ version: 1, accounts: { alice: SECRET } }), {
      mode: 0o600,
    })
    const path = join(dir, 'credentials.json')
    symlinkSync(target, path)
    const store = createFileStore({ path })
    for (const run of [() => store.get('alice'), () => store.set('alice', 'new')]) {
      const error = await failure(run)
      expect(error.code).toBe('ERR_STORAGE')
      expect(error.message).toBe(
        `credentials file ${path} is a symbolic link; refusing to follow it`,
      )
      expectNoSecret(error, SECRET)
    }
    expect(JSON.parse(readFileSync(target, 'utf8')).accounts.alice).toBe(SECRET)
  })

  it.skipIf(!posix)('refuses a folder or a FIFO at the path without blocking', async () => {
    const dir = tempDir()
    const folder = join(dir, 'folder.json')
    mkdirSync(folder, { mode: 0o700 })
    const folderError = await failure(() => createFileStore({ path: folder }).get('alice'))
    expect(folderError.message).toBe(`credentials file ${folder} is not a regular file`)

    const fifo = join(dir, 'fifo.json')
    const made = spawnSync('mkfifo', ['-m', '600', fifo])
    if (made.status !== 0) return // no mkfifo here; the folder case covers the rule
    const fifoError = await failure(() => createFileStore({ path: fifo }).get('alice'))
    expect(fifoError.code).toBe('ERR_STORAGE')
    expect(fifoError.message).toBe(`credentials file ${fifo} is not a regular file`)
  })

  it.skipIf(!isRoot)('refuses a file that belongs to another user', async () => {
    const path = join(tempDir(), 'credentials.json')
    const store = createFileStore({ path })
    await store.set('alice', SECRET)
    chownSync(path, 12345, 12345)
    const error = await failure(() => store.get('alice'))
    expect(error.message).toBe(`credentials file ${path} belongs to another user (uid 12345)`)
    expectNoSecret(error, SECRET)
  })

  it('refuses a file larger than 1 MiB', async () => {
    const path = join(tempDir(), 'credentials.json')
    writeFileSync(path, ' '.repeat(1024 * 1024 + 1), { mode: 0o600 })
    const error = await failure(() => createFileStore({ path }).get('alice'))
    expect(error.message).toBe(`credentials file ${path} is larger than 1 MiB`)
  })

  it('names the path when the folder cannot be created', async () => {
    const dir = tempDir()
    const blocker = join(dir, 'not-a-folder')
    writeFileSync(blocker, '')
    const path = join(blocker, 'credentials.json')
    const error = await failure(() => createFileStore({ path }).set('alice', SECRET))
    expect(error.code).toBe('ERR_STORAGE')
    expect(error.message).toMatch(/^could not (create folder|open credentials file) .*not-a-folder/)
    expectOneLine(error)
    expectNoSecret(error, SECRET)
  })
})
