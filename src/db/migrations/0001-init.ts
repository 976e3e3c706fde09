import { type Kysely, type Migration, sql } from 'kysely'

import type { ColumnTypes } from '../dialect.js'

/** Organizations, their price history and the coins the poller tracks. */
export function createInitMigration(types: ColumnTypes): Migration {
  return {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema
        .createTable('organizations')
        .addColumn('id', types.uuid, (col) => col.primaryKey())
        .addColumn('name', 'text', (col) => col.notNull())
        .addColumn('name_key', types.key, (col) => col.notNull().unique())
        .addColumn('created_at', types.timestamp, (col) => col.notNull())
        .execute()

      await db.schema
        .createTable('crypto_prices')
        .addColumn('id', types.serial, types.generatedKey)
        .addColumn('org_id', types.uuid, (col) =>
          col.notNull().references('organizations.id').onDelete('cascade'),
        )
        .addColumn('symbol', types.key, (col) => col.notNull())
        .addColumn('price', types.decimal, (col) => col.notNull())
        .addColumn('currency', 'text', (col) => col.notNull())
        .addColumn('timestamp', types.timestamp, (col) => col.notNull())
        .addColumn('source', 'text', (col) =>
          col.notNull().check(sql`source in ('coingecko', 'manual')`),
        )
        .addColumn('quoted_at', types.timestamp)
        .execute()

      // "Latest per symbol" and symbol history are seeks on this index at any history length.
      await db.schema
        .createIndex('crypto_prices_org_symbol_time')
        .on('crypto_prices')
        .columns(['org_id', 'symbol', 'timestamp', 'id'])
        .execute()
      // History across all symbols of one organization, newest first.
      await db.schema
        .createIndex('crypto_prices_org_time')
        .on('crypto_prices')
        .columns(['org_id', 'timestamp', 'id'])
        .execute()

      await db.schema
        .createTable('tracked_coins')
        .addColumn('symbol', types.key, (col) => col.primaryKey())
        .addColumn('coin_id', 'text', (col) => col.notNull())
        .addColumn('vs_currency', 'text', (col) => col.notNull())
        .addColumn('created_at', types.timestamp, (col) => col.notNull())
        .execute()

      const seededAt = new Date().toISOString()
      await db
        .insertInto('tracked_coins')
        .values([
          { symbol: 'BTC', coin_id: 'bitcoin', vs_currency: 'usd', created_at: seededAt },
          { symbol: 'ETH', coin_id: 'ethereum', vs_currency: 'usd', created_at: seededAt },
        ])
        .execute()
    },
  }
}
