import { execFileSync } from 'node:child_process'
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

import { afterEach, beforeEach, describe, expect, it } from 'vitest'

import { compileCacheDirectory } from '../../src/cli/compile-cache.js'
import { assertBuilt, runBin } from '../helpers/process.js'

const RUNTIME = { version: 'v20.20.2', arch: 'x64', flags: [] }
const BUILT = fileURLToPath(new URL('../../dist/cli/compile-cache.js', import.meta.url))

describe('compileCacheDirectory', () => {
  it('follows each platform and keeps one folder per node version, arch and flags', () => {
    const linux = compileCacheDirectory({}, '/home/ann', 'linux', RUNTIME)
    expect(linux).toMatch(/^\/home\/ann\/\.cache\/cryptorg\/v8-v20\.20\.2-x64-[0-9a-f]{8}$/)
    expect(
      compileCacheDirectory({ XDG_CACHE_HOME: '/var/c' }, '/home/ann', 'linux', RUNTIME),
    ).toMatch(/^\/var\/c\/cryptorg\/v8-/)
    // A relative XDG_CACHE_HOME is invalid and ignored, as XDG says.
    expect(compileCacheDirectory({ XDG_CACHE_HOME: 'c' }, '/home/ann', 'linux', RUNTIME)).toMatch(
      /^\/home\/ann\/\.cache\/cryptorg\//,
    )
    expect(compileCacheDirectory({}, '/Users/ann', 'darwin', RUNTIME)).toMatch(
      /^\/Users\/ann\/Library\/Caches\/cryptorg\//,
    )
    expect(
      compileCacheDirectory({ LOCALAPPDATA: 'C:\\L' }, 'C:\\Users\\ann', 'win32', RUNTIME),
    ).toContain(join('C:\\L', 'cryptorg', 'Cache'))

    const otherNode = compileCacheDirectory({}, '/home/ann', 'linux', {
      ...RUNTIME,
      version: 'v20.21.0',
    })
    const otherFlags = compileCacheDirectory({}, '/home/ann', 'linux', {
      ...RUNTIME,
      flags: ['--max-semi-space-size=1'],
    })
    expect(new Set([linux, otherNode, otherFlags]).size).toBe(3)
  })

  it('is off with CRYPTORG_COMPILE_CACHE=off or 0, and a folder of its own otherwise', () => {
    for (const off of ['off', '0', ' off ']) {
      const env = { CRYPTORG_COMPILE_CACHE: off }
      expect(compileCacheDirectory(env, '/home/ann', 'linux', RUNTIME)).toBeUndefined()
    }
    const env = { CRYPTORG_COMPILE_CACHE: '/srv/cache' }
    expect(compileCacheDirectory(env, '/home/ann', 'linux', RUNTIME)).toMatch(/^\/srv\/cache\/v8-/)
    // A relative folder would follow the working directory: off as well.
    const relative = { CRYPTORG_COMPILE_CACHE: 'cache' }
    expect(compileCacheDirectory(relative, '/home/ann', 'linux', RUNTIME)).toBeUndefined()
    // No home and no folder named: nowhere sensible to write.
    expect(compileCacheDirectory({}, '', 'linux', RUNTIME)).toBeUndefined()
  })
})

describe('loadBundle', () => {
  let directory: string
  let bundle: string
  let cache: string

  beforeEach(() => {
    assertBuilt()
    directory = mkdtempSync(join(tmpdir(), 'cryptorg-compile-cache-'))
    bundle = join(directory, 'bundle')
    cache = join(directory, 'cache', 'v8-test')
    mkdirSync(bundle)
    writeBundle('one')
  })

  afterEach(() => {
    if (existsSync(join(directory, 'cache'))) chmodSync(join(directory, 'cache'), 0o700)
    rmSync(directory, { recursive: true, force: true })
  })

  function writeBundle(word: string): void {
    writeFileSync(
      join(bundle, 'main.cjs'),
      [
        `const { word } = require('./chunk.cjs')`,
        // Builtins and anything outside the bundle's folder come from node's own require.
        `const { sep } = require('node:path')`,
        `exports.say = () => 'main ' + word() + (sep === '/' ? '' : '?')`,
      ].join('\n'),
    )
    writeFileSync(join(bundle, 'chunk.cjs'), `exports.word = () => ${JSON.stringify(word)}\n`)
  }

  /** Runs a process that loads `bundle` with the cache and prints what the bundle says. */
  function run(cacheDirectory: string | null = cache): string {
    const script = [
      `import { loadBundle } from ${JSON.stringify(BUILT)}`,
      `const main = loadBundle(${JSON.stringify(join(bundle, 'main.cjs'))}, ` +
        `${cacheDirectory === null ? 'undefined' : JSON.stringify(cacheDirectory)})`,
      `console.log(main.say())`,
    ].join('\n')
    return execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 20_000,
    }).trim()
  }

  const entries = () => readdirSync(cache).sort()

  it('writes one entry per file on the first run and reads them on the next', () => {
    expect(run()).toBe('main one')
    const written = entries()
    expect(written).toHaveLength(2)
    expect(written.every((name) => /^[0-9a-f]{40}\.bin$/.test(name))).toBe(true)
    const before = written.map((name) => statSync(join(cache, name)).mtimeMs)

    expect(run()).toBe('main one')
    expect(entries()).toEqual(written)
    // Accepted entries are not written again.
    expect(written.map((name) => statSync(join(cache, name)).mtimeMs)).toEqual(before)
  })

  it('never runs stale code: a changed file gets an entry of its own', () => {
    expect(run()).toBe('main one')
    writeBundle('two')
    expect(run()).toBe('main two')
    // main.cjs is unchanged; chunk.cjs now has two entries, one per content.
    expect(entries()).toHaveLength(3)
  })

  it('replaces an entry V8 refuses, and the command still answers', () => {
    run()
    for (const name of entries()) writeFileSync(join(cache, name), 'not a code cache')
    expect(run()).toBe('main one')
    // Rewritten with real cached data.
    for (const name of entries()) expect(statSync(join(cache, name)).size).toBeGreaterThan(100)
  })

  it('loads the same without a cache folder, writing nothing', () => {
    expect(run(null)).toBe('main one')
    expect(readdirSync(directory).sort()).toEqual(['bundle'])
  })

  it('runs each file once however often it is required', () => {
    writeFileSync(
      join(bundle, 'chunk.cjs'),
      `globalThis.loads = (globalThis.loads ?? 0) + 1\nexports.word = () => String(globalThis.loads)\n`,
    )
    writeFileSync(
      join(bundle, 'main.cjs'),
      `require('./chunk.cjs')\nconst { word } = require('./chunk.cjs')\nexports.say = () => 'main ' + word()\n`,
    )
    expect(run()).toBe('main 1')
  })

  it('neither reads nor writes a cache folder that others may write to', () => {
    run()
    chmodSync(cache, 0o777)
    for (const name of entries()) writeFileSync(join(cache, name), 'planted by someone else')
    expect(run()).toBe('main one')
    // Not read (it would have been refused and rewritten) and nothing written.
    for (const name of entries()) {
      expect(readFileSync(join(cache, name), 'utf8')).toBe('planted by someone else')
    }
    chmodSync(cache, 0o700)
    expect(run()).toBe('main one')
    for (const name of entries()) expect(statSync(join(cache, name)).size).toBeGreaterThan(100)
  })

  it('does not use a cache inside a folder that others may write to', () => {
    run()
    const parent = join(directory, 'cache')
    chmodSync(parent, 0o777)
    const monthAgo = Date.now() / 1000 - 31 * 86_400
    const other = join(parent, 'v8-v18.0.0-x64-00000000')
    mkdirSync(other)
    const planted = join(other, `${'2'.repeat(40)}.bin`)
    writeFileSync(planted, 'someone else')
    utimesSync(planted, monthAgo, monthAgo)
    for (const name of entries()) writeFileSync(join(cache, name), 'planted by someone else')

    expect(run()).toBe('main one')
    expect(readFileSync(planted, 'utf8')).toBe('someone else')
    for (const name of entries()) {
      expect(readFileSync(join(cache, name), 'utf8')).toBe('planted by someone else')
    }
    chmodSync(parent, 0o700)
  })

  it('prunes nothing through a link to a folder elsewhere', () => {
    run()
    const target = join(directory, 'elsewhere')
    mkdirSync(target)
    const precious = join(target, `${'3'.repeat(40)}.bin`)
    writeFileSync(precious, 'precious')
    const monthAgo = Date.now() / 1000 - 31 * 86_400
    utimesSync(precious, monthAgo, monthAgo)
    symlinkSync(target, join(directory, 'cache', 'v8-v16.0.0-x64-11111111'))

    writeBundle('five')
    expect(run()).toBe('main five')
    expect(readFileSync(precious, 'utf8')).toBe('precious')
  })

  it('does not wait on a FIFO put where an entry belongs', () => {
    run()
    const [name] = entries()
    rmSync(join(cache, name!))
    execFileSync('mkfifo', [join(cache, name!)])
    expect(run()).toBe('main one')
  })

  it('is silent when the cache cannot be written', () => {
    mkdirSync(join(directory, 'cache'))
    chmodSync(join(directory, 'cache'), 0o500)
    // Root may write anywhere; the point is that nothing fails either way.
    expect(run()).toBe('main one')
  })

  it('drops what was last written more than a month ago when it writes', () => {
    run()
    const parent = join(directory, 'cache')
    const monthAgo = Date.now() / 1000 - 31 * 86_400
    const old = join(parent, 'v8-v18.0.0-x64-00000000')
    mkdirSync(old)
    writeFileSync(join(old, `${'1'.repeat(40)}.bin`), 'old entry')
    utimesSync(join(old, `${'1'.repeat(40)}.bin`), monthAgo, monthAgo)
    utimesSync(old, monthAgo, monthAgo)
    const recent = join(parent, 'v8-v20.0.0-x64-00000000')
    mkdirSync(recent)
    const stale = join(cache, `${'0'.repeat(40)}.bin`)
    writeFileSync(stale, 'old entry')
    utimesSync(stale, monthAgo, monthAgo)

    writeBundle('three')
    expect(run()).toBe('main three')
    expect(readdirSync(parent).sort()).toEqual(['v8-test', 'v8-v20.0.0-x64-00000000'])
    expect(entries()).not.toContain(`${'0'.repeat(40)}.bin`)
  })

  it('deletes nothing it did not make, however old, when it shares a folder', () => {
    run()
    const parent = join(directory, 'cache')
    const monthAgo = Date.now() / 1000 - 31 * 86_400
    // Someone else's folders and files next to the cache, and a stray file inside it.
    const checkout = join(parent, 'v8-checkout')
    mkdirSync(join(checkout, 'src'), { recursive: true })
    writeFileSync(join(checkout, 'src', 'file.cc'), 'important')
    const lookalike = join(parent, 'v8-v18.0.0-x64-00000000')
    mkdirSync(lookalike)
    writeFileSync(join(lookalike, 'notes.txt'), 'not an entry')
    writeFileSync(join(cache, 'README'), 'not an entry')
    for (const path of [checkout, lookalike, join(lookalike, 'notes.txt'), join(cache, 'README')]) {
      utimesSync(path, monthAgo, monthAgo)
    }

    writeBundle('four')
    expect(run()).toBe('main four')
    expect(readFileSync(join(checkout, 'src', 'file.cc'), 'utf8')).toBe('important')
    expect(readFileSync(join(lookalike, 'notes.txt'), 'utf8')).toBe('not an entry')
    expect(readFileSync(join(cache, 'README'), 'utf8')).toBe('not an entry')
  })

  it('never hands V8 an entry damaged past its header, and writes it again', () => {
    run()
    const damaged = new Map<string, Buffer>()
    for (const name of entries()) {
      const entry = readFileSync(join(cache, name))
      // Bytes well inside the cached data: V8 itself only checks the header, and crashes.
      entry.fill(0xff, Math.floor(entry.length / 2), Math.floor(entry.length / 2) + 8)
      writeFileSync(join(cache, name), entry)
      damaged.set(name, entry)
    }
    expect(run()).toBe('main one')
    for (const [name, entry] of damaged) {
      expect(readFileSync(join(cache, name)).equals(entry)).toBe(false)
    }
    expect(run()).toBe('main one')
  })
})

describe('the bundle', () => {
  // Scripts compiled through vm.Script cannot run import() without an experimental flag: the
  // keychain's lazily loaded child_process failed that way before the bundler turned it into
  // require() (scripts/bundle-cli.js).
  it('holds no import() expression', () => {
    assertBuilt()
    const directory = fileURLToPath(new URL('../../dist/cli-bundle/', import.meta.url))
    const files = readdirSync(directory).filter((name) => name.endsWith('.cjs'))
    expect(files).toContain('main.cjs')
    for (const name of files) {
      const code = readFileSync(join(directory, name), 'utf8')
        .replace(/\/\*[\s\S]*?\*\//g, '')
        .replace(/^\s*\/\/.*$/gm, '')
      expect(code.match(/(?<![\w$.])import\s*\(/g) ?? [], name).toEqual([])
    }
  })
})

describe('the bin', () => {
  it('fills the cache on the first command and answers the same with and without it', async () => {
    assertBuilt()
    const home = mkdtempSync(join(tmpdir(), 'cryptorg-compile-cache-bin-'))
    try {
      const env = { PATH: process.env['PATH'], HOME: home }
      const first = await runBin(['--version'], env)
      const cacheRoot = join(home, '.cache', 'cryptorg')
      const [folder] = readdirSync(cacheRoot)
      expect(folder).toMatch(/^v8-/)
      expect(readdirSync(join(cacheRoot, folder!)).length).toBeGreaterThan(0)
      const second = await runBin(['--version'], env)
      const off = await runBin(['--version'], { ...env, CRYPTORG_COMPILE_CACHE: 'off' })
      expect(first).toEqual(second)
      expect(off).toEqual(first)
      expect(first.code).toBe(0)
    } finally {
      rmSync(home, { recursive: true, force: true })
    }
  })

  it('writes nothing with CRYPTORG_COMPILE_CACHE=off', async () => {
    const home = mkdtempSync(join(tmpdir(), 'cryptorg-compile-cache-bin-'))
    try {
      const env = { PATH: process.env['PATH'], HOME: home, CRYPTORG_COMPILE_CACHE: 'off' }
      expect((await runBin(['--help'], env)).code).toBe(0)
      expect(readdirSync(home)).toEqual([])
    } finally {
      rmSync(home, { recursive: true, force: true })
    }
  })
})
