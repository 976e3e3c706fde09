/**
 * Where the CLI keeps secrets such as login tokens: the OS keychain when one answers, otherwise
 * a private file. This is the module's public face; each store lives in a file of its own.
 *
 * @module
 */
export type { CredentialStore, CredentialStoreKind } from './types.js'
export { createKeychainStore, hasSessionBus, type KeychainStoreOptions } from './keychain.js'
export { createFileStore, type FileStoreOptions } from './file-store.js'
