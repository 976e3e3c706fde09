/**
 * Slows down password guessing: after too many failed sign-ins for one username from one
 * address, or from one address overall, further attempts are refused for a while without
 * checking the password. Kept in memory: each server process counts its own.
 *
 * @module
 */
import type { Clock } from '../deps.js'
import { CryptorgError } from '../errors.js'

export interface ThrottleLimits {
  /** Failures per username and address within the window. @default 5 */
  perUser: number
  /** Failures per address within the window, over all usernames. @default 50 */
  perAddress: number
  /** @default 15 minutes */
  windowMs: number
}

export const DEFAULT_THROTTLE: ThrottleLimits = {
  perUser: 5,
  perAddress: 50,
  windowMs: 15 * 60_000,
}
/** Bounds the memory an attacker can make us spend on distinct keys. */
const MAX_KEYS = 100_000

export interface LoginThrottle {
  /**
   * Counts a sign-in attempt as failed from the start, so that parallel attempts cannot all
   * pass the check before any failure is recorded; settle it once the outcome is known.
   *
   * @throws CryptorgError `ERR_THROTTLED` with `details.retryAfterSeconds`
   */
  begin(username: string, address: string): LoginAttempt
}

export interface LoginAttempt {
  /** `ok` clears the username's failures; `other` (not a password check) un-counts it. */
  settle(outcome: 'ok' | 'failed' | 'other'): void
}

export function createLoginThrottle(
  clock: Clock,
  limits: ThrottleLimits = DEFAULT_THROTTLE,
): LoginThrottle {
  // key -> failure times (epoch ms), oldest first
  const failures = new Map<string, number[]>()
  // Folded as sign-in folds it (trimmed, case-insensitive): ' alice' is the same account.
  // Cut to a length no real username reaches (150): a 1 MiB username must not cost 1 MiB of
  // memory per key, with up to MAX_KEYS keys.
  const userKey = (username: string, address: string) =>
    `u:${username.trim().toLowerCase().slice(0, 256)}\0${address}`
  const addressKey = (address: string) => `a:${address}`

  const recent = (key: string, now: number): number[] => {
    const times = failures.get(key)
    if (!times) return []
    const kept = times.filter((t) => now - t < limits.windowMs)
    if (kept.length === 0) failures.delete(key)
    else failures.set(key, kept)
    return kept
  }
  const refuse = (times: number[], now: number) => {
    const retryAfterMs = (times[0] as number) + limits.windowMs - now
    throw new CryptorgError('ERR_THROTTLED', 'too many failed sign-ins: try again later', {
      details: { retryAfterSeconds: Math.max(1, Math.ceil(retryAfterMs / 1000)) },
    })
  }
  const add = (key: string, now: number) => {
    if (!failures.has(key) && failures.size >= MAX_KEYS) {
      // Forget the oldest key: Map iterates in insertion order.
      const oldest = failures.keys().next().value
      if (oldest !== undefined) failures.delete(oldest)
    }
    failures.set(key, [...recent(key, now), now])
  }

  /** Takes back one provisional failure recorded at `at`. */
  const remove = (key: string, at: number) => {
    const times = failures.get(key)
    const index = times?.lastIndexOf(at) ?? -1
    if (times && index >= 0) times.splice(index, 1)
  }

  return {
    begin(username, address) {
      const now = clock.now().getTime()
      const byUser = recent(userKey(username, address), now)
      if (byUser.length >= limits.perUser) refuse(byUser, now)
      const byAddress = recent(addressKey(address), now)
      if (byAddress.length >= limits.perAddress) refuse(byAddress, now)
      add(userKey(username, address), now)
      add(addressKey(address), now)
      let settled = false
      return {
        settle(outcome) {
          if (settled || outcome === 'failed') {
            settled = true
            return
          }
          settled = true
          remove(addressKey(address), now)
          if (outcome === 'ok') failures.delete(userKey(username, address))
          else remove(userKey(username, address), now)
        },
      }
    },
  }
}
