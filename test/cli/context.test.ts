import { describe, expect, it } from 'vitest'

import { CliContext } from '../../src/cli/context.js'
import type { CliIo } from '../../src/cli/io.js'

/** A context whose only input is its --db flag. */
function contextFor(db: string): CliContext {
  const io = {
    stdout: { write: () => true },
    stderr: { write: () => true },
    stdin: {},
    env: {},
    homedir: '/nonexistent-home-for-tests',
    platform: 'linux',
  } as unknown as CliIo
  return new CliContext(io, { db })
}

describe('credentialTarget', () => {
  it('keys a Postgres sign-in by database and schema, however the URL is spelled', () => {
    const spellings = [
      'postgres://alice:pw1@DB.internal:5432/prices?options=-c%20search_path%3Dacme',
      'postgresql://alice@db.internal/prices?options=-c+search_path=acme',
      'postgres://alice:other@db.internal:5432/prices?options=-c  search_path%3Dacme',
    ]
    const targets = new Set(spellings.map((url) => contextFor(url).credentialTarget()))
    expect([...targets]).toEqual([
      'postgres://alice@db.internal:5432/prices?options=-c search_path=acme',
    ])
  })

  it('keeps databases, schemas, users and ports apart, and never holds the password', () => {
    const base = 'postgres://alice:pw1@db.internal:5432/prices'
    const others = [
      'postgres://alice@db.internal:5432/other',
      'postgres://bob@db.internal:5432/prices',
      'postgres://alice@db.internal:5433/prices',
      'postgres://alice@db.internal:5432/prices?options=-c%20search_path%3Dglobex',
    ].map((url) => contextFor(url).credentialTarget())
    const target = contextFor(base).credentialTarget()
    expect(others).not.toContain(target)
    expect(new Set(others).size).toBe(others.length)
    expect(target).not.toContain('pw1')
  })
})
