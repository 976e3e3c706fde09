// The baseline of "REST throughput": a bare node:http server answering every request with a
// JSON body, serialized per request, of the same content as the real endpoint's answer (given
// in BENCH_BODY). No routing, no authentication, no database. Sends `{ type: 'ready', url }`.
import { createServer } from 'node:http'

const body = JSON.parse(process.env.BENCH_BODY ?? '[]')
const server = createServer((request, response) => {
  const text = JSON.stringify(body)
  response.writeHead(200, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  })
  response.end(text)
})
server.listen(0, '127.0.0.1', () => {
  process.send({ type: 'ready', url: `http://127.0.0.1:${server.address().port}` })
})
const shutdown = () => {
  server.closeAllConnections()
  server.close(() => process.exit(0))
}
process.on('SIGTERM', shutdown)
process.on('SIGINT', shutdown)
process.on('disconnect', shutdown)
