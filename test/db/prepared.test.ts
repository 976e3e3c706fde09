import type { Kysely } from 'kysely'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'

import { prepared, slot } from '../../src/db/prepared.js'
import type { Database } from '../../src/db/schema.js'
import { migratedTestDb } from '../helpers/backend.js'

let db: Kysely<Database>
beforeEach(async () => {
  db = await migratedTestDb()
})
afterEach(async () => {
  await db.destroy()
})

describe('prepared', () => {
  const [symbol, currency] = [slot('symbol'), slot('currency')]
  const coinBy = prepared([symbol, currency], (kysely) =>
    kysely
      .selectFrom('tracked_coins')
      .select(['symbol', 'coin_id'])
      .where('symbol', '=', symbol)
      .where('vs_currency', '=', currency),
  )

  it('binds new values at each call to the SQL it compiled once', async () => {
    expect(await coinBy(db, ['BTC', 'usd'])).toEqual([{ symbol: 'BTC', coin_id: 'bitcoin' }])
    expect(await coinBy(db, ['ETH', 'usd'])).toEqual([{ symbol: 'ETH', coin_id: 'ethereum' }])
    expect(await coinBy(db, ['ETH', 'eur'])).toEqual([])
  })

  it('keeps values that are not slots as they were written', async () => {
    const onlyUsd = prepared([symbol], (kysely) =>
      kysely
        .selectFrom('tracked_coins')
        .select('coin_id')
        .where('symbol', '=', symbol)
        .where('vs_currency', '=', 'usd'),
    )
    expect(await onlyUsd(db, ['BTC'])).toEqual([{ coin_id: 'bitcoin' }])
  })

  it('refuses a query that does not use each slot exactly once', async () => {
    const unused = prepared([symbol, currency], (kysely) =>
      kysely.selectFrom('tracked_coins').select('symbol').where('symbol', '=', symbol),
    )
    await expect(unused(db, ['BTC', 'usd'])).rejects.toThrow(/is not bound exactly once/)
  })
})
