/**
 * What a CLI run talks to. The real process supplies its streams and environment; tests pass
 * buffers, a fake fetch and a fake clock, and run commands in-process.
 *
 * @module
 */
import type { Clock, FetchLike, Sleep } from '../deps.js'
import type { OpenOptions } from '../open.js'

export interface OutputStream {
  write(chunk: string): unknown
  isTTY?: boolean
}

export interface CliIo {
  stdout: OutputStream
  stderr: OutputStream
  stdin: { isTTY?: boolean }
  /** Reads standard input to its end (for `--password-stdin`). */
  readStdin(): Promise<string>
  env: Readonly<Record<string, string | undefined>>
  /** Home directory, for the default database location. */
  homedir: string
  platform: NodeJS.Platform
  fetch?: FetchLike
  clock?: Clock
  sleep?: Sleep
  /**
   * Calls `handler` on SIGINT or SIGTERM until the returned function is called. A second signal
   * is the process's business (the real one exits 130 at once).
   */
  onShutdown(handler: (signal: string) => void): () => void
  /** Asks a yes/no question on the terminal. Only called when stdin and stderr are TTYs. */
  confirm(message: string): Promise<boolean>
  /** Asks for a line of text on the terminal. Only called when stdin and stderr are TTYs. */
  ask(message: string): Promise<string>
  /** Asks for a password without echoing it. Only called when stdin and stderr are TTYs. */
  askPassword(message: string): Promise<string>
  /** Extra options for open(); tests use it for a cheap password hash. */
  openOverrides?: Partial<OpenOptions>
}
