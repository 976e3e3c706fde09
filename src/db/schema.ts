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

/** The row a leading daemon holds and renews; see src/daemon/lease.ts. */
export interface DaemonLeaseTable {
  name: string
  holder: string
  acquired_at: string
  renewed_at: string
  expires_at: string
  interval_ms: number
  next_tick_at: string | null
}

export type TickOutcome = 'ok' | 'failed'

/** One finished tick of a daemon loop, for `daemon status`. */
export interface DaemonTickTable {
  id: Generated<number>
  holder: string
  slot_at: string
  started_at: string
  finished_at: string
  outcome: TickOutcome
  rows_written: number
  error_code: string | null
  error: string | null
}

export interface UserTable {
  id: string
  username: string
  /** Case-folded username that carries the uniqueness constraint. */
  username_key: string
  /** Self-describing KDF string; see src/auth/password.ts. */
  password_hash: string
  /** 0 or 1: SQLite has no boolean. */
  is_admin: number
  is_active: number
  created_at: string
  password_changed_at: string
}

export type Role = 'owner' | 'member' | 'viewer'

export interface MembershipTable {
  org_id: string
  user_id: string
  role: Role
  created_at: string
}

export interface AuthSessionTable {
  id: string
  user_id: string
  /** The id of the one refresh token of this session that may still be used. */
  refresh_jti: string
  created_at: string
  refreshed_at: string
  expires_at: string
  revoked_at: string | null
  revoked_reason: string | null
}

export interface AuditEventTable {
  id: Generated<number>
  at: string
  /** Null when the system (the daemon, a migration) acted. */
  actor_id: string | null
  actor_name: string
  action: string
  org_id: string | null
  org_name: string | null
  subject_user: string | null
  /** JSON text with what changed, or null. */
  details: string | null
}

export interface SettingTable {
  key: string
  value: string
}

export interface Database {
  organizations: OrganizationTable
  crypto_prices: CryptoPriceTable
  tracked_coins: TrackedCoinTable
  daemon_lease: DaemonLeaseTable
  daemon_ticks: DaemonTickTable
  users: UserTable
  memberships: MembershipTable
  auth_sessions: AuthSessionTable
  audit_events: AuditEventTable
  settings: SettingTable
}
