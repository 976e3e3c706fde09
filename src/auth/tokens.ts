/**
 * JSON Web Tokens, HS256 through jose. This module only signs and checks signatures and claims;
 * whether the user and the session behind a token are still valid is decided in
 * src/core/auth.ts against the database.
 *
 * @module
 */
import { randomUUID, webcrypto } from 'node:crypto'

import { CryptorgError } from '../errors.js'

export type TokenType = 'access' | 'refresh'

/** The claims cryptorg puts in every token. */
export interface TokenClaims {
  /** The user's id. */
  sub: string
  /** Which kind of token this is; named as SimpleJWT names it, so its clients read it. */
  token_type: TokenType
  /** Unique id of this token. */
  jti: string
  /** The sign-in session the token belongs to. */
  sid: string
  iat: number
  exp: number
}

/** Seconds of clock difference tolerated between the machines that sign and check. */
export const CLOCK_TOLERANCE_SECONDS = 30
const ALGORITHM = 'HS256'
/** RFC 7518 asks for a key at least as long as the hash output. */
export const MIN_SECRET_BYTES = 32

type Jose = typeof import('jose')
let josePromise: Promise<Jose> | undefined
// jose is only needed by commands that sign in or check a token: not a start-up cost for all.
const loadJose = () => (josePromise ??= import('jose'))

// jose checks HS256 signatures with WebCrypto. Given raw bytes or a KeyObject, it imports a
// CryptoKey on every call, half the cost of checking a token (80 of 155 us): the CryptoKey is
// made once per secret instead.
const keys = new WeakMap<Uint8Array, Promise<webcrypto.CryptoKey>>()
function keyFor(secret: Uint8Array): Promise<webcrypto.CryptoKey> {
  let key = keys.get(secret)
  if (!key) {
    const algorithm = { name: 'HMAC', hash: 'SHA-256' }
    key = webcrypto.subtle.importKey('raw', secret, algorithm, false, ['sign', 'verify'])
    keys.set(secret, key)
  }
  return key
}

export interface SignInput {
  sub: string
  sid: string
  tokenType: TokenType
  /** Issued-at moment. */
  now: Date
  ttlSeconds: number
  /** @default a fresh UUID */
  jti?: string
}

export async function signToken(secret: Uint8Array, input: SignInput): Promise<string> {
  const { SignJWT } = await loadJose()
  const iat = Math.floor(input.now.getTime() / 1000)
  return new SignJWT({ token_type: input.tokenType, sid: input.sid })
    .setProtectedHeader({ alg: ALGORITHM, typ: 'JWT' })
    .setSubject(input.sub)
    .setJti(input.jti ?? randomUUID())
    .setIssuedAt(iat)
    .setExpirationTime(iat + input.ttlSeconds)
    .sign(await keyFor(secret))
}

/**
 * Payloads of tokens whose signature jose has checked, by token text, per secret. A client sends
 * the same access token with every request for the token's whole life, and checking its HMAC
 * through WebCrypto each time was about a sixth of a REST request's cost. Only payloads jose
 * accepted are kept, so a forged token is never stored and strangers cannot fill the map; the
 * time claims are checked again on every use, and the type and the session (in the database) are
 * checked after this as for any token.
 */
const checkedTokens = new WeakMap<Uint8Array, Map<string, Record<string, unknown>>>()
/** Enough for every token in use on a busy server; the oldest entry goes first when full. */
export const CHECKED_TOKENS_LIMIT = 10_000

/**
 * The payload of a token checked before, if its `exp` and `nbf` still hold at `now` by the rules
 * jose applies (whole seconds, the same tolerance). Otherwise undefined, and the entry is dropped:
 * jose checks the token again and gives its usual error.
 */
function checkedPayload(
  secret: Uint8Array,
  text: string,
  now: Date,
): Record<string, unknown> | undefined {
  const entries = checkedTokens.get(secret)
  const payload = entries?.get(text)
  if (payload === undefined) return undefined
  const seconds = Math.floor(now.getTime() / 1000)
  const { exp, nbf } = payload
  const inTime =
    typeof exp === 'number' &&
    exp > seconds - CLOCK_TOLERANCE_SECONDS &&
    (nbf === undefined || (typeof nbf === 'number' && nbf <= seconds + CLOCK_TOLERANCE_SECONDS))
  if (inTime) return payload
  entries!.delete(text)
  return undefined
}

function rememberChecked(secret: Uint8Array, text: string, payload: Record<string, unknown>): void {
  let entries = checkedTokens.get(secret)
  if (!entries) checkedTokens.set(secret, (entries = new Map()))
  if (entries.size >= CHECKED_TOKENS_LIMIT) {
    // Maps iterate in insertion order: the first key is the oldest entry.
    entries.delete(entries.keys().next().value as string)
  }
  entries.set(text, Object.freeze({ ...payload }))
}

/** How many checked tokens are remembered for a secret (for tests). */
export function checkedTokenCount(secret: Uint8Array): number {
  return checkedTokens.get(secret)?.size ?? 0
}

/** Whether this token is remembered as checked under this secret (for tests). */
export function isCheckedToken(secret: Uint8Array, token: string): boolean {
  return checkedTokens.get(secret)?.has(token.trim()) ?? false
}

/**
 * Checks signature, algorithm, expiry and the token type.
 *
 * @throws CryptorgError `ERR_UNAUTHENTICATED` with `details.reason` one of `malformed`,
 *   `signature`, `algorithm`, `expired`, `wrong_type`, `claims`. The message never contains
 *   the token.
 */
export async function verifyToken(
  secret: Uint8Array,
  token: unknown,
  expected: TokenType,
  now: Date,
): Promise<TokenClaims> {
  if (typeof token !== 'string' || token.trim() === '') {
    throw unauthenticated('malformed', 'token must be a non-empty string')
  }
  const text = token.trim()
  let payload = checkedPayload(secret, text, now)
  if (payload === undefined) {
    const jose = await loadJose()
    try {
      ;({ payload } = await jose.jwtVerify(text, await keyFor(secret), {
        algorithms: [ALGORITHM],
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        currentDate: now,
        requiredClaims: ['sub', 'jti', 'iat', 'exp'],
      }))
    } catch (error) {
      throw fromJoseError(error, expected)
    }
    rememberChecked(secret, text, payload)
  }
  const { sub, jti, sid, iat, exp, token_type: tokenType } = payload
  if (
    typeof sub !== 'string' ||
    typeof jti !== 'string' ||
    typeof sid !== 'string' ||
    typeof iat !== 'number' ||
    typeof exp !== 'number'
  ) {
    throw unauthenticated('claims', `${expected} token is missing required claims`)
  }
  if (tokenType !== expected) {
    const given =
      tokenType === 'access' || tokenType === 'refresh'
        ? article(tokenType)
        : 'a token of unknown type'
    throw unauthenticated('wrong_type', `${given} was given where ${article(expected)} is needed`)
  }
  return { sub, jti, sid, iat, exp, token_type: expected }
}

/** Reads a token's claims without checking anything: only to decide whether to refresh. */
export async function peekExpiry(token: string): Promise<Date | undefined> {
  const { decodeJwt } = await loadJose()
  try {
    const { exp } = decodeJwt(token)
    return typeof exp === 'number' ? new Date(exp * 1000) : undefined
  } catch {
    return undefined
  }
}

function article(type: TokenType): string {
  return type === 'access' ? 'an access token' : 'a refresh token'
}

function fromJoseError(error: unknown, expected: TokenType): CryptorgError {
  const code = (error as { code?: unknown } | null)?.code
  switch (code) {
    case 'ERR_JWT_EXPIRED': {
      // The expiry is checked before the type: name the kind of token that was given, so that
      // verify(), which tries the access type first, does not call a refresh token an access one.
      const given = (error as { payload?: { token_type?: unknown } }).payload?.token_type
      const kind = given === 'access' || given === 'refresh' ? given : expected
      return unauthenticated('expired', `${kind} token has expired`, error)
    }
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return unauthenticated('signature', `${expected} token signature is invalid`, error)
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
    case 'ERR_JOSE_NOT_SUPPORTED':
      return unauthenticated('algorithm', `${expected} token must be signed with HS256`, error)
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      return unauthenticated('claims', `${expected} token claims are invalid`, error)
    default:
      return unauthenticated('malformed', `${expected} token is malformed`, error)
  }
}

export function unauthenticated(reason: string, message: string, cause?: unknown): CryptorgError {
  return new CryptorgError('ERR_UNAUTHENTICATED', message, {
    details: { reason },
    // jose's errors quote claims, never the token; kept for --verbose.
    ...(cause !== undefined && { cause }),
  })
}
