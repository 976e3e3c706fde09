/**
 * `startServer()`: the REST API on a port, with graceful shutdown. The CLI's `serve` command
 * and the tests start it here; it is not part of the library's start-up cost, since nothing
 * else imports it.
 *
 * @module
 */
import { STATUS_CODES, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'

import { createAdaptorServer } from '@hono/node-server'

import { type Clock, type Logger, silentLogger, systemClock } from '../deps.js'
import { CryptorgError } from '../errors.js'
import type { Cryptorg } from '../open.js'
import { createApp } from './app.js'
import { createMetrics } from './metrics.js'
import { type ThrottleLimits, DEFAULT_THROTTLE, createLoginThrottle } from './throttle.js'

export interface ServerOptions {
  /** @default '127.0.0.1' */
  host?: string
  /** 0 picks a free port. @default 8000 */
  port?: number
  /** Receives one line per request and every unexpected error. @default silentLogger */
  logger?: Logger
  clock?: Clock
  throttle?: ThrottleLimits
  /** With a daemon in the same process: /readyz fails when the newest tick is older. */
  readyTickAgeMs?: number
  /** How long in-flight requests get on close() before their connections are cut. @default 10s */
  shutdownGraceMs?: number
}

export interface RunningServer {
  /** `http://host:port`, with the port actually bound. */
  readonly url: string
  readonly port: number
  /** Stops accepting, lets in-flight requests finish within the grace period, then closes. */
  close(): Promise<void>
}

export const DEFAULT_PORT = 8000
export const DEFAULT_SHUTDOWN_GRACE_MS = 10_000

export async function startServer(
  cryptorg: Cryptorg,
  options: ServerOptions = {},
): Promise<RunningServer> {
  const clock = options.clock ?? systemClock
  const app = createApp({
    cryptorg,
    clock,
    logger: options.logger ?? silentLogger,
    metrics: createMetrics(),
    throttle: createLoginThrottle(clock, options.throttle ?? DEFAULT_THROTTLE),
    ...(options.readyTickAgeMs !== undefined && { readyTickAgeMs: options.readyTickAgeMs }),
  })
  const server = createAdaptorServer({ fetch: app.fetch }) as Server
  server.on('clientError', answerClientError)
  const host = options.host ?? '127.0.0.1'
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      const where = `${host}:${options.port ?? DEFAULT_PORT}`
      const message =
        error.code === 'EADDRINUSE'
          ? `${where} is already in use`
          : error.code === 'EACCES'
            ? `no permission to listen on ${where}`
            : `could not listen on ${where}: ${error.message}`
      reject(new CryptorgError('ERR_USAGE', message, { cause: error }))
    })
    server.listen(options.port ?? DEFAULT_PORT, host, () => resolve())
  })
  const { port } = server.address() as AddressInfo
  const shown = host.includes(':') ? `[${host}]` : host
  let closing: Promise<void> | undefined

  return {
    url: `http://${shown}:${port}`,
    port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        const grace = setTimeout(
          () => server.closeAllConnections(),
          options.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS,
        )
        // Keep-alive connections with no request in flight would hold close() open, and so
        // would a connection whose request finishes during the grace period: it stays open
        // for keepAliveTimeout (5 s) after its answer unless it is closed once idle.
        const sweep = setInterval(() => server.closeIdleConnections(), 50)
        server.close(() => {
          clearTimeout(grace)
          clearInterval(sweep)
          resolve()
        })
        server.closeIdleConnections()
      })
      return closing
    },
  }
}

/**
 * Requests Node's HTTP parser refuses (a bad request line, a non-numeric Content-Length,
 * headers over 16 KiB) never reach the app: answer them in JSON too, as Node's own default
 * handler would answer them otherwise, but with a body.
 */
function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  const written = (socket as Duplex & { bytesWritten?: number }).bytesWritten ?? 0
  if (error.code !== 'ECONNRESET' && socket.writable && written === 0) {
    const [status, detail, code] =
      error.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'request headers are too large', 'headers_too_large']
        : error.code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW'
          ? [413, 'chunk extensions are too large', 'too_large']
          : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
            ? [408, 'the request took too long to arrive', 'request_timeout']
            : [400, 'malformed HTTP request', 'bad_request']
    const body = JSON.stringify({ detail, code })
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
        'Content-Type: application/json\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        `Connection: close\r\n\r\n${body}`,
    )
  }
  socket.destroy(error)
}
