// Covers src/auth/password.ts: the scrypt hash format, verification, rehash advice, the rules
// for new passwords and the bounds of the hashing setting.
import { describe, expect, it } from 'vitest'

import {
  DEFAULT_PASSWORD_HASHING,
  PASSWORD_MAX_LENGTH,
  PASSWORD_MIN_LENGTH,
  checkHashing,
  checkNewPassword,
  hashPassword,
  spendHashTime,
  verifyPassword,
} from '../../src/auth/password.js'
import { CryptorgError } from '../../src/errors.js'
import { FAST_HASHING } from '../helpers/cli.js'

const FAST = { ...FAST_HASHING }
const HASH_FORMAT = /^scrypt\$ln=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9_-]+)\$([A-Za-z0-9_-]+)$/

function parts(hash: string) {
  const match = HASH_FORMAT.exec(hash)
  if (!match) throw new Error(`not a hash: ${hash}`)
  const [, ln, r, p, salt, key] = match as unknown as string[]
  return { ln: Number(ln), r: Number(r), p: Number(p), salt: salt!, key: key! }
}

/** Throws what `run` throws, or fails the test. */
function thrown(run: () => unknown): CryptorgError {
  try {
    run()
  } catch (error) {
    expect(error).toBeInstanceOf(CryptorgError)
    return error as CryptorgError
  }
  throw new Error('expected an error')
}

describe('hashPassword', () => {
  it('writes scrypt$ln=..,r=..,p=..$salt$key with the cost it used', async () => {
    const hash = await hashPassword('correct horse', FAST)
    expect(hash).toMatch(/^scrypt\$ln=4,r=1,p=1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/)
    const { salt, key } = parts(hash)
    expect(Buffer.from(salt, 'base64url')).toHaveLength(16)
    expect(Buffer.from(key, 'base64url')).toHaveLength(32)
  })

  it('records a different cost when given one', async () => {
    expect(parts(await hashPassword('correct horse', { logN: 5, r: 2, p: 3 }))).toMatchObject({
      ln: 5,
      r: 2,
      p: 3,
    })
  })

  it('uses a fresh salt each time, so the same password gives different hashes', async () => {
    const hashes = await Promise.all([1, 2, 3].map(() => hashPassword('same password', FAST)))
    expect(new Set(hashes.map((hash) => parts(hash).salt)).size).toBe(3)
    expect(new Set(hashes.map((hash) => parts(hash).key)).size).toBe(3)
    for (const hash of hashes) {
      expect(await verifyPassword('same password', hash, FAST)).toEqual({
        ok: true,
        needsRehash: false,
      })
    }
  })

  it('never contains the password', async () => {
    const hash = await hashPassword('visible-secret-text', FAST)
    expect(hash).not.toContain('visible-secret-text')
    expect(hash).not.toContain(Buffer.from('visible-secret-text').toString('base64url'))
  })
})

describe('verifyPassword', () => {
  it('accepts the right password and refuses a wrong one', async () => {
    const hash = await hashPassword('correct horse', FAST)
    expect(await verifyPassword('correct horse', hash, FAST)).toEqual({
      ok: true,
      needsRehash: false,
    })
    for (const wrong of ['correct horsE', 'correct horse ', '', 'correct hors']) {
      expect((await verifyPassword(wrong, hash, FAST)).ok).toBe(false)
    }
  })

  it('refuses the password followed by NUL characters, which scrypt pads into the same key', async () => {
    const hash = await hashPassword('correct horse', FAST)
    for (const padded of ['correct horse\u0000', 'correct horse\u0000\u0000']) {
      expect((await verifyPassword(padded, hash, FAST)).ok).toBe(false)
    }
  })

  it('compares Unicode passwords in NFC, so composed and decomposed forms match', async () => {
    const hash = await hashPassword('caf\u00e9 au lait', FAST)
    expect((await verifyPassword('cafe\u0301 au lait', hash, FAST)).ok).toBe(true)
  })

  it('verifies with the cost written in the hash, not the current one', async () => {
    const hash = await hashPassword('correct horse', { logN: 5, r: 2, p: 1 })
    expect(await verifyPassword('correct horse', hash, FAST)).toEqual({
      ok: true,
      needsRehash: false,
    })
  })

  it.each([
    ['logN', { logN: 5, r: 1, p: 1 }],
    ['r', { logN: 4, r: 2, p: 1 }],
    ['p', { logN: 4, r: 1, p: 2 }],
  ])('says needsRehash when the stored %s is lower than the current one', async (_, current) => {
    const hash = await hashPassword('correct horse', FAST)
    expect(await verifyPassword('correct horse', hash, current)).toEqual({
      ok: true,
      needsRehash: true,
    })
    // The advice is given whatever the outcome, but only a successful sign-in acts on it.
    expect(await verifyPassword('wrong horse', hash, current)).toEqual({
      ok: false,
      needsRehash: true,
    })
  })

  it('does not ask for a rehash when the stored cost is higher than the current one', async () => {
    const hash = await hashPassword('correct horse', { logN: 6, r: 2, p: 2 })
    expect((await verifyPassword('correct horse', hash, FAST)).needsRehash).toBe(false)
  })

  it('takes the compare path for a key of the wrong length instead of throwing', async () => {
    const hash = await hashPassword('correct horse', FAST)
    const { salt, key } = parts(hash)
    const longer = `scrypt$ln=4,r=1,p=1$${salt}$${key}${key}`
    expect((await verifyPassword('correct horse', longer, FAST)).ok).toBe(false)
  })

  describe('a stored hash that cannot be used never matches, and never throws', () => {
    const good = hashPassword('correct horse', FAST)

    it.each([
      ['empty', () => ''],
      ['plain text password', () => 'correct horse'],
      ['bcrypt', () => '$2b$12$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234'],
      ['argon2', () => '$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA'],
      ['missing key', (h: string) => h.slice(0, h.lastIndexOf('$'))],
      ['short salt', (h: string) => h.replace(/\$[^$]+\$([^$]+)$/, '$abc$$$1')],
      ['bad parameters', (h: string) => h.replace('ln=4,r=1,p=1', 'ln=x,r=1,p=1')],
      ['other algorithm', (h: string) => h.replace('scrypt$', 'pbkdf2$')],
      ['trailing text', (h: string) => `${h}$extra`],
      ['newline appended', (h: string) => `${h}\n`],
    ])('%s', async (_, mangle) => {
      const stored = mangle(await good)
      await expect(verifyPassword('correct horse', stored, FAST)).resolves.toEqual({
        ok: false,
        needsRehash: true,
      })
    })

    it.each([
      ['ln=0 (scrypt refuses N=1)', 'ln=0,r=1,p=1'],
      ['r=0 (scrypt would read it as its default 8)', 'ln=4,r=0,p=1'],
      ['p=0 (scrypt would read it as its default 1)', 'ln=4,r=1,p=0'],
      ['ln=21, above what checkHashing allows', 'ln=21,r=1,p=1'],
      ['ln=99 (2^99 would not fit in memory)', 'ln=99,r=1,p=1'],
      ['r=33', 'ln=4,r=33,p=1'],
      ['p=17', 'ln=4,r=1,p=17'],
    ])('well-formed but unusable cost: %s', async (_, cost) => {
      const stored = (await good).replace('ln=4,r=1,p=1', cost)
      await expect(verifyPassword('correct horse', stored, FAST)).resolves.toEqual({
        ok: false,
        needsRehash: true,
      })
    })
  })
})

describe('spendHashTime', () => {
  it('derives a key and resolves without a result', async () => {
    await expect(spendHashTime('any password', FAST)).resolves.toBeUndefined()
  })
})

describe('checkNewPassword', () => {
  it(`accepts ${PASSWORD_MIN_LENGTH} to ${PASSWORD_MAX_LENGTH} characters and returns the password unchanged`, () => {
    for (const password of [
      'x'.repeat(PASSWORD_MIN_LENGTH),
      'x'.repeat(PASSWORD_MAX_LENGTH),
      '  spaces kept  ',
    ]) {
      expect(checkNewPassword(password)).toBe(password)
    }
  })

  it('refuses a NUL character anywhere, without echoing the password', () => {
    for (const password of ['long enough\u0000', '\u0000long enough', 'long\u0000enough']) {
      expect(() => checkNewPassword(password)).toThrow(
        'password must not contain the NUL character',
      )
    }
  })

  it('counts characters, not UTF-16 units: 8 emoji are enough, 1024 are not too many', () => {
    expect(checkNewPassword('\u{1F511}'.repeat(8))).toHaveLength(16)
    expect(checkNewPassword('\u{1F511}'.repeat(PASSWORD_MAX_LENGTH))).toHaveLength(2048)
    expect(thrown(() => checkNewPassword('\u{1F511}'.repeat(7))).code).toBe('ERR_VALIDATION')
  })

  it.each([
    ['empty', '', 'password must be at least 8 characters'],
    ['7 characters', 'seven77', 'password must be at least 8 characters'],
    ['1025 characters', 'y'.repeat(1025), 'password must be at most 1024 characters'],
  ])('refuses %s with ERR_VALIDATION and never echoes the password', (_, password, message) => {
    const error = thrown(() => checkNewPassword(password))
    expect(error).toMatchObject({ code: 'ERR_VALIDATION', message, details: { field: 'password' } })
    if (password !== '') {
      expect(error.message).not.toContain(password.slice(0, 5))
      expect(JSON.stringify(error.details)).not.toContain(password.slice(0, 5))
    }
  })

  it('names the field it was given', () => {
    expect(thrown(() => checkNewPassword('short', 'new password'))).toMatchObject({
      message: 'new password must be at least 8 characters',
      details: { field: 'new password' },
    })
  })

  it.each([undefined, null, 12345678, ['a long password'], { toString: () => 'password!' }])(
    'refuses the non-string %j',
    (value) => {
      expect(thrown(() => checkNewPassword(value))).toMatchObject({
        code: 'ERR_VALIDATION',
        message: 'password must be a string',
      })
    },
  )
})

describe('checkHashing', () => {
  it('fills in the defaults, 2^16 / 8 / 1', () => {
    expect(checkHashing()).toEqual({ logN: 16, r: 8, p: 1 })
    expect(checkHashing({})).toEqual(DEFAULT_PASSWORD_HASHING)
    expect(checkHashing({ logN: 4 })).toEqual({ logN: 4, r: 8, p: 1 })
    // An explicit undefined is a missing value, as TypeScript's optional fields allow.
    expect(checkHashing({ logN: undefined, r: 2 } as never)).toEqual({ logN: 16, r: 2, p: 1 })
  })

  it.each([
    { logN: 1, r: 1, p: 1 },
    { logN: 20, r: 32, p: 16 },
  ])('accepts the bounds %j', (hashing) => {
    expect(checkHashing(hashing)).toEqual(hashing)
  })

  it.each([
    { logN: 0 },
    { logN: 21 },
    { logN: 4.5 },
    { logN: Number.NaN },
    { r: 0 },
    { r: 33 },
    { p: 0 },
    { p: 17 },
    { p: -1 },
    { r: '8' as unknown as number },
  ])('refuses %j with ERR_VALIDATION naming the bounds', (hashing) => {
    expect(thrown(() => checkHashing(hashing))).toMatchObject({
      code: 'ERR_VALIDATION',
      message: 'passwordHashing needs logN 1-20, r 1-32 and p 1-16 (integers)',
      details: { field: 'passwordHashing' },
    })
  })
})
