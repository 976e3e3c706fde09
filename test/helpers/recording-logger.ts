/**
 * A {@link Logger} that keeps every event, for assertions on what was logged.
 *
 * @module
 */
import type { LogFields, Logger } from '../../src/index.js'

export interface LogEvent {
  level: 'debug' | 'info' | 'warn' | 'error'
  message: string
  fields: LogFields | undefined
}

export interface RecordingLogger extends Logger {
  /** Every event, oldest first. */
  events: LogEvent[]
  /** The messages of one level, or of all levels. */
  messages(level?: LogEvent['level']): string[]
}

export function recordingLogger(): RecordingLogger {
  const events: LogEvent[] = []
  const at =
    (level: LogEvent['level']) =>
    (message: string, fields?: LogFields): void => {
      events.push({ level, message, fields })
    }
  return {
    events,
    messages: (level) => events.filter((e) => !level || e.level === level).map((e) => e.message),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
  }
}
