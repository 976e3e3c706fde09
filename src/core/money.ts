/**
 * Prices are exact decimals kept as strings from input to storage to output; no price ever
 * becomes a JavaScript number. The canonical form has exactly {@link PRICE_DECIMALS} decimals.
 *
 * @module
 */
import Big from 'big.js'

import { validationError } from '../errors.js'

/** Digits kept after the decimal point, as in the seed's `DecimalField(decimal_places=10)`. */
export const PRICE_DECIMALS = 10
/** Digits allowed before the point: the seed's `max_digits=20` less the 10 decimals. */
export const PRICE_MAX_INTEGER_DIGITS = 10

const PLAIN_DECIMAL = /^(\d*)(?:\.(\d*))?$/
/** Room for leading and trailing zeros around the 20 digits a price may have. */
export const PRICE_MAX_TEXT_LENGTH = 64
/** Exponents beyond this name no storable price, and expanding them costs memory and time. */
const MAX_EXPONENT = 40

/** Quotes a user value for an error message, shortened so a huge input cannot flood a terminal. */
export function quoteInput(value: string, maxLength = 40): string {
  const shown = value.length > maxLength ? `${value.slice(0, maxLength)}...` : value
  return JSON.stringify(shown)
}

/**
 * Validates a price typed by a person and returns its canonical form (`"45000.5"` becomes
 * `"45000.5000000000"`). Trailing zeros after the point do not count against the decimal limit.
 *
 * @throws CryptorgError `ERR_VALIDATION` naming the rule broken: empty, not a number,
 *   negative, zero, exponent notation, too many decimals or too many digits.
 */
export function parsePrice(input: string, field = 'price'): string {
  const text = input.trim()
  if (text === '') throw validationError(field, `${field} is required`)
  // Checked first and cheaply: no valid price comes close, and every rule below then works on
  // a short string, whatever a client sends.
  if (text.length > PRICE_MAX_TEXT_LENGTH) {
    throw validationError(field, `${field} must be at most ${PRICE_MAX_TEXT_LENGTH} characters`)
  }
  if (text.startsWith('-')) {
    throw validationError(field, `${field} must be positive, got ${quoteInput(text)}`)
  }
  if (/^\+?(?:\d|\.\d)[\d.]*[eE][+-]?\d*$/.test(text)) {
    throw validationError(
      field,
      `${field} must be written without an exponent, got ${quoteInput(text)}`,
    )
  }
  const match = PLAIN_DECIMAL.exec(text)
  if (!match || text === '.') {
    throw validationError(
      field,
      `${field} must be a plain decimal number such as 45000.50, got ${quoteInput(text)}`,
    )
  }
  const integerDigits = (match[1] ?? '').replace(/^0+/, '')
  const fractionDigits = (match[2] ?? '').replace(/0+$/, '')
  if (integerDigits === '' && fractionDigits === '') {
    throw validationError(field, `${field} must be greater than zero`)
  }
  if (fractionDigits.length > PRICE_DECIMALS) {
    throw validationError(
      field,
      `${field} has more than ${PRICE_DECIMALS} digits after the decimal point, ` +
        `got ${quoteInput(text)}`,
    )
  }
  if (integerDigits.length > PRICE_MAX_INTEGER_DIGITS) {
    throw validationError(
      field,
      `${field} has more than ${PRICE_MAX_INTEGER_DIGITS} digits before the decimal point ` +
        `(at most 20 digits, ${PRICE_DECIMALS} of them after it), got ${quoteInput(text)}`,
    )
  }
  return `${integerDigits || '0'}.${fractionDigits.padEnd(PRICE_DECIMALS, '0')}`
}

/** Why an upstream number could not become a price. */
export type UpstreamPriceProblem = 'not-a-number' | 'not-positive' | 'rounds-to-zero' | 'too-large'

/**
 * Converts the exact text of a JSON number (`64213`, `2318.47`, `4.73e-06`) to the canonical
 * price, rounding past {@link PRICE_DECIMALS} decimals half to even.
 *
 * Returns the price, or the problem that keeps the number from being stored.
 */
export function priceFromNumberText(
  text: string,
): { ok: true; price: string } | { ok: false; problem: UpstreamPriceProblem } {
  // CoinGecko's text is not ours: bound it before big.js expands it.
  if (text.length > PRICE_MAX_TEXT_LENGTH * 4) return { ok: false, problem: 'not-a-number' }
  const exponent = exponentOf(text)
  if (exponent === undefined) return { ok: false, problem: 'not-a-number' }
  if (exponent > MAX_EXPONENT) return { ok: false, problem: 'too-large' }
  if (exponent < -MAX_EXPONENT) return { ok: false, problem: 'rounds-to-zero' }
  let value: Big
  try {
    value = new Big(text)
  } catch {
    return { ok: false, problem: 'not-a-number' }
  }
  if (value.lte(0)) return { ok: false, problem: 'not-positive' }

  // Big.roundHalfEven is 2; the typings declare the constant, not a named export.
  const rounded = value.round(PRICE_DECIMALS, Big.roundHalfEven)
  if (rounded.eq(0)) return { ok: false, problem: 'rounds-to-zero' }

  const price = rounded.toFixed(PRICE_DECIMALS)
  const integerPart = price.slice(0, price.indexOf('.'))
  if (integerPart.length > PRICE_MAX_INTEGER_DIGITS) return { ok: false, problem: 'too-large' }
  return { ok: true, price }
}

/**
 * The exponent of a JSON number's text (`0` without one), or undefined when it is not a
 * number's text or the exponent itself is absurdly long.
 */
export function exponentOf(text: string): number | undefined {
  const match = /^-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE]([+-]?\d{1,9}))?$/.exec(text)
  if (!match) return undefined
  return match[1] === undefined ? 0 : Number(match[1])
}
