/**
 * Parsing and printing of durations and moments. cryptorg speaks UTC everywhere.
 *
 * @module
 */
import { validationError } from '../errors.js'
import { quoteInput } from './money.js'

const UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
}

const DURATION = /^(?:\d+(?:ms|s|m|h|d|w))+$/
const DURATION_PART = /(\d+)(ms|s|m|h|d|w)/g

/**
 * Parses `30s`, `5m`, `1h`, `90d` or combinations such as `1h30m` into milliseconds.
 *
 * @throws CryptorgError `ERR_VALIDATION` when the text is not such a duration.
 */
export function parseDuration(text: string, field: string): number {
  const trimmed = text.trim()
  if (!DURATION.test(trimmed)) {
    throw validationError(
      field,
      `${field} must be a duration such as 30s, 5m, 1h or 7d, got ${quoteInput(text)}`,
    )
  }
  let total = 0
  for (const [, amount, unit] of trimmed.matchAll(DURATION_PART)) {
    total += Number(amount) * (UNIT_MS[unit as string] as number)
  }
  if (!Number.isSafeInteger(total)) {
    throw validationError(field, `${field} is too long, got ${quoteInput(text)}`)
  }
  return total
}

const DATE_PART = String.raw`(\d{4})-(\d{2})-(\d{2})`
const TIME_PART = String.raw`(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?`
const ZONE_PART = String.raw`(Z|[+-]\d{2}:\d{2})?`
const MOMENT = new RegExp(`^${DATE_PART}${TIME_PART}${ZONE_PART}$`, 'i')

/**
 * Parses an ISO-8601 date or date-time. A time without a zone is taken as UTC, as is a bare
 * date (midnight UTC).
 *
 * @throws CryptorgError `ERR_VALIDATION` for anything else, including impossible dates.
 */
export function parseMoment(text: string, field: string): Date {
  const trimmed = text.trim()
  const match = MOMENT.exec(trimmed)
  const invalid = () =>
    validationError(
      field,
      `${field} must be an ISO-8601 time such as 2024-02-14T12:00:00Z, got ${quoteInput(text)}`,
    )
  if (!match) throw invalid()

  const [, year, month, day, hour = '00', minute = '00', second = '00', fraction = '', zone] = match
  const milliseconds = fraction.padEnd(3, '0').slice(0, 3)
  const iso =
    `${year}-${month}-${day}T${hour}:${minute}:${second}.${milliseconds}` +
    (zone ? zone.toUpperCase() : 'Z')
  const moment = new Date(iso)
  if (Number.isNaN(moment.getTime())) throw invalid()

  // Date accepts 2024-02-30 by rolling over to March; a calendar date must survive a round trip.
  const local = new Date(`${year}-${month}-${day}T00:00:00Z`)
  if (
    Number.isNaN(local.getTime()) ||
    local.toISOString().slice(0, 10) !== `${year}-${month}-${day}`
  ) {
    throw invalid()
  }
  if (Number(hour) > 23 || Number(minute) > 59 || Number(second) > 59) throw invalid()
  return moment
}

/**
 * Parses a point in time given either as a duration back from `now` (`24h`) or as an ISO-8601
 * moment.
 */
export function parseSince(text: string, now: Date, field: string): Date {
  if (DURATION.test(text.trim())) return new Date(now.getTime() - parseDuration(text, field))
  return parseMoment(text, field)
}

/** Prints a stored timestamp as ISO-8601 UTC, leaving out milliseconds when they are zero. */
export function formatTimestamp(stored: string): string {
  return stored.endsWith('.000Z') ? `${stored.slice(0, -5)}Z` : stored
}

/** Prints a duration in milliseconds the way people write it (`5m`, `1h30m`, `1.5s`). */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`
  // Truncated, not rounded, so that 59999 ms does not print as 60s.
  if (ms < 60_000) return `${Math.floor(ms / 100) / 10}s`
  const parts: string[] = []
  let rest = Math.round(ms / 1000)
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    const amount = Math.floor(rest / size)
    if (amount > 0) parts.push(`${amount}${unit}`)
    rest -= amount * size
  }
  return parts.join('')
}

/** A Date (checked for validity) or ISO-8601 text, as the library's options accept. */
export function toMoment(value: Date | string, field: string): Date {
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw validationError(field, `${field} is an invalid date`)
    return value
  }
  return parseMoment(value, field)
}
