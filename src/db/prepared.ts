/**
 * Queries built and compiled once per database, for the few that run on every request.
 * Building a query through kysely's builder and compiling it costs more than SQLite takes to
 * run a short indexed query; a prepared query keeps the compiled SQL (per database, so per
 * dialect) and binds new values to it at each call. The SQL stays dialect-neutral kysely.
 *
 * @module
 */
import type { Compilable, CompiledQuery, Kysely } from 'kysely'

import type { Database } from './schema.js'

/** A stand-in value for the builder; each call replaces it with a real one. */
export function slot(name: string): string {
  return `\u0000cryptorg-slot:${name}`
}

/**
 * Returns a function that runs the query `build` makes, with `slots` (values made by
 * {@link slot}, used by `build` in place of the real ones) replaced by the values given.
 */
export function prepared<Row>(
  slots: readonly string[],
  build: (db: Kysely<Database>) => Compilable<Row>,
): (db: Kysely<Database>, values: readonly unknown[]) => Promise<Row[]> {
  // Transactions are Kysely objects of their own: they compile once each, as before.
  const compiledFor = new WeakMap<Kysely<Database>, CompiledQuery<Row>>()
  return async (db, values) => {
    let compiled = compiledFor.get(db)
    if (!compiled) {
      compiled = build(db).compile()
      for (const name of slots) {
        if (compiled.parameters.filter((p) => p === name).length !== 1) {
          throw new Error(`prepared query: slot ${JSON.stringify(name)} is not bound exactly once`)
        }
      }
      compiledFor.set(db, compiled)
    }
    const parameters = compiled.parameters.map((p) => {
      const index = slots.indexOf(p as string)
      return index < 0 ? p : values[index]
    })
    return (await db.executeQuery<Row>({ ...compiled, parameters })).rows
  }
}
