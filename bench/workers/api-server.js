// The REST API as `cryptorg serve` runs it: startServer() from the built package over an open
// database, on 127.0.0.1 and a free port, in a process of its own. With BENCH_ACCESS_LOG=1 it
// writes the access log as JSON lines to stderr, as `serve` does in a pipe (stderr is drained
// to nothing by the parent, so the cost is the formatting and the write). Sends `{ type:
// 'ready', url }`.
import { importLibrary, importServer } from '../lib/paths.js'
import { failWorker } from '../lib/proc.js'

const [databasePath] = process.argv.slice(2)

try {
  const { open } = await importLibrary()
  const { startServer } = await importServer()
  const c = await open({ databasePath })
  const write = (level) => (message, fields) =>
    process.stderr.write(
      `${JSON.stringify({ time: new Date().toISOString(), level, message, ...fields })}\n`,
    )
  const logger =
    process.env.BENCH_ACCESS_LOG === '1'
      ? { debug: () => {}, info: write('info'), warn: write('warn'), error: write('error') }
      : undefined
  const server = await startServer(c, { host: '127.0.0.1', port: 0, ...(logger && { logger }) })
  process.send({ type: 'ready', url: server.url })
  const shutdown = async () => {
    await server.close()
    await c.close()
    process.exit(0)
  }
  process.on('SIGTERM', shutdown)
  process.on('SIGINT', shutdown)
  process.on('disconnect', shutdown)
} catch (error) {
  failWorker(error)
}
