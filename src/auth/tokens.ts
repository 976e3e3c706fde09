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
  const jose = await loadJose()
  let payload: Record<string, unknown>
  try {
    ;({ payload } = await jose.jwtVerify(token.trim(), await keyFor(secret), {
      algorithms: [ALGORITHM],
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      currentDate: now,
      requiredClaims: ['sub', 'jti', 'iat', 'exp'],
    }))
  } catch (error) {
    throw fromJoseError(error, expected)
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
