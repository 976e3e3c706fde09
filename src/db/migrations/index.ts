import type { Migration } from 'kysely'

import { type DialectName, columnTypesFor } from '../dialect.js'
import { createInitMigration } from './0001-init.js'
import { createDaemonMigration } from './0002-daemon.js'
import { createAuthMigration } from './0003-auth.js'

/**
 * All migrations, imported rather than read from a folder so they survive bundling and global
 * installs. Names sort in the order they run; a released migration is never edited.
 */
export function migrationsFor(dialect: DialectName): Record<string, Migration> {
  const types = columnTypesFor(dialect)
  return {
    '0001-init': createInitMigration(types),
    '0002-daemon': createDaemonMigration(types),
    '0003-auth': createAuthMigration(types),
  }
}
