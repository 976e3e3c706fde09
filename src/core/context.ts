import type { Kysely } from 'kysely'

import type { Database } from '../db/schema.js'
import type { Clock, Logger } from '../deps.js'

/** What every service is built from: the database and the injected clock and logger. */
export interface CoreContext {
  readonly db: Kysely<Database>
  readonly clock: Clock
  readonly logger: Logger
}
