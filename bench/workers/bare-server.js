// The baseline of "REST throughput": a bare node:http server answering every request with a
// JSON body, serialized per request, of the same content as the real endpoint's answer (given
// in BENCH_BODY). No routing, no authentication, no database. Sends `{ type: 'ready', url }`.
import { createServer } from 'node:http'

import { serveOnLoopback } from '../lib/loopback-server.js'

const body = JSON.parse(process.env.BENCH_BODY ?? '[]')
const server = createServer((request, response) => {
  const text = JSON.stringify(body)
  response.writeHead(200, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  })
  response.end(text)
})
serveOnLoopback(server)
