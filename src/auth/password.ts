/**
 * Password hashing with scrypt from node:crypto. A hash is a self-describing string
 * `scrypt$ln=16,r=8,p=1$<salt>$<key>` (base64url), so the cost can be raised later and older
 * hashes still verify; {@link verifyPassword} says when a hash is weaker than today's setting.
 *
 * @module
 */
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto'

import { validationError } from '../errors.js'

/** scrypt cost. Memory is 128 * r * 2^logN bytes: 64 MiB at the defaults. */
export interface PasswordHashing {
  /** log2 of scrypt's N. @default 16 */
  logN: number
  /** @default 8 */
  r: number
  /** @default 1 */
  p: number
}

/**
 * About 0.3 s and 64 MiB per hash on a small server: slow enough to make guessing expensive,
 * quick enough for a sign-in. One of the settings OWASP lists for scrypt.
 */
export const DEFAULT_PASSWORD_HASHING: Readonly<PasswordHashing> = Object.freeze({
  logN: 16,
  r: 8,
  p: 1,
})

export const PASSWORD_MIN_LENGTH = 8
/** Long enough for any passphrase, short enough that hashing cannot be made a denial of service. */
export const PASSWORD_MAX_LENGTH = 1024

const SALT_BYTES = 16
const KEY_BYTES = 32
const HASH_PATTERN = /^scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([\w-]{16,})\$([\w-]{32,})$/

/** Checks a new password against the length rules without ever echoing it. */
export function checkNewPassword(password: unknown, field = 'password'): string {
  if (typeof password !== 'string') throw validationError(field, `${field} must be a string`)
  // See verifyPassword: a NUL would make several passwords equal.
  if (password.includes('\u0000')) {
    throw validationError(field, `${field} must not contain the NUL character`)
  }
  const length = [...password].length
  if (length < PASSWORD_MIN_LENGTH) {
    throw validationError(field, `${field} must be at least ${PASSWORD_MIN_LENGTH} characters`)
  }
  if (length > PASSWORD_MAX_LENGTH) {
    throw validationError(field, `${field} must be at most ${PASSWORD_MAX_LENGTH} characters`)
  }
  return password
}

/** Checks a hashing setting given by a caller of the library. */
export function checkHashing(hashing: Partial<PasswordHashing> = {}): PasswordHashing {
  // An explicit `undefined` means "the default", not "no value".
  const given = Object.fromEntries(Object.entries(hashing).filter(([, v]) => v !== undefined))
  const merged: PasswordHashing = { ...DEFAULT_PASSWORD_HASHING, ...given }
  if (!usableCost(merged)) {
    throw validationError(
      'passwordHashing',
      'passwordHashing needs logN 1-20, r 1-32 and p 1-16 (integers)',
    )
  }
  return merged
}

/** The costs this module makes and accepts; node's scrypt reads 0 as "the default". */
function usableCost({ logN, r, p }: PasswordHashing): boolean {
  const within = (value: number, min: number, max: number) =>
    Number.isInteger(value) && value >= min && value <= max
  return within(logN, 1, 20) && within(r, 1, 32) && within(p, 1, 16)
}

export async function hashPassword(password: string, hashing: PasswordHashing): Promise<string> {
  const salt = randomBytes(SALT_BYTES)
  const key = await derive(password, salt, hashing)
  const { logN, r, p } = hashing
  return `scrypt$ln=${logN},r=${r},p=${p}$${salt.toString('base64url')}$${key.toString('base64url')}`
}

/** Outcome of {@link verifyPassword}. */
export interface PasswordCheck {
  ok: boolean
  /** The hash uses a lower cost than `current`: store a new one after a successful sign-in. */
  needsRehash: boolean
}

/**
 * Compares a password with a stored hash in constant time. A hash that cannot be parsed never
 * matches (and is reported as needing a rehash).
 */
export async function verifyPassword(
  password: string,
  stored: string,
  current: PasswordHashing,
): Promise<PasswordCheck> {
  const parsed = HASH_PATTERN.exec(stored)
  const hashing = parsed && { logN: Number(parsed[1]), r: Number(parsed[2]), p: Number(parsed[3]) }
  // A cost outside the bounds (such as ln=0, which scrypt refuses) is as broken as bad syntax.
  if (!parsed || !hashing || !usableCost(hashing)) {
    // Spend the same time as a real check so a broken row is not told apart by timing.
    await derive(password, randomBytes(SALT_BYTES), current)
    return { ok: false, needsRehash: true }
  }
  const expected = Buffer.from(parsed[5] as string, 'base64url')
  const actual = await derive(password, Buffer.from(parsed[4] as string, 'base64url'), hashing, {
    keyBytes: expected.length,
  })
  // scrypt keys its HMAC with the password padded with zero bytes, so "pw" and "pw\0" derive
  // the same key: a password holding NUL never matches (none can be set, see checkNewPassword).
  const ok =
    !password.includes('\u0000') &&
    actual.length === expected.length &&
    timingSafeEqual(actual, expected)
  const weaker = hashing.logN < current.logN || hashing.r < current.r || hashing.p < current.p
  return { ok, needsRehash: weaker }
}

/**
 * Burns one hash's worth of time; used when the user does not exist, so that the answer time
 * does not reveal which usernames are taken.
 */
export async function spendHashTime(password: string, hashing: PasswordHashing): Promise<void> {
  await derive(password, randomBytes(SALT_BYTES), hashing)
}

function derive(
  password: string,
  salt: Buffer,
  { logN, r, p }: PasswordHashing,
  { keyBytes = KEY_BYTES } = {},
): Promise<Buffer> {
  const N = 2 ** logN
  // node refuses by default above 32 MiB; allow what these parameters need, with headroom.
  const maxmem = 256 * r * N * p + 1024 * 1024
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, keyBytes, { N, r, p, maxmem }, (error, key) =>
      error ? reject(error) : resolve(key),
    )
  })
}
