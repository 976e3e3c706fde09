/**
 * The OS keychain store: the Secret Service on Linux (gnome-keyring, KWallet, KeePassXC ...),
 * the Keychain on macOS and the Credential Manager on Windows, through @napi-rs/keyring.
 *
 * Every call runs in a child process with a deadline (see keychain-helper.ts). Failures are
 * `ERR_STORAGE` errors whose `details.keychain` says what went wrong, so the caller can fall back
 * to the file store:
 * - `unavailable`: no session bus, no Secret Service, or a locked keyring nobody can unlock;
 * - `timeout`: the keychain did not answer within `timeoutMs` and the helper was killed;
 * - `failed`: the keychain answered with an error, or the helper died.
 *
 * @module
 */
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'

import { CryptorgError } from '../../errors.js'
import { assertAccount, assertSecret } from './account.js'
import { type KeychainOperation, type HelperOutcome, runHelper } from './keychain-helper.js'
import type { CredentialStore } from './types.js'

export interface KeychainStoreOptions {
  /** The keychain's service name, shared by every account of this application. */
  service: string
  /** How long one keychain call may take before its helper process is killed. */
  timeoutMs: number
  /** The environment the keychain is looked up in and the helper runs with. */
  env: Record<string, string | undefined>
}

type KeychainFailure = 'unavailable' | 'timeout' | 'failed'

/**
 * True when a D-Bus session bus can be reached by name: `DBUS_SESSION_BUS_ADDRESS` is set, or
 * `$XDG_RUNTIME_DIR/bus` exists (where systemd's user session puts it). Without one the Secret
 * Service cannot answer, so there is no point starting a helper.
 */
export function hasSessionBus(env: Record<string, string | undefined>): boolean {
  if (env['DBUS_SESSION_BUS_ADDRESS']?.trim()) return true
  const runtime = env['XDG_RUNTIME_DIR']
  return Boolean(runtime && existsSync(join(runtime, 'bus')))
}

/** Whether this platform's keychain is the Secret Service, reached over the session bus. */
function usesSecretService(platform: NodeJS.Platform): boolean {
  return platform !== 'darwin' && platform !== 'win32'
}

function describeKeychain(platform: NodeJS.Platform): string {
  if (platform === 'darwin') return 'OS keychain (macOS Keychain)'
  if (platform === 'win32') return 'OS keychain (Windows Credential Manager)'
  return 'OS keychain (Secret Service)'
}

const VERB: Record<KeychainOperation, string> = {
  get: 'read',
  set: 'store',
  delete: 'delete',
}

export function createKeychainStore(options: KeychainStoreOptions): CredentialStore {
  const { service, timeoutMs } = options
  if (typeof service !== 'string' || service === '') {
    throw new CryptorgError('ERR_INTERNAL', 'keychain service name must be a non-empty string')
  }
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new CryptorgError('ERR_INTERNAL', 'keychain timeout must be a positive number of ms')
  }
  // Copied once so that a caller mutating its object later cannot change where secrets go.
  const env = { ...options.env }
  const platform = process.platform

  const fail = (
    op: KeychainOperation,
    account: string,
    keychain: KeychainFailure,
    why: string,
  ): CryptorgError =>
    new CryptorgError(
      'ERR_STORAGE',
      `could not ${VERB[op]} the credential for ${account} in the OS keychain: ${why}`,
      { details: { keychain } },
    )

  async function call(
    op: KeychainOperation,
    account: string,
    secret?: string,
  ): Promise<string | boolean | null> {
    if (usesSecretService(platform) && !hasSessionBus(env)) {
      throw fail(op, account, 'unavailable', 'no D-Bus session bus')
    }
    let binding: string
    try {
      binding = createRequire(import.meta.url).resolve('@napi-rs/keyring')
    } catch {
      throw fail(op, account, 'unavailable', 'the @napi-rs/keyring package is not installed')
    }
    let outcome: HelperOutcome
    try {
      outcome = await runHelper(
        { binding, service, account, op, ...(secret !== undefined && { secret }) },
        helperEnvironment(env),
        // setTimeout treats anything above 2^31-1 ms as 1 ms.
        Math.min(timeoutMs, 2 ** 31 - 1),
      )
    } catch (error) {
      // Spawn errors name the executable and the errno, never the request.
      throw new CryptorgError(
        'ERR_STORAGE',
        `could not start the keychain helper: ${(error as NodeJS.ErrnoException).code ?? error}`,
        { details: { keychain: 'failed' }, cause: error },
      )
    }
    switch (outcome.kind) {
      case 'timeout':
        throw fail(op, account, 'timeout', `no answer within ${timeoutMs} ms`)
      case 'crashed':
        throw fail(
          op,
          account,
          'failed',
          `the keychain helper exited with ${outcome.signal ?? `code ${outcome.exitCode}`}`,
        )
      case 'reply': {
        const { reply } = outcome
        if (reply.ok) return reply.value
        // The helper already scrubs the secret; doing it again here costs nothing and keeps
        // this side safe even if the helper changes.
        throw fail(op, account, reply.reason, redact(reply.message, secret))
      }
    }
  }

  return {
    kind: 'keychain',
    location: describeKeychain(platform),
    async get(account) {
      assertAccount(account)
      const value = await call('get', account)
      return typeof value === 'string' ? value : undefined
    },
    async set(account, secret) {
      assertAccount(account)
      assertSecret(secret)
      await call('set', account, secret)
    },
    async delete(account) {
      assertAccount(account)
      return (await call('delete', account)) === true
    },
  }
}

/**
 * The helper's environment: the caller's, with the bus address spelled out when only
 * `$XDG_RUNTIME_DIR/bus` exists (so it does not depend on libdbus finding it by itself), and
 * without NODE_OPTIONS, which could make the helper open an inspector port or preload code.
 */
function helperEnvironment(env: Record<string, string | undefined>): Record<string, string> {
  const result: Record<string, string> = {}
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && name !== 'NODE_OPTIONS') result[name] = value
  }
  const runtime = env['XDG_RUNTIME_DIR']
  if (!env['DBUS_SESSION_BUS_ADDRESS']?.trim() && runtime && existsSync(join(runtime, 'bus'))) {
    result['DBUS_SESSION_BUS_ADDRESS'] = `unix:path=${escapeAddressValue(join(runtime, 'bus'))}`
  }
  return result
}

/** D-Bus address values escape every byte except ASCII letters, digits and `-_/.\*` as `%XX`. */
function escapeAddressValue(value: string): string {
  let escaped = ''
  for (const byte of Buffer.from(value, 'utf8')) {
    const char = String.fromCharCode(byte)
    escaped += /[-0-9A-Za-z_/.\\*]/.test(char) ? char : `%${byte.toString(16).padStart(2, '0')}`
  }
  return escaped
}

function redact(text: string, secret: string | undefined): string {
  return secret ? text.split(secret).join('[redacted]') : text
}
