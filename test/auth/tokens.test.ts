// Covers src/auth/tokens.ts: signing HS256 tokens and checking their signature, algorithm,
// expiry, claims and type. Sessions and users behind a token are tested in
// test/core/auth.test.ts.
import { randomBytes } from 'node:crypto'

import { SignJWT, decodeJwt, decodeProtectedHeader, generateKeyPair } from 'jose'
import { describe, expect, it } from 'vitest'

import {
  CHECKED_TOKENS_LIMIT,
  CLOCK_TOLERANCE_SECONDS,
  type TokenType,
  checkedTokenCount,
  isCheckedToken,
  peekExpiry,
  signToken,
  verifyToken,
} from '../../src/auth/tokens.js'
import { CryptorgError } from '../../src/errors.js'

const SECRET = new TextEncoder().encode('a test secret that is long enough for HS256!')
const OTHER_SECRET = randomBytes(48)
const NOW = new Date('2024-09-17T12:00:00.000Z')
const NOW_S = NOW.getTime() / 1000
const SID = '7d8f3a5e-6c4b-4f1a-9e2d-3b5c7a9e1f20'
const SUB = '0b7c2f4e-1a3d-4e5f-8a9b-2c4d6e8f0a1b'

const sign = (tokenType: TokenType, overrides: { ttlSeconds?: number; jti?: string } = {}) =>
  signToken(SECRET, { sub: SUB, sid: SID, tokenType, now: NOW, ttlSeconds: 300, ...overrides })

const at = (secondsAfterNow: number) => new Date(NOW.getTime() + secondsAfterNow * 1000)

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')

/** Replaces the character at `index` with another base64url character. */
function flip(text: string, index: number): string {
  const replacement = text[index] === 'A' ? 'B' : 'A'
  return text.slice(0, index) + replacement + text.slice(index + 1)
}

/** Verifies `token`, expects ERR_UNAUTHENTICATED and checks the token leaks nowhere. */
async function refusal(
  token: unknown,
  expected: TokenType = 'access',
  now = NOW,
  secret: Uint8Array = SECRET,
): Promise<CryptorgError> {
  let caught: unknown
  try {
    await verifyToken(secret, token, expected, now)
  } catch (error) {
    caught = error
  }
  expect(caught).toBeInstanceOf(CryptorgError)
  const error = caught as CryptorgError
  expect(error.code).toBe('ERR_UNAUTHENTICATED')
  expect(error.message).not.toBe('')
  if (typeof token === 'string' && token.length >= 8) {
    const pieces = token.split('.').filter((piece) => piece.length >= 8)
    for (const text of [error.message, JSON.stringify(error.details), String(error)]) {
      expect(text).not.toContain(token)
      for (const piece of pieces) expect(text).not.toContain(piece)
    }
    const cause = (error as { cause?: unknown }).cause
    if (cause instanceof Error) expect(cause.message).not.toContain(token)
  }
  return error
}

/** An access token that becomes valid (nbf) an hour after NOW and expires an hour later. */
const validInAnHour = (secret: Uint8Array) =>
  new SignJWT({ token_type: 'access', sid: SID })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(SUB)
    .setJti('j')
    .setIssuedAt(NOW_S)
    .setNotBefore(NOW_S + 3600)
    .setExpirationTime(NOW_S + 7200)
    .sign(secret)

/** A token with the usual subject, id and 5-minute lifetime, and the given claims and header. */
function forge(
  payload: Record<string, unknown>,
  header: { alg: string; typ?: string },
  key: Parameters<SignJWT['sign']>[0],
): Promise<string> {
  return new SignJWT(payload)
    .setProtectedHeader(header)
    .setSubject(SUB)
    .setJti('j')
    .setIssuedAt(NOW_S)
    .setExpirationTime(NOW_S + 300)
    .sign(key)
}

describe('signToken', () => {
  it('signs with HS256 and puts sub, token_type, jti, sid, iat and exp in the claims', async () => {
    const token = await sign('access', { jti: 'the-jti' })
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'HS256', typ: 'JWT' })
    expect(decodeJwt(token)).toEqual({
      sub: SUB,
      sid: SID,
      token_type: 'access',
      jti: 'the-jti',
      iat: NOW_S,
      exp: NOW_S + 300,
    })
  })

  it('gives each token a fresh jti when none is given', async () => {
    const [a, b] = await Promise.all([sign('access'), sign('access')])
    expect(decodeJwt(a!).jti).toMatch(/^[0-9a-f-]{36}$/)
    expect(decodeJwt(a!).jti).not.toBe(decodeJwt(b!).jti)
  })

  it('rounds iat down to the second', async () => {
    const token = await signToken(SECRET, {
      sub: SUB,
      sid: SID,
      tokenType: 'refresh',
      now: new Date(NOW.getTime() + 999),
      ttlSeconds: 60,
    })
    expect(decodeJwt(token)).toMatchObject({ iat: NOW_S, exp: NOW_S + 60 })
  })
})

describe('verifyToken: good tokens', () => {
  it.each(['access', 'refresh'] as const)('returns the claims of a %s token', async (type) => {
    const token = await sign(type, { jti: 'j1' })
    await expect(verifyToken(SECRET, token, type, NOW)).resolves.toEqual({
      sub: SUB,
      sid: SID,
      jti: 'j1',
      iat: NOW_S,
      exp: NOW_S + 300,
      token_type: type,
    })
  })

  it('ignores white space around the token, as pasted tokens often have', async () => {
    const token = await sign('access')
    await expect(verifyToken(SECRET, `  ${token}\n`, 'access', NOW)).resolves.toMatchObject({
      sub: SUB,
    })
  })

  it(`accepts an expired token within ${CLOCK_TOLERANCE_SECONDS} s of clock tolerance`, async () => {
    const token = await sign('access')
    await expect(verifyToken(SECRET, token, 'access', at(300))).resolves.toBeDefined()
    await expect(verifyToken(SECRET, token, 'access', at(329.999))).resolves.toBeDefined()
  })
})

describe('verifyToken: refused tokens', () => {
  it('refuses a token past its expiry plus the tolerance as expired', async () => {
    const token = await sign('access')
    for (const seconds of [330, 331, 86_400]) {
      expect(await refusal(token, 'access', at(seconds))).toMatchObject({
        message: 'access token has expired',
        details: { reason: 'expired' },
      })
    }
  })

  it('names the kind of token that expired, not the kind that was expected', async () => {
    expect(await refusal(await sign('refresh'), 'access', at(400))).toMatchObject({
      message: 'refresh token has expired',
      details: { reason: 'expired' },
    })
    expect(await refusal(await sign('access'), 'refresh', at(400))).toMatchObject({
      message: 'access token has expired',
      details: { reason: 'expired' },
    })
  })

  it('refuses a token whose signature was changed', async () => {
    const token = await sign('access')
    const signatureStart = token.lastIndexOf('.') + 1
    const tampered = flip(token, signatureStart + 10)
    expect(await refusal(tampered)).toMatchObject({
      message: 'access token signature is invalid',
      details: { reason: 'signature' },
    })
  })

  it('refuses a token whose payload was changed', async () => {
    const token = await sign('access')
    const tampered = flip(token, token.indexOf('.') + 12)
    expect(await refusal(tampered)).toMatchObject({ details: { reason: 'signature' } })
  })

  it('refuses a token whose payload was replaced with other valid claims', async () => {
    const token = await sign('access')
    const [header, , signature] = token.split('.')
    const forged = `${header}.${b64({ ...decodeJwt(token), sub: 'someone-else' })}.${signature}`
    expect(await refusal(forged)).toMatchObject({ details: { reason: 'signature' } })
  })

  it('refuses a token signed with another secret', async () => {
    const token = await sign('access')
    expect(await refusal(token, 'access', NOW, OTHER_SECRET)).toMatchObject({
      message: 'access token signature is invalid',
      details: { reason: 'signature' },
    })
  })

  it('refuses an unsigned alg "none" token', async () => {
    const claims = decodeJwt(await sign('access'))
    const unsigned = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`
    expect(await refusal(unsigned)).toMatchObject({
      message: 'access token must be signed with HS256',
      details: { reason: 'algorithm' },
    })
  })

  it.each(['none', 'None', 'NONE'])('refuses alg %j with a forged signature too', async (alg) => {
    const token = await sign('access')
    const [, payload, signature] = token.split('.')
    const forged = `${b64({ alg, typ: 'JWT' })}.${payload}.${signature}`
    expect(['algorithm', 'malformed']).toContain((await refusal(forged)).details['reason'])
  })

  it('refuses an HS512 token made with the same secret', async () => {
    const hs512 = await forge(
      { token_type: 'access', sid: SID },
      { alg: 'HS512', typ: 'JWT' },
      SECRET,
    )
    expect(await refusal(hs512)).toMatchObject({
      message: 'access token must be signed with HS256',
      details: { reason: 'algorithm' },
    })
  })

  it('refuses an RS256 token made with a key pair of its own', async () => {
    const { privateKey } = await generateKeyPair('RS256')
    const rs256 = await forge(
      { token_type: 'access', sid: SID },
      { alg: 'RS256', typ: 'JWT' },
      privateKey,
    )
    expect(await refusal(rs256)).toMatchObject({
      message: 'access token must be signed with HS256',
      details: { reason: 'algorithm' },
    })
  })

  it('refuses an HS256 token in the wrong key confusion: signed with a public key as secret', async () => {
    // The classic RS256 to HS256 confusion: a verifier that trusts the header's alg would check
    // this against the public key. Ours only knows its own secret.
    const { publicKey } = await generateKeyPair('RS256', { extractable: true })
    const { exportSPKI } = await import('jose')
    const pem = new TextEncoder().encode(await exportSPKI(publicKey))
    const confused = await forge({ token_type: 'access', sid: SID }, { alg: 'HS256' }, pem)
    expect(await refusal(confused)).toMatchObject({ details: { reason: 'signature' } })
  })

  it('refuses a refresh token where an access token is needed, and the reverse', async () => {
    expect(await refusal(await sign('refresh'), 'access')).toMatchObject({
      message: 'a refresh token was given where an access token is needed',
      details: { reason: 'wrong_type' },
    })
    expect(await refusal(await sign('access'), 'refresh')).toMatchObject({
      message: 'an access token was given where a refresh token is needed',
      details: { reason: 'wrong_type' },
    })
  })

  it.each([
    ['no token_type', {}],
    ['an unknown token_type', { token_type: 'id' }],
    ['a token_type of the wrong case', { token_type: 'ACCESS' }],
  ])('refuses a correctly signed token with %s as the wrong type', async (_, extra) => {
    const token = await forge({ sid: SID, ...extra }, { alg: 'HS256' }, SECRET)
    expect(await refusal(token)).toMatchObject({
      message: 'a token of unknown type was given where an access token is needed',
      details: { reason: 'wrong_type' },
    })
  })

  it.each([
    [
      'sub',
      (jwt: SignJWT) =>
        jwt
          .setJti('j')
          .setIssuedAt(NOW_S)
          .setExpirationTime(NOW_S + 300),
    ],
    [
      'jti',
      (jwt: SignJWT) =>
        jwt
          .setSubject(SUB)
          .setIssuedAt(NOW_S)
          .setExpirationTime(NOW_S + 300),
    ],
    ['exp', (jwt: SignJWT) => jwt.setSubject(SUB).setJti('j').setIssuedAt(NOW_S)],
    [
      'iat',
      (jwt: SignJWT) =>
        jwt
          .setSubject(SUB)
          .setJti('j')
          .setExpirationTime(NOW_S + 300),
    ],
  ])('refuses a correctly signed token without %s', async (_, build) => {
    const token = await build(
      new SignJWT({ token_type: 'access', sid: SID }).setProtectedHeader({ alg: 'HS256' }),
    ).sign(SECRET)
    expect(await refusal(token)).toMatchObject({ details: { reason: 'claims' } })
  })

  it('refuses a correctly signed token without sid or with a non-string sid', async () => {
    for (const payload of [{ token_type: 'access' }, { token_type: 'access', sid: 42 }]) {
      const token = await forge(payload, { alg: 'HS256' }, SECRET)
      expect(await refusal(token)).toMatchObject({
        message: 'access token is missing required claims',
        details: { reason: 'claims' },
      })
    }
  })

  it('refuses a token that only becomes valid later (nbf) beyond the tolerance', async () => {
    const token = await validInAnHour(SECRET)
    expect(await refusal(token)).toMatchObject({ details: { reason: 'claims' } })
  })

  it.each([
    ['an empty string', ''],
    ['white space', '   '],
    ['one word', 'garbage'],
    ['three dots', '...'],
    ['two empty parts', 'a.b.c'],
    ['base64 that is not JSON', 'bm90IGpzb24.bm90IGpzb24.c2ln'],
    ['a JSON payload that is an array', `${b64({ alg: 'HS256' })}.${b64([1, 2])}.c2ln`],
    ['a bearer prefix', 'Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2ln'],
    ['five parts (a JWE shape)', 'a.b.c.d.e'],
    ['non-ASCII', 'тoкен.тoкен.тoкен'],
    ['a very long string', 'x'.repeat(100_000)],
  ])('refuses %s without crashing', async (_, garbage) => {
    const error = await refusal(garbage)
    expect(['malformed', 'signature', 'algorithm']).toContain(error.details['reason'])
  })

  it.each([undefined, null, 0, 42, true, {}, [], ['a.b.c'], { token: 'a.b.c' }])(
    'refuses the non-string %j as malformed',
    async (value) => {
      expect(await refusal(value)).toMatchObject({
        message: 'token must be a non-empty string',
        details: { reason: 'malformed' },
      })
    },
  )
})

describe('verifyToken: tokens checked before', () => {
  // Each test has a secret of its own, so the remembered tokens of one cannot help another.
  const freshSecret = () => new Uint8Array(randomBytes(32))
  const signWith = (secret: Uint8Array, tokenType: TokenType = 'access') =>
    signToken(secret, { sub: SUB, sid: SID, tokenType, now: NOW, ttlSeconds: 300 })

  it('remembers a token once its signature passed, and only then', async () => {
    const secret = freshSecret()
    const token = await signWith(secret)
    await refusal(flip(token, token.lastIndexOf('.') + 5), 'access', NOW, secret)
    expect(checkedTokenCount(secret)).toBe(0)
    const first = await verifyToken(secret, token, 'access', NOW)
    expect(checkedTokenCount(secret)).toBe(1)
    expect(isCheckedToken(secret, token)).toBe(true)
    // Surrounding white space is the same token.
    expect(await verifyToken(secret, `  ${token} `, 'access', at(10))).toEqual(first)
    expect(checkedTokenCount(secret)).toBe(1)
  })

  it('still expires a remembered token, with the same error as a new one', async () => {
    const secret = freshSecret()
    const token = await signWith(secret)
    await verifyToken(secret, token, 'access', NOW)
    await expect(verifyToken(secret, token, 'access', at(329.999))).resolves.toBeDefined()
    expect(await refusal(token, 'access', at(330), secret)).toMatchObject({
      message: 'access token has expired',
      details: { reason: 'expired' },
    })
    expect(checkedTokenCount(secret)).toBe(0)
  })

  it('still refuses a remembered token before its nbf', async () => {
    const secret = freshSecret()
    const token = await validInAnHour(secret)
    await expect(verifyToken(secret, token, 'access', at(3600))).resolves.toBeDefined()
    expect(
      await refusal(token, 'access', at(3600 - CLOCK_TOLERANCE_SECONDS - 1), secret),
    ).toMatchObject({ details: { reason: 'claims' } })
  })

  it('still checks the type of a remembered token', async () => {
    const secret = freshSecret()
    const token = await signWith(secret, 'refresh')
    await verifyToken(secret, token, 'refresh', NOW)
    expect(await refusal(token, 'access', NOW, secret)).toMatchObject({
      details: { reason: 'wrong_type' },
    })
  })

  it('does not let a token checked under one secret pass under another', async () => {
    const secret = freshSecret()
    const token = await signWith(secret)
    await verifyToken(secret, token, 'access', NOW)
    expect(await refusal(token, 'access', NOW, freshSecret())).toMatchObject({
      details: { reason: 'signature' },
    })
  })

  it(`keeps at most ${CHECKED_TOKENS_LIMIT} tokens per secret, dropping the oldest`, async () => {
    const secret = freshSecret()
    const tokens: string[] = []
    for (let i = 0; i <= CHECKED_TOKENS_LIMIT; i++) {
      tokens.push(await signWith(secret))
      await verifyToken(secret, tokens[i]!, 'access', NOW)
    }
    expect(checkedTokenCount(secret)).toBe(CHECKED_TOKENS_LIMIT)
    expect(isCheckedToken(secret, tokens[0]!)).toBe(false)
    expect(isCheckedToken(secret, tokens[1]!)).toBe(true)
    expect(isCheckedToken(secret, tokens[CHECKED_TOKENS_LIMIT]!)).toBe(true)
    // A dropped token is simply checked again.
    await expect(verifyToken(secret, tokens[0]!, 'access', NOW)).resolves.toBeDefined()
    expect(isCheckedToken(secret, tokens[1]!)).toBe(false)
  })
})

describe('peekExpiry', () => {
  it('reads exp without checking the signature', async () => {
    const token = await sign('access')
    expect(await peekExpiry(flip(token, token.length - 5))).toEqual(at(300))
  })

  it('returns undefined for garbage instead of throwing', async () => {
    expect(await peekExpiry('garbage')).toBeUndefined()
    expect(await peekExpiry(`${b64({ alg: 'HS256' })}.${b64({ sub: 'x' })}.`)).toBeUndefined()
  })
})
