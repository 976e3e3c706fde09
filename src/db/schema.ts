/**
 * Row types of the cryptorg database, as kysely sees them. Timestamps are stored in the form
 * the dialect module encodes; prices are always exact decimal strings.
 *
 * @module
 */
import type { Generated } from 'kysely'

export interface OrganizationTable {
  id: string
  name: string
  /** Case-folded, trimmed name that carries the uniqueness constraint. */
  name_key: string
  created_at: string
}

export type PriceSource = 'coingecko' | 'manual'

export interface CryptoPriceTable {
  id: Generated<number>
  org_id: string
  symbol: string
  price: string
  currency: string
  timestamp: string
  source: PriceSource
  /** When CoinGecko last updated the quote; null for manual prices. */
  quoted_at: string | null
}

export interface TrackedCoinTable {
  symbol: string
  coin_id: string
  vs_currency: string
  created_at: string
}

export interface Database {
  organizations: OrganizationTable
  crypto_prices: CryptoPriceTable
  tracked_coins: TrackedCoinTable
}
