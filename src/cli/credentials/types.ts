/**
 * The shape every credential store shares, so the CLI can pick the OS keychain or the file
 * fallback at run time and treat them alike.
 *
 * @module
 */

export type CredentialStoreKind = 'keychain' | 'file'

/** A small secret store keyed by account name (for example `alice@https://api.example`). */
export interface CredentialStore {
  readonly kind: CredentialStoreKind
  /**
   * Human description for `cryptorg auth status`, e.g. 'OS keychain (Secret Service)' or the
   * file path
   */
  readonly location: string
  /** The stored secret, or `undefined` when the account has none. */
  get(account: string): Promise<string | undefined>
  /** Stores the secret, replacing any earlier one for the same account. */
  set(account: string, secret: string): Promise<void>
  /** Removes the account's secret; true when something was removed. */
  delete(account: string): Promise<boolean>
}
