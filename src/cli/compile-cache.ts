/**
 * A V8 code cache for the bundled CLI, so that a command does not parse and compile the same
 * megabyte of JavaScript on every run. Node 22 offers this as `module.enableCompileCache()`;
 * Node 20, which cryptorg supports, does not, so the bin loads the bundle's CommonJS chunks
 * itself, compiled through `vm.Script` with the cached data kept in the user's cache directory.
 *
 * The cache is an optimization only: a missing, stale, rejected or unwritable cache makes the
 * command compile as it would have anyway, and every failure here is silent.
 *
 * @module
 */
import { createHash } from 'node:crypto'
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  rmdirSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, isAbsolute, join, resolve } from 'node:path'
import { Script } from 'node:vm'

import { defaultCacheDirectory } from './paths.js'

type Env = Readonly<Record<string, string | undefined>>

/**
 * `CRYPTORG_COMPILE_CACHE=off` (or `0`) turns the cache off; an absolute path is its folder
 * (a relative one turns it off too).
 */
export const COMPILE_CACHE_ENV = 'CRYPTORG_COMPILE_CACHE'

const SUBDIRECTORY_PREFIX = 'v8-'
const STALE_AFTER_MS = 30 * 86_400_000
const CHECKSUM_BYTES = 20

/**
 * The folder for this node binary's cache entries, or undefined when the cache is off: inside
 * `CRYPTORG_COMPILE_CACHE`, else inside the platform's cache directory (defaultCacheDirectory).
 */
export function compileCacheDirectory(
  env: Env,
  home: string,
  platform: NodeJS.Platform,
  runtime: { version: string; arch: string; flags: readonly string[] },
): string | undefined {
  const chosen = env[COMPILE_CACHE_ENV]?.trim()
  if (chosen === 'off' || chosen === '0') return undefined
  // A relative folder would follow the working directory around: not a place for a cache.
  if (chosen && !isAbsolute(chosen)) return undefined
  let base = chosen
  if (!base) {
    try {
      base = defaultCacheDirectory(env, home, platform)
    } catch {
      // No home directory and no folder named: nowhere sensible to keep a cache.
      return undefined
    }
  }
  // V8 refuses cached data made by another V8 or under other flags. One folder per node
  // version and flag set keeps a daemon started with heap flags from overwriting, run after
  // run, the cache a plain `cryptorg` command made (and the other way round).
  const flags = sha1(runtime.flags.join('\0')).toString('hex').slice(0, 8)
  return join(base, `${SUBDIRECTORY_PREFIX}${runtime.version}-${runtime.arch}-${flags}`)
}

interface PendingEntry {
  script: Script
  file: string
}

interface BundleModule {
  exports: unknown
}

// The CommonJS wrapper, on the first line so that line numbers in stack traces stay right.
const WRAPPER_START = '(function (exports, require, module, __filename, __dirname) { '
const WRAPPER_END = '\n})'

/**
 * Loads the bundle's entry file and, as it asks for them, its chunks (`require('./x.cjs')`
 * inside the bundle's folder), each compiled with a code cache in `requestedCache` when one is
 * given and private to this user. Everything else they require (builtins, packages, the native
 * addons) goes through node's own `require`. Only public APIs: `vm.Script` with `cachedData`,
 * and `createRequire`.
 *
 * Cache entries are named by a hash of the file's content, so a rebuilt or upgraded bundle
 * never runs stale code. Missing or refused entries are written when the process exits, after
 * the command ran, so that they hold the functions the command compiled too.
 */
export function loadBundle(entryFile: string, requestedCache: string | undefined): unknown {
  const folder = dirname(entryFile)
  // The folder and the one holding it (where other runtimes' folders are pruned) must be ours.
  const cacheDirectory =
    requestedCache !== undefined && isPrivate(requestedCache) && isPrivate(dirname(requestedCache))
      ? requestedCache
      : undefined
  const modules = new Map<string, BundleModule>()
  const pending: PendingEntry[] = []

  const compile = (filename: string, content: string): Script => {
    if (cacheDirectory === undefined) return new Script(wrap(content), { filename })
    const file = join(cacheDirectory, `${sha1(content).toString('hex')}.bin`)
    const cachedData = readEntry(file)
    const script = new Script(wrap(content), { filename, cachedData })
    if (cachedData === undefined || script.cachedDataRejected === true) {
      pending.push({ script, file })
    }
    return script
  }

  const load = (filename: string): unknown => {
    const loaded = modules.get(filename)
    if (loaded) return loaded.exports
    const module: BundleModule = { exports: {} }
    modules.set(filename, module)
    const script = compile(filename, readFileSync(filename, 'utf8'))
    const nodeRequire = createRequire(filename)
    const require = (id: string): unknown => {
      const chunk = resolve(folder, id)
      return id.startsWith('./') && id.endsWith('.cjs') && dirname(chunk) === folder
        ? load(chunk)
        : nodeRequire(id)
    }
    try {
      const wrapper = script.runInThisContext({ displayErrors: true }) as (
        ...args: unknown[]
      ) => void
      wrapper.call(module.exports, module.exports, require, module, filename, folder)
    } catch (error) {
      // As node does: a module that failed to load is not kept half-loaded.
      modules.delete(filename)
      throw error
    }
    return module.exports
  }

  if (cacheDirectory !== undefined) {
    process.once('exit', () => {
      if (pending.length > 0) writeEntries(cacheDirectory, pending)
    })
  }
  return load(entryFile)
}

/**
 * Cached code runs as the user who reads it, so a cache folder someone else could write to is
 * not read (think of `sudo` keeping the caller's HOME): it must belong to this user and be
 * writable by no one else. A folder that does not exist yet is made private when written.
 */
function isPrivate(cacheDirectory: string): boolean {
  if (process.getuid === undefined) return true
  try {
    const { uid, mode } = statSync(cacheDirectory)
    return uid === process.getuid() && (mode & 0o022) === 0
  } catch {
    return true
  }
}

/** A real folder (not a link to one elsewhere) that this user owns. */
function isOwnFolder(path: string): boolean {
  try {
    const stats = lstatSync(path)
    return stats.isDirectory() && (process.getuid === undefined || stats.uid === process.getuid())
  } catch {
    return false
  }
}

function wrap(content: string): string {
  return WRAPPER_START + content + WRAPPER_END
}

/**
 * An entry is a SHA-1 of the cached data followed by the data. V8 checks only the header of
 * cached data (its version, flags and the source length), not the rest, and a damaged entry
 * can crash the process outright: one whose checksum does not match is never handed to V8.
 * Undefined for a missing or damaged entry (compiled from source and written again).
 */
function readEntry(file: string): Buffer | undefined {
  let entry: Buffer
  try {
    // Only a regular file: reading a FIFO put in its place would wait forever.
    if (!statSync(file).isFile()) return undefined
    entry = readFileSync(file)
  } catch {
    return undefined
  }
  if (entry.length <= CHECKSUM_BYTES) return undefined
  const data = entry.subarray(CHECKSUM_BYTES)
  return sha1(data).equals(entry.subarray(0, CHECKSUM_BYTES)) ? data : undefined
}

function writeEntries(cacheDirectory: string, entries: readonly PendingEntry[]): void {
  try {
    makePrivateDirectories(cacheDirectory)
    pruneStale(cacheDirectory, Date.now())
  } catch {
    // A read-only home (a sandboxed service), a file in the way: the next run compiles again.
    return
  }
  for (const { script, file } of entries) {
    // Written aside and renamed: a command starting meanwhile reads a whole entry or none.
    const partial = `${file}.${process.pid}.tmp`
    try {
      const data = script.createCachedData()
      writeFileSync(partial, Buffer.concat([sha1(data), data]), { mode: 0o600 })
      renameSync(partial, file)
    } catch {
      // A full disk, or something else where the entry belongs: this entry only is skipped.
      rmSync(partial, { force: true })
    }
  }
}

/**
 * mkdir -p with mode 0700, one level at a time: node 20's own recursive mkdirSync can loop
 * forever under a folder that no longer exists.
 */
function makePrivateDirectories(directory: string): void {
  const missing: string[] = []
  for (let at = directory; !existsSync(at); at = dirname(at)) {
    if (dirname(at) === at) break
    missing.unshift(at)
  }
  for (const path of missing) {
    try {
      mkdirSync(path, { mode: 0o700 })
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    }
  }
}

/** The names this module gives its folders and entries, and only those are ever deleted. */
const RUNTIME_FOLDER = /^v8-v\d+\.\d+\.\d+-[a-z0-9]+-[0-9a-f]{8}$/
const ENTRY_FILE = /^[0-9a-f]{40}\.bin(\.\d+\.tmp)?$/

/**
 * Entries of an older bundle, and folders of an older node, are never read again. Whenever new
 * entries are written, entries last written more than a month ago go (an entry still in use is
 * then compiled and written once more), and so do the folders of other runtimes once empty.
 * Only names this module makes are touched, in case the cache shares its folder with others.
 */
function pruneStale(cacheDirectory: string, now: number): void {
  const parent = dirname(cacheDirectory)
  const others = readdirSync(parent)
    .filter((name) => RUNTIME_FOLDER.test(name))
    .map((name) => join(parent, name))
    .filter((folder) => folder !== cacheDirectory && isOwnFolder(folder))
  for (const folder of [cacheDirectory, ...others]) {
    const own = folder === cacheDirectory
    // Judged before its entries go, which makes the folder itself look new.
    const staleFolder = !own && isStale(folder, now)
    let names: string[]
    try {
      names = readdirSync(folder).filter((entry) => ENTRY_FILE.test(entry))
    } catch {
      continue
    }
    for (const name of names) {
      const path = join(folder, name)
      try {
        if (isStale(path, now)) rmSync(path)
      } catch {
        // Pruned by another command at the same moment.
      }
    }
    if (staleFolder) {
      try {
        // Refused while anything is left in it: only an emptied folder goes.
        rmdirSync(folder)
      } catch {
        // Not empty, or gone already.
      }
    }
  }
}

function isStale(path: string, now: number): boolean {
  try {
    return now - statSync(path).mtimeMs > STALE_AFTER_MS
  } catch {
    return false
  }
}

function sha1(data: string | Buffer): Buffer {
  return createHash('sha1').update(data).digest()
}
