/**
 * The CLI's own settings, in a `conf` store in the configuration directory: who is signed in
 * to which database and where their tokens are kept. Tokens themselves never go here.
 *
 * @module
 */
import { CryptorgError } from '../errors.js'
import type { CredentialStoreKind } from './credentials/store.js'
import { makePrivateDirectory } from './paths.js'

/** The signed-in user of one database. */
export interface Profile {
  username: string
  /** Where the tokens are kept. */
  store: CredentialStoreKind
  /** ISO-8601 UTC. */
  signed_in_at: string
  /** The server-side session, so that signing out works even when the tokens are lost. */
  session_id?: string
}

interface SettingsShape {
  /** By database (its absolute path). */
  profiles: Record<string, Profile>
  /** Set once the user has been told the keychain is unavailable, so it is said once. */
  keychain_notice_shown: boolean
}

export interface CliSettings {
  readonly path: string
  profile(target: string): Profile | undefined
  setProfile(target: string, profile: Profile): void
  deleteProfile(target: string): void
  readonly keychainNoticeShown: boolean
  markKeychainNoticeShown(): void
}

export async function openSettings(directory: string): Promise<CliSettings> {
  makePrivateDirectory(directory)
  // conf is ESM-only and only needed by the commands that sign in.
  const { default: Conf } = await import('conf')
  let store: InstanceType<typeof Conf<SettingsShape>>
  try {
    store = new Conf<SettingsShape>({
      cwd: directory,
      configName: 'config',
      projectSuffix: '',
      configFileMode: 0o600,
      // Profile keys are file paths, full of dots.
      accessPropertiesByDotNotation: false,
      defaults: { profiles: {}, keychain_notice_shown: false },
    })
  } catch (error) {
    throw new CryptorgError(
      'ERR_STORAGE',
      `could not read the settings in ${directory}: ${(error as Error).message}`,
      { cause: error },
    )
  }
  const profiles = () => ({ ...store.get('profiles') })
  return {
    path: store.path,
    profile: (target) => profiles()[target],
    setProfile(target, profile) {
      store.set('profiles', { ...profiles(), [target]: profile })
    },
    deleteProfile(target) {
      const next = profiles()
      delete next[target]
      store.set('profiles', next)
    },
    get keychainNoticeShown() {
      return store.get('keychain_notice_shown') === true
    },
    markKeychainNoticeShown() {
      store.set('keychain_notice_shown', true)
    },
  }
}
