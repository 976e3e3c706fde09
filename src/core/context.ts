import type { Kysely } from 'kysely'

import type { Dialect } from '../db/dialect.js'
import type { Database } from '../db/schema.js'
import type { Clock, Logger } from '../deps.js'

/** What every service is built from: the database and the injected clock and logger. */
export interface CoreContext {
  readonly db: Kysely<Database>
  /** The few differences between SQLite and Postgres that a query must spell out. */
  readonly dialect: Dialect
  readonly clock: Clock
  readonly logger: Logger
}
