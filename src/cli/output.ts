/**
 * Everything the CLI prints goes through here: results on stdout (JSON with `--json`, a table
 * on a terminal, tab-separated lines in a pipe) and errors on stderr.
 *
 * @module
 */
import Table from 'cli-table3'

import { type CryptorgError, EXIT_CODES } from '../errors.js'
import type { CliIo } from './io.js'

export interface OutputOptions {
  json: boolean
  verbose: boolean
}

export class Output {
  constructor(
    private readonly io: CliIo,
    readonly options: OutputOptions,
  ) {}

  get json(): boolean {
    return this.options.json
  }

  /** Prints one JSON document on stdout. */
  printJson(value: unknown): void {
    this.io.stdout.write(`${JSON.stringify(value, null, 2)}\n`)
  }

  /** Prints rows as a table on a terminal, as tab-separated lines with a header otherwise. */
  printTable(head: readonly string[], rows: readonly (readonly string[])[]): void {
    if (this.io.stdout.isTTY) {
      const table = new Table({ head: [...head], style: { head: [], border: [] } })
      table.push(...rows.map((row) => [...row]))
      this.io.stdout.write(`${table.toString()}\n`)
      return
    }
    for (const row of [head, ...rows]) this.io.stdout.write(`${row.join('\t')}\n`)
  }

  /** Prints field/value pairs, one per line. */
  printRecord(record: readonly (readonly [string, string])[]): void {
    if (this.io.stdout.isTTY) {
      const table = new Table({ style: { head: [], border: [] } })
      table.push(...record.map(([key, value]) => ({ [key]: value })))
      this.io.stdout.write(`${table.toString()}\n`)
      return
    }
    for (const [key, value] of record) this.io.stdout.write(`${key}\t${value}\n`)
  }

  /** A result sentence for people (`Created organization "Acme"`), on stdout. */
  printLine(text: string): void {
    this.io.stdout.write(`${text}\n`)
  }

  /** A remark that is not the result (`No prices yet`), on stderr so pipes stay clean. */
  note(text: string): void {
    if (!this.json) this.io.stderr.write(`${text}\n`)
  }

  /** Diagnostics shown only with --verbose. */
  debug(text: string): void {
    if (this.options.verbose) this.io.stderr.write(`debug: ${text}\n`)
  }

  /** Reports a failure on stderr and returns the exit code for it. */
  printError(error: CryptorgError): number {
    const alreadyLogged = error.details['logged'] === true
    if (alreadyLogged && !this.json && !this.options.verbose) return EXIT_CODES[error.code]
    if (this.json) {
      this.io.stderr.write(
        `${JSON.stringify({ error: { code: error.code, message: error.message } })}\n`,
      )
    } else {
      this.io.stderr.write(`cryptorg: ${error.message}\n`)
      if (error.code === 'ERR_INTERNAL' && !this.options.verbose) {
        this.io.stderr.write('this is a bug in cryptorg; run again with --verbose for details\n')
      }
    }
    if (this.options.verbose) this.io.stderr.write(`${describeStack(error)}\n`)
    return EXIT_CODES[error.code]
  }
}

/** `1 price`, `2 prices`. */
export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`
}

function describeStack(error: unknown): string {
  const parts: string[] = []
  let current: unknown = error
  for (let depth = 0; current !== undefined && depth < 5; depth++) {
    parts.push(current instanceof Error ? (current.stack ?? current.message) : String(current))
    current = (current as { cause?: unknown } | null)?.cause
    if (current !== undefined) parts.push('caused by:')
  }
  return parts.join('\n')
}
