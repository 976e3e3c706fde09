import { describe, expect, it } from 'vitest'

import {
  describeLocation,
  isPostgresUrl,
  parseDatabaseLocation,
  sameLocation,
} from '../../src/db/location.js'

describe('parseDatabaseLocation', () => {
  it.each([
    ['prices.db', 'prices.db'],
    ['/var/lib/cryptorg/cryptorg.db', '/var/lib/cryptorg/cryptorg.db'],
    [':memory:', ':memory:'],
    ['sqlite:/srv/c.db', '/srv/c.db'],
    ['sqlite:///srv/c.db', '/srv/c.db'],
    ['sqlite:rel/c.db', 'rel/c.db'],
    ['C:\\data\\c.db', 'C:\\data\\c.db'],
  ])('reads %j as the SQLite file %j', (input, path) => {
    expect(parseDatabaseLocation(input)).toEqual({ kind: 'sqlite', path })
  })

  it.each([
    'postgres://cryptorg@db.internal:5432/prices',
    'postgresql://cryptorg@db.internal/prices?sslmode=require',
    'POSTGRES://u@h/d',
  ])('reads %j as Postgres', (input) => {
    expect(parseDatabaseLocation(input)).toMatchObject({ kind: 'postgres', url: input })
  })

  it.each([
    ['', /file path or a postgres:\/\/ URL/],
    ['   ', /file path or a postgres:\/\/ URL/],
    ['mysql://u@h/d', /scheme "mysql" is not supported/],
    ['postgres://u@h:5432', /names no database/],
    ['postgres://u@h:5432/', /names no database/],
    ['postgres:///d', /names no host/],
    ['postgres://u:pw@h:99999/d', /not a valid postgres:\/\/ URL/],
    ['sqlite:', /names no file/],
  ])('refuses %j with ERR_VALIDATION', (input, message) => {
    expect(() => parseDatabaseLocation(input)).toThrow(message)
    try {
      parseDatabaseLocation(input)
    } catch (error) {
      expect(error).toMatchObject({ code: 'ERR_VALIDATION', details: { field: 'database' } })
    }
  })

  it('never repeats a password in its errors', () => {
    expect(() => parseDatabaseLocation('postgres://u:s3cret-pw@h:99999/d')).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining('s3cret-pw') }),
    )
  })
})

describe('describeLocation', () => {
  it('masks the password and secret parameters, and keeps the rest', () => {
    const location = parseDatabaseLocation(
      'postgres://cryptorg:s3cret@db.internal:6432/prices?sslmode=require&password=other',
    )
    const shown = describeLocation(location)
    expect(shown).not.toContain('s3cret')
    expect(shown).not.toContain('other')
    expect(shown).toContain('cryptorg:***@db.internal:6432/prices')
    expect(shown).toContain('sslmode=require')
  })

  it('shows a file as its path', () => {
    expect(describeLocation(parseDatabaseLocation('/srv/c.db'))).toBe('/srv/c.db')
  })
})

describe('sameLocation', () => {
  const at = (text: string) => parseDatabaseLocation(text)

  it('matches the same server and database whatever the user or password', () => {
    expect(sameLocation(at('postgres://a:x@h/d'), at('postgres://b@h:5432/d'))).toBe(true)
    expect(sameLocation(at('postgres://a@h/d'), at('postgres://a@h/e'))).toBe(false)
    expect(sameLocation(at('postgres://a@h/d'), at('postgres://a@h:5433/d'))).toBe(false)
    expect(sameLocation(at('/a.db'), at('/a.db'))).toBe(true)
    expect(sameLocation(at('/a.db'), at('postgres://a@h/d'))).toBe(false)
  })

  it('tells schemas of one database apart', () => {
    const schema = (name: string) => at(`postgres://a@h/d?options=-c%20search_path%3D${name}`)
    expect(sameLocation(schema('one'), schema('two'))).toBe(false)
  })
})

describe('isPostgresUrl', () => {
  it('recognizes both spellings only', () => {
    expect(isPostgresUrl(' postgresql://h/d')).toBe(true)
    expect(isPostgresUrl('postgres.db')).toBe(false)
  })
})
