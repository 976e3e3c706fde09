/**
 * The CLI's sign-in state for one database: the token pair kept in the OS keychain (or the
 * private file when there is none), the profile naming its user in the settings, and turning
 * that into an actor for the command, refreshing the access token when it has expired.
 *
 * @module
 */
import { join } from 'node:path'

import type { UserActor } from '../core/actor.js'
import type { TokenPair } from '../core/auth.js'
import { CryptorgError, isCryptorgError } from '../errors.js'
import type { Cryptorg } from '../open.js'
import type { CliContext } from './context.js'
import {
  type CredentialStore,
  type CredentialStoreKind,
  createFileStore,
  createKeychainStore,
  hasSessionBus,
} from './credentials/store.js'
import { defaultConfigDirectory } from './paths.js'
import { withRefreshLock } from './refresh-lock.js'
import { type CliSettings, openSettings } from './settings.js'

const KEYCHAIN_SERVICE = 'cryptorg'
export const DEFAULT_KEYCHAIN_TIMEOUT_MS = 5000
/** Refresh a little before expiry, so the token does not die between check and use. */
const EXPIRY_MARGIN_MS = 10_000

/** What is kept in the credential store: the pair, as JSON. */
interface StoredTokens {
  access: string
  refresh: string
  access_expires_at: string
  refresh_expires_at: string
}

export function configDirectory(ctx: CliContext): string {
  return defaultConfigDirectory(ctx.io.env, ctx.io.homedir, ctx.io.platform)
}

export async function settingsFor(ctx: CliContext): Promise<CliSettings> {
  return openSettings(configDirectory(ctx))
}

export function credentialStore(ctx: CliContext, kind: CredentialStoreKind): CredentialStore {
  if (kind === 'file')
    return createFileStore({ path: join(configDirectory(ctx), 'credentials.json') })
  return createKeychainStore({
    service: KEYCHAIN_SERVICE,
    timeoutMs: keychainTimeout(ctx),
    env: ctx.io.env,
  })
}

/** The keychain account of a user on a database: one entry per user per installation. */
export function accountFor(username: string, target: string): string {
  return `${username}@${target}`
}

/**
 * Keeps a fresh pair for the user: in the keychain when it answers, otherwise in the file.
 * Returns where it went.
 */
export async function saveSession(
  ctx: CliContext,
  pair: TokenPair,
  c?: Cryptorg,
): Promise<CredentialStore> {
  const target = ctx.credentialTarget()
  const settings = await settingsFor(ctx)
  const previous = settings.profile(target)
  const secret = JSON.stringify(toStored(pair))
  const account = accountFor(pair.user.username, target)

  let store: CredentialStore | undefined
  if (ctx.io.env['CRYPTORG_CREDENTIAL_STORE'] !== 'file' && hasSessionBus(ctx.io.env)) {
    const keychain = credentialStore(ctx, 'keychain')
    try {
      await keychain.set(account, secret)
      store = keychain
    } catch (error) {
      if (!isKeychainFailure(error)) throw error
      ctx.output.debug(`keychain: ${(error as Error).message}`)
    }
  }
  if (!store) {
    store = credentialStore(ctx, 'file')
    await store.set(account, secret)
    const chosen = ctx.io.env['CRYPTORG_CREDENTIAL_STORE'] === 'file'
    if (!settings.keychainNoticeShown && !chosen && !ctx.output.json) {
      ctx.output.note(
        `No OS keychain is available here; tokens are kept in ${store.location} (mode 0600)`,
      )
      settings.markKeychainNoticeShown()
    }
  }
  // A new sign-in replaces the earlier one on this database: its session ends on the server
  // (a refresh keeps the same session), and its tokens leave the store.
  if (previous && c && previous.session_id && previous.session_id !== pair.session_id) {
    await c.auth.endSession(previous.session_id)
  }
  if (previous && (previous.username !== pair.user.username || previous.store !== store.kind)) {
    await forget(ctx, previous.store, accountFor(previous.username, target))
  }
  settings.setProfile(target, {
    username: pair.user.username,
    store: store.kind,
    signed_in_at: new Date(ctx.now()).toISOString(),
    session_id: pair.session_id,
  })
  return store
}

/** What {@link signOut} did. */
export interface SignOutResult {
  /** Who was signed in, if anyone. */
  username: string | undefined
  /** A problem removing the local tokens, reported after the session has been ended. */
  leftover: string | undefined
}

/**
 * Ends the stored session on the server and forgets it locally. The session is ended through
 * its refresh token, or through the session id kept in the profile when the tokens cannot be
 * read, so an unreadable or tampered token store never leaves a session open.
 */
export async function signOut(ctx: CliContext, c: Cryptorg): Promise<SignOutResult> {
  const target = ctx.credentialTarget()
  const settings = await settingsFor(ctx)
  const profile = settings.profile(target)
  if (!profile) return { username: undefined, leftover: undefined }
  const account = accountFor(profile.username, target)
  let stored: StoredTokens | undefined
  try {
    stored = await readStored(ctx, profile.store, account)
  } catch (error) {
    ctx.output.debug(`stored tokens unreadable: ${(error as Error).message}`)
  }
  if (stored) {
    try {
      await c.auth.logout(stored.refresh)
    } catch (error) {
      // Ended already (password change, reuse) or not ours: the session id below still works.
      if (!isCryptorgError(error) || error.code !== 'ERR_UNAUTHENTICATED') throw error
    }
  }
  if (profile.session_id) await c.auth.endSession(profile.session_id)
  let leftover: string | undefined
  try {
    await credentialStore(ctx, profile.store).delete(account)
  } catch (error) {
    leftover = (error as Error).message
  }
  settings.deleteProfile(target)
  return { username: profile.username, leftover }
}

/** What `auth status` reports. */
export interface SessionInfo {
  username: string
  store: CredentialStoreKind
  location: string
  access_expires_at: string | null
  refresh_expires_at: string | null
  signed_in_at: string | null
  /** `CRYPTORG_TOKEN` when the token comes from the environment. */
  source: 'stored' | 'CRYPTORG_TOKEN'
}

export async function readSessionInfo(ctx: CliContext): Promise<SessionInfo | undefined> {
  const target = ctx.credentialTarget()
  const profile = (await settingsFor(ctx)).profile(target)
  if (!profile) return undefined
  const store = credentialStore(ctx, profile.store)
  const stored = await readStored(ctx, profile.store, accountFor(profile.username, target))
  return {
    username: profile.username,
    store: profile.store,
    location: store.location,
    access_expires_at: stored?.access_expires_at ?? null,
    refresh_expires_at: stored?.refresh_expires_at ?? null,
    signed_in_at: profile.signed_in_at,
    source: 'stored',
  }
}

/**
 * The user this command acts as: `CRYPTORG_TOKEN` when set, otherwise the stored session,
 * refreshed when its access token has expired.
 *
 * @throws CryptorgError `ERR_UNAUTHENTICATED` saying what to run
 */
export async function signedInActor(ctx: CliContext, c: Cryptorg): Promise<UserActor> {
  const envToken = ctx.io.env['CRYPTORG_TOKEN']
  if (envToken !== undefined && envToken.trim() !== '') {
    try {
      return await c.auth.authenticate(envToken)
    } catch (error) {
      throw withHint(error, 'CRYPTORG_TOKEN was refused', 'set a fresh token in CRYPTORG_TOKEN')
    }
  }
  const pair = await currentTokens(ctx, c)
  try {
    return await c.auth.authenticate(pair.access)
  } catch (error) {
    throw withHint(error, 'your session has ended', 'run "cryptorg login"')
  }
}

/** The stored pair, refreshed (and stored again) when the access token is about to expire. */
export async function currentTokens(ctx: CliContext, c: Cryptorg): Promise<StoredTokens> {
  const target = ctx.credentialTarget()
  const profile = (await settingsFor(ctx)).profile(target)
  if (!profile) {
    if (!(await c.auth.initialized())) {
      throw new CryptorgError(
        'ERR_UNAUTHENTICATED',
        'this database has no users yet: run "cryptorg init" to create the first administrator',
      )
    }
    throw new CryptorgError('ERR_UNAUTHENTICATED', 'not signed in: run "cryptorg login"')
  }
  const stored = await readStored(ctx, profile.store, accountFor(profile.username, target))
  if (!stored) {
    throw new CryptorgError(
      'ERR_UNAUTHENTICATED',
      `the tokens of ${profile.username} are gone from the ${profile.store}: run "cryptorg login"`,
    )
  }
  const fresh = (tokens: StoredTokens) =>
    Date.parse(tokens.access_expires_at) - EXPIRY_MARGIN_MS > ctx.now()
  if (fresh(stored)) return stored
  return withRefreshLock(configDirectory(ctx), target, async () => {
    // Another command may have refreshed while this one waited for the lock.
    const latest = await readStored(ctx, profile.store, accountFor(profile.username, target))
    if (latest && latest.refresh !== stored.refresh && fresh(latest)) return latest
    try {
      const pair = await c.auth.refresh((latest ?? stored).refresh)
      await saveSession(ctx, pair, c)
      return toStored(pair)
    } catch (error) {
      throw withHint(error, 'your session has ended', 'run "cryptorg login"')
    }
  })
}

async function readStored(
  ctx: CliContext,
  kind: CredentialStoreKind,
  account: string,
): Promise<StoredTokens | undefined> {
  const secret = await credentialStore(ctx, kind).get(account)
  if (secret === undefined) return undefined
  try {
    const parsed = JSON.parse(secret) as Partial<StoredTokens>
    if (
      typeof parsed.access === 'string' &&
      typeof parsed.refresh === 'string' &&
      typeof parsed.access_expires_at === 'string' &&
      typeof parsed.refresh_expires_at === 'string'
    ) {
      return parsed as StoredTokens
    }
  } catch {
    // Reported below, without the content.
  }
  throw new CryptorgError(
    'ERR_UNAUTHENTICATED',
    `the stored tokens in the ${kind} are unreadable: run "cryptorg login"`,
  )
}

async function forget(ctx: CliContext, kind: CredentialStoreKind, account: string) {
  try {
    await credentialStore(ctx, kind).delete(account)
  } catch (error) {
    // Nothing to sign out of when the store cannot be reached; the profile still goes.
    ctx.output.debug(`could not remove old tokens from the ${kind}: ${(error as Error).message}`)
  }
}

function toStored(pair: TokenPair): StoredTokens {
  const { access, refresh, access_expires_at, refresh_expires_at } = pair
  return { access, refresh, access_expires_at, refresh_expires_at }
}

function isKeychainFailure(error: unknown): boolean {
  return isCryptorgError(error) && typeof error.details['keychain'] === 'string'
}

function keychainTimeout(ctx: CliContext): number {
  const text = ctx.io.env['CRYPTORG_KEYCHAIN_TIMEOUT_MS']
  if (text === undefined || text.trim() === '') return DEFAULT_KEYCHAIN_TIMEOUT_MS
  const value = Number(text)
  if (!Number.isInteger(value) || value < 100 || value > 120_000) {
    throw new CryptorgError(
      'ERR_USAGE',
      `CRYPTORG_KEYCHAIN_TIMEOUT_MS must be milliseconds from 100 to 120000, got ${JSON.stringify(text)}`,
    )
  }
  return value
}

/** Puts what to do next after the core's reason: `your session has ended (...): run ...`. */
function withHint(error: unknown, prefix: string, hint: string): unknown {
  if (!isCryptorgError(error) || error.code !== 'ERR_UNAUTHENTICATED') return error
  const reason = error.message.replace(/^this session has ended \((.*)\)$/, '$1')
  return new CryptorgError('ERR_UNAUTHENTICATED', `${prefix} (${reason}): ${hint}`, {
    cause: error,
    details: error.details,
  })
}
