/**
 * Input rules shared by the services. Each check returns the normalised value or throws
 * `ERR_VALIDATION` with a message that names the field and the rule.
 *
 * @module
 */
import { validationError } from '../errors.js'
import { quoteInput } from './money.js'

export const ORG_NAME_MAX_LENGTH = 255
export const SYMBOL_PATTERN = /^[A-Z0-9]{1,10}$/
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
// Control characters and line or paragraph separators would break tables and log lines.
export const CONTROL_CHARACTERS = /[\p{Cc}\p{Zl}\p{Zp}]/u
// Names made only of spaces and invisible format characters (such as U+200B) look empty.
const INVISIBLE_ONLY = /^[\p{Z}\p{Cf}\s]*$/u
const COIN_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,99}$/
const CURRENCY_PATTERN = /^[a-z0-9]{2,10}$/

/** True for a UUID in its usual 8-4-4-4-12 hexadecimal form. */
export function isUuid(value: string): boolean {
  return UUID_PATTERN.test(value)
}

/**
 * Checks that a value from an untyped caller (JavaScript, JSON) is a string, so that a number
 * or undefined gets a validation error naming the field rather than a TypeError.
 */
export function requireString(value: unknown, field: string): string {
  if (typeof value !== 'string') {
    throw validationError(field, `${field} must be a string, got ${describeType(value)}`)
  }
  return value
}

/** Checks that an options or input argument from an untyped caller is a plain object. */
export function requireObject<T extends object>(value: T | undefined, field: string): T {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw validationError(field, `${field} must be an object, got ${describeType(value)}`)
  }
  return value
}

function describeType(value: unknown): string {
  if (value === null || value === undefined) return String(value)
  if (Array.isArray(value)) return 'an array'
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`
}

/** Trims an organization name and checks its length and characters. */
export function normalizeOrgName(input: string, field = 'name'): string {
  const name = requireString(input, field).normalize('NFC').trim()
  if (INVISIBLE_ONLY.test(name)) throw validationError(field, `${field} must not be empty`)
  if ([...name].length > ORG_NAME_MAX_LENGTH) {
    throw validationError(field, `${field} must be at most ${ORG_NAME_MAX_LENGTH} characters`)
  }
  if (CONTROL_CHARACTERS.test(name)) {
    throw validationError(field, `${field} must not contain control characters`)
  }
  // Half of a UTF-16 pair is no character: it would be stored as replacement characters and
  // slip past the uniqueness check.
  if (/\p{Cs}/u.test(name)) {
    throw validationError(field, `${field} must not contain unpaired surrogate code units`)
  }
  // An organization is addressed by id or by name, so a name may not look like an id.
  // Compatibility forms count too: full-width digits would otherwise slip past the check.
  if (isUuid(name) || isUuid(name.normalize('NFKC'))) {
    throw validationError(field, `${field} must not be a UUID`)
  }
  return name
}

/**
 * The key under which organization names are unique: compatibility-normalised, case-folded
 * (upper then lower, so that Straße and STRASSE meet), invisible format characters dropped and
 * runs of white space made one space.
 */
export function orgNameKey(name: string): string {
  return name
    .normalize('NFKC')
    .replace(/\p{Cf}/gu, '')
    .replace(/\s+/g, ' ')
    .trim()
    .toUpperCase()
    .toLowerCase()
}

/** Upper-cases a symbol and checks it is 1-10 characters of A-Z and 0-9. */
export function normalizeSymbol(input: string, field = 'symbol'): string {
  const symbol = asciiCase(requireString(input, field), 'upper')
  if (!SYMBOL_PATTERN.test(symbol)) {
    throw validationError(
      field,
      `${field} must be 1-10 letters or digits, such as BTC, got ${quoteInput(input)}`,
    )
  }
  return symbol
}

/** Checks a CoinGecko coin id such as `bitcoin` or `wrapped-bitcoin`. */
export function normalizeCoinId(input: string, field = 'coin id'): string {
  const id = asciiCase(requireString(input, field), 'lower')
  if (!COIN_ID_PATTERN.test(id)) {
    throw validationError(
      field,
      `${field} must be a CoinGecko id such as bitcoin (lower-case letters, digits and ` +
        `dashes), got ${quoteInput(input)}`,
    )
  }
  return id
}

/** Lower-cases a quote currency such as `usd` and checks its form. */
export function normalizeCurrency(input: string, field = 'currency'): string {
  const currency = asciiCase(requireString(input, field), 'lower')
  if (!CURRENCY_PATTERN.test(currency)) {
    throw validationError(
      field,
      `${field} must be a currency code such as usd or eur, got ${quoteInput(input)}`,
    )
  }
  return currency
}

/**
 * Trims and changes the case of an identifier, or returns '' when it is not ASCII: Unicode case
 * mapping turns some other letters into A-Z (ı to I, ﬀ to FF, the Kelvin sign to k), which
 * would let look-alike input pass the ASCII patterns.
 */
function asciiCase(input: string, to: 'upper' | 'lower'): string {
  const trimmed = input.trim()
  if (!/^[\x20-\x7e]*$/.test(trimmed)) return ''
  return to === 'upper' ? trimmed.toUpperCase() : trimmed.toLowerCase()
}

/** Checks a whole number within bounds; `value` may come from a flag as text. */
export function parseBoundedInteger(
  value: number | string,
  field: string,
  min: number,
  max: number,
): number {
  const text = String(value).trim()
  const number = /^\d+$/.test(text) ? Number(text) : Number.NaN
  if (!Number.isSafeInteger(number) || number < min || number > max) {
    throw validationError(
      field,
      `${field} must be a whole number from ${min} to ${max}, got ${quoteInput(text)}`,
    )
  }
  return number
}
