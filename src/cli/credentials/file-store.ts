/**
 * The fallback store: one JSON file readable by its owner only, for hosts without a usable
 * keychain (servers, containers, CI, SSH sessions).
 *
 * The file is `{"version":1,"accounts":{"<account>":"<secret>"}}`; the version leaves room to
 * change the format without guessing. Writes go to a temporary file in the same folder that is
 * then renamed over the old one, so a crash leaves either the old or the new file, never half
 * of one. Concurrent writers are not locked out: the last rename wins.
 *
 * A file that other users could read, that belongs to someone else, or that is not a regular
 * file is refused rather than repaired. Quietly tightening the mode would hide that its secrets
 * may already have leaked (the reasoning ssh applies to private keys); following a symbolic link
 * would read or replace a file elsewhere, and a rename would silently turn the link into a file.
 *
 * @module
 */
import { randomBytes } from 'node:crypto'
import {
  closeSync,
  constants,
  fstatSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeSync,
} from 'node:fs'
import { basename, dirname, join, resolve } from 'node:path'

import { CryptorgError } from '../../errors.js'
import { assertAccount, assertSecret } from './account.js'
import type { CredentialStore } from './types.js'

export interface FileStoreOptions {
  /** The credentials file; its folder is created (mode 0700) on the first write. */
  path: string
}

const FORMAT_VERSION = 1
/** Far more than any set of tokens needs; a bigger file is not ours. */
const MAX_FILE_BYTES = 1024 * 1024
const POSIX = process.platform !== 'win32'

export function createFileStore(options: FileStoreOptions): CredentialStore {
  if (typeof options.path !== 'string' || options.path.trim() === '') {
    throw new CryptorgError('ERR_INTERNAL', 'credentials file path must be a non-empty string')
  }
  const path = resolve(options.path)

  return {
    kind: 'file',
    location: path,
    async get(account) {
      assertAccount(account)
      return readAccounts(path).get(account)
    },
    async set(account, secret) {
      assertAccount(account)
      assertSecret(secret)
      const accounts = readAccounts(path)
      accounts.set(account, secret)
      writeAccounts(path, accounts)
    },
    async delete(account) {
      assertAccount(account)
      const accounts = readAccounts(path)
      if (!accounts.delete(account)) return false
      // Logging out of the last account leaves no file behind.
      if (accounts.size === 0) removeFile(path)
      else writeAccounts(path, accounts)
      return true
    },
  }
}

function storageError(message: string, cause?: unknown): CryptorgError {
  return new CryptorgError('ERR_STORAGE', message, cause === undefined ? {} : { cause })
}

/** `EACCES`-style code of a failed fs call; fs messages name paths, never file contents. */
function errno(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? String(error)
}

/** Reads the file into a map; a missing file is an empty map. */
function readAccounts(path: string): Map<string, string> {
  const text = readPrivateFile(path)
  if (text === undefined) return new Map()
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    // No cause: JSON.parse quotes the text it rejects, and that text holds secrets.
    throw storageError(`credentials file ${path} is not valid JSON; delete it and log in again`)
  }
  const accounts = new Map<string, string>()
  const record = parsed as { version?: unknown; accounts?: unknown } | null
  if (
    typeof record !== 'object' ||
    record === null ||
    record.version !== FORMAT_VERSION ||
    typeof record.accounts !== 'object' ||
    record.accounts === null ||
    Array.isArray(record.accounts)
  ) {
    throw storageError(`credentials file ${path} is not in a format this version understands`)
  }
  // Object.entries lists own keys only, so an account named __proto__ is an ordinary entry.
  for (const [account, secret] of Object.entries(record.accounts)) {
    if (typeof secret !== 'string') {
      throw storageError(`credentials file ${path} holds a non-text secret for ${account}`)
    }
    accounts.set(account, secret)
  }
  return accounts
}

/**
 * The file's text, after checking what it is: opened without following a final symbolic link
 * and without blocking on a FIFO, then checked through the open descriptor so that the file
 * checked is the file read.
 */
function readPrivateFile(path: string): string | undefined {
  let fd: number
  try {
    fd = openSync(
      path,
      constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0),
    )
  } catch (error) {
    const code = errno(error)
    if (code === 'ENOENT') return undefined
    if (code === 'ELOOP')
      throw storageError(`credentials file ${path} is a symbolic link; refusing to follow it`)
    throw storageError(`could not open credentials file ${path}: ${code}`, error)
  }
  try {
    const stat = fstatSync(fd)
    if (!stat.isFile()) throw storageError(`credentials file ${path} is not a regular file`)
    if (POSIX) {
      const uid = process.getuid?.()
      if (uid !== undefined && stat.uid !== uid) {
        throw storageError(`credentials file ${path} belongs to another user (uid ${stat.uid})`)
      }
      const mode = stat.mode & 0o777
      if ((mode & 0o077) !== 0) {
        throw storageError(
          `credentials file ${path} is accessible to other users (mode ${octal(mode)}); ` +
            `run chmod 600 on it and treat the tokens in it as exposed`,
        )
      }
    }
    if (stat.size > MAX_FILE_BYTES) {
      throw storageError(`credentials file ${path} is larger than 1 MiB`)
    }
    const buffer = Buffer.alloc(stat.size)
    let offset = 0
    while (offset < buffer.length) {
      const read = readSync(fd, buffer, offset, buffer.length - offset, offset)
      if (read === 0) break
      offset += read
    }
    return buffer.subarray(0, offset).toString('utf8')
  } catch (error) {
    if (error instanceof CryptorgError) throw error
    throw storageError(`could not read credentials file ${path}: ${errno(error)}`, error)
  } finally {
    closeSync(fd)
  }
}

function writeAccounts(path: string, accounts: Map<string, string>): void {
  const folder = dirname(path)
  try {
    mkdirSync(folder, { recursive: true, mode: 0o700 })
  } catch (error) {
    throw storageError(`could not create folder ${folder}: ${errno(error)}`, error)
  }
  const text = JSON.stringify(
    { version: FORMAT_VERSION, accounts: Object.fromEntries(accounts) },
    null,
    2,
  )
  // Same folder, so the rename stays on one file system and is atomic; random, so two writers
  // never share a temporary file; 'wx' with mode 0600, so it is private from its first byte.
  const temporary = join(folder, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`)
  let fd: number | undefined
  try {
    fd = openSync(temporary, 'wx', 0o600)
    writeSync(fd, `${text}\n`)
    fsyncSync(fd)
    closeSync(fd)
    fd = undefined
    renameSync(temporary, path)
  } catch (error) {
    if (fd !== undefined) closeSync(fd)
    rmSync(temporary, { force: true })
    throw storageError(`could not write credentials file ${path}: ${errno(error)}`, error)
  }
  syncFolder(folder)
}

function removeFile(path: string): void {
  try {
    unlinkSync(path)
  } catch (error) {
    if (errno(error) === 'ENOENT') return
    throw storageError(`could not remove credentials file ${path}: ${errno(error)}`, error)
  }
  syncFolder(dirname(path))
}

/** Makes a rename or unlink durable. Best effort: some file systems refuse to fsync a folder. */
function syncFolder(folder: string): void {
  if (!POSIX) return
  try {
    const fd = openSync(folder, 'r')
    try {
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
  } catch {
    // The data is written either way; only its survival of a power cut is less certain.
  }
}

function octal(mode: number): string {
  return `0${mode.toString(8).padStart(3, '0')}`
}
