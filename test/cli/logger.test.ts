import { beforeEach, describe, expect, it } from 'vitest'

import { type LineLoggerOptions, createLineLogger } from '../../src/cli/logger.js'
import { type FakeClock, fakeClock } from '../helpers/fake-clock.js'
import { lines } from './support.js'

let clock: FakeClock
let written: string

beforeEach(() => {
  clock = fakeClock('2024-09-17T12:34:56.789Z')
  written = ''
})

function logger(options: Partial<LineLoggerOptions> = {}) {
  return createLineLogger({
    stream: { write: (chunk: string) => (written += chunk) },
    format: 'json',
    clock,
    ...options,
  })
}

const entries = () => lines(written).map((line) => JSON.parse(line) as Record<string, unknown>)

describe('createLineLogger in json format', () => {
  it('writes one JSON object per line with ts, level, msg and the fields', () => {
    const log = logger()

    log.info('tick done', { rows: 4, symbols: ['BTC', 'ETH'] })
    clock.advance(1000)
    log.warn('slow')

    expect(written.endsWith('\n')).toBe(true)
    expect(entries()).toEqual([
      {
        ts: '2024-09-17T12:34:56.789Z',
        level: 'info',
        msg: 'tick done',
        rows: 4,
        symbols: ['BTC', 'ETH'],
      },
      { ts: '2024-09-17T12:34:57.789Z', level: 'warn', msg: 'slow' },
    ])
  })

  it('keeps a message with a newline on one line', () => {
    logger().error('first\nsecond')

    expect(lines(written)).toHaveLength(1)
    expect(entries()[0]?.['msg']).toBe('first\nsecond')
  })

  it.each([
    'password',
    'pass',
    'token',
    'accessToken',
    'apiKey',
    'api_key',
    'api-key',
    'API_KEY',
    'authorization',
    'Authorization',
    'secret',
    'client_secret',
    'cookie',
  ])('redacts the value of a field named %s', (field) => {
    logger().info('request', { [field]: 'sk-secret-123', rows: 2 })

    expect(written).not.toContain('sk-secret-123')
    expect(entries()[0]).toEqual({
      ts: '2024-09-17T12:34:56.789Z',
      level: 'info',
      msg: 'request',
      [field]: '[redacted]',
      rows: 2,
    })
  })

  it.each(['symbol', 'rows', 'database', 'interval_ms', 'code'])(
    'keeps the value of the ordinary field %s',
    (field) => {
      logger().info('x', { [field]: 'value' })

      expect(entries()[0]?.[field]).toBe('value')
    },
  )
})

describe('createLineLogger in json format: fields named like the line keys', () => {
  it.each([
    ['ts', '1999-01-01T00:00:00.000Z'],
    ['level', 'debug'],
    ['msg', 'forged message'],
  ])('keeps the line own value when a field is named %s', (field, value) => {
    logger().warn('real message', { [field]: value, rows: 2 })

    expect(entries()).toEqual([
      { ts: '2024-09-17T12:34:56.789Z', level: 'warn', msg: 'real message', rows: 2 },
    ])
  })

  it('writes ts first, then level and msg, when fields use all three names', () => {
    logger().error('boom', { msg: 'x', level: 'info', ts: 'y', code: 'ERR_STORAGE' })

    const [entry] = entries()
    expect(Object.keys(entry!)).toEqual(['ts', 'level', 'msg', 'code'])
    expect(lines(written)[0]).toMatch(/^\{"ts":"2024-09-17T12:34:56\.789Z","level":"error",/)
    expect(entry).toMatchObject({ level: 'error', msg: 'boom' })
  })
})

describe('createLineLogger in human format', () => {
  it('writes the UTC time and the message of an info event', () => {
    logger({ format: 'human' }).info('daemon started', { rows: 4 })

    expect(written).toBe('12:34:56 daemon started\n')
  })

  it.each([
    ['warn', '12:34:56 warn: careful\n'],
    ['error', '12:34:56 error: careful\n'],
  ] as const)('tags a %s event with its level', (level, line) => {
    logger({ format: 'human' })[level]('careful')

    expect(written).toBe(line)
  })

  it('never writes the fields, so secrets stay out', () => {
    logger({ format: 'human' }).info('request', { apiKey: 'sk-secret-123' })

    expect(written).not.toContain('sk-secret-123')
    expect(() => JSON.parse(written)).toThrow()
  })
})

describe('createLineLogger level threshold', () => {
  const emitAll = (log: ReturnType<typeof logger>) => {
    log.debug('d')
    log.info('i')
    log.warn('w')
    log.error('e')
  }

  it('drops debug events by default', () => {
    emitAll(logger())

    expect(entries().map((e) => e['level'])).toEqual(['info', 'warn', 'error'])
  })

  it.each([
    ['debug', ['debug', 'info', 'warn', 'error']],
    ['info', ['info', 'warn', 'error']],
    ['warn', ['warn', 'error']],
    ['error', ['error']],
  ] as const)('writes only events at or above %s', (level, expected) => {
    emitAll(logger({ level }))

    expect(entries().map((e) => e['level'])).toEqual(expected)
  })

  it('applies the threshold in human format too', () => {
    emitAll(logger({ format: 'human', level: 'warn' }))

    expect(lines(written)).toEqual(['12:34:56 warn: w', '12:34:56 error: e'])
  })
})
