/**
 * The daemon's log: one line per event on stderr. Short human lines on a terminal, one JSON
 * object per line otherwise, so log shippers get fields they can query, or plain lines with a
 * syslog priority prefix for journald.
 *
 * @module
 */
import type { Clock, LogFields, Logger } from '../deps.js'
import type { OutputStream } from './io.js'

export type LogLevel = 'debug' | 'info' | 'warn' | 'error'
export type LogFormat = 'human' | 'json' | 'journal'

const LEVEL_RANK: Readonly<Record<LogLevel, number>> = { debug: 10, info: 20, warn: 30, error: 40 }
/** syslog priorities, which journald reads from a `<N>` prefix on each line of stderr. */
const SYSLOG_PRIORITY: Readonly<Record<LogLevel, number>> = { debug: 7, info: 6, warn: 4, error: 3 }
/** Field names whose values are never written, whatever code logs them. */
const SECRET_FIELD = /pass(word)?|secret|token|api[-_]?key|authorization|cookie/i

export interface LineLoggerOptions {
  stream: OutputStream
  format: LogFormat
  /** @default 'info' */
  level?: LogLevel
  clock: Clock
}

export function createLineLogger(options: LineLoggerOptions): Logger {
  const threshold = LEVEL_RANK[options.level ?? 'info']
  const write = (level: LogLevel, message: string, fields: LogFields = {}) => {
    if (LEVEL_RANK[level] < threshold) return
    const safe = redact(fields)
    const now = options.clock.now()
    if (options.format === 'json') {
      const line: Record<string, unknown> = { ts: now.toISOString(), level, msg: message }
      // Fields never overwrite the three keys every line has.
      for (const [key, value] of Object.entries(safe)) if (!(key in line)) line[key] = value
      options.stream.write(`${JSON.stringify(line)}\n`)
      return
    }
    if (options.format === 'journal') {
      // journald stamps the time itself; the prefix carries the level.
      options.stream.write(`<${SYSLOG_PRIORITY[level]}>${message}\n`)
      return
    }
    const time = now.toISOString().slice(11, 19)
    const tag = level === 'info' ? '' : `${level}: `
    options.stream.write(`${time} ${tag}${message}\n`)
  }
  return {
    debug: (message, fields) => write('debug', message, fields),
    info: (message, fields) => write('info', message, fields),
    warn: (message, fields) => write('warn', message, fields),
    error: (message, fields) => write('error', message, fields),
  }
}

function redact(fields: LogFields): Record<string, unknown> {
  const result: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(fields)) {
    result[key] = SECRET_FIELD.test(key) ? '[redacted]' : value
  }
  return result
}
