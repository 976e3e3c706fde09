import { type Kysely, type Migration, sql } from 'kysely'

import type { ColumnTypes } from '../dialect.js'

/**
 * What a production daemon needs: a leader lease so that only one daemon writes ticks, a record
 * of every tick for `daemon status`, idempotent tick writes, and an index for pruning by age.
 */
export function createDaemonMigration(types: ColumnTypes): Migration {
  return {
    // Kysely<any>: a migration describes the schema as it was, not as the code types it now.
    async up(db: Kysely<any>): Promise<void> {
      await db.schema
        .createTable('daemon_lease')
        .addColumn('name', 'text', (col) => col.primaryKey())
        .addColumn('holder', 'text', (col) => col.notNull())
        .addColumn('acquired_at', types.timestamp, (col) => col.notNull())
        .addColumn('renewed_at', types.timestamp, (col) => col.notNull())
        .addColumn('expires_at', types.timestamp, (col) => col.notNull())
        .addColumn('interval_ms', 'integer', (col) => col.notNull())
        .addColumn('next_tick_at', types.timestamp)
        .execute()

      await db.schema
        .createTable('daemon_ticks')
        .addColumn('id', types.serial, types.generatedKey)
        .addColumn('holder', 'text', (col) => col.notNull())
        .addColumn('slot_at', types.timestamp, (col) => col.notNull())
        .addColumn('started_at', types.timestamp, (col) => col.notNull())
        .addColumn('finished_at', types.timestamp, (col) => col.notNull())
        .addColumn('outcome', 'text', (col) =>
          col.notNull().check(sql`outcome in ('ok', 'failed')`),
        )
        .addColumn('rows_written', 'integer', (col) => col.notNull())
        .addColumn('error_code', 'text')
        .addColumn('error', 'text')
        .execute()
      await db.schema
        .createIndex('daemon_ticks_outcome_finished')
        .on('daemon_ticks')
        .columns(['outcome', 'finished_at'])
        .execute()

      // A tick's rows share one timestamp (its slot): writing a slot twice, as two daemons
      // racing for the lease could, inserts nothing the second time.
      await db.schema
        .createIndex('crypto_prices_coingecko_slot')
        .on('crypto_prices')
        .columns(['org_id', 'symbol', 'timestamp'])
        .unique()
        .where(sql.ref('source'), '=', 'coingecko')
        .execute()
      // Pruning by age across all organizations.
      await db.schema
        .createIndex('crypto_prices_time')
        .on('crypto_prices')
        .column('timestamp')
        .execute()
    },
  }
}
