#!/usr/bin/env node
// A stand-in for CoinGecko's /simple/price on loopback, for trying cryptorg without internet
// access. It answers every request with test/fixtures/simple-price-usd.json (made-up prices),
// moving `last_updated_at` to the current time so the quotes do not look stale.
//
//   node scripts/mock-coingecko.js [port]     (default 8089, listens on 127.0.0.1 only)
import { readFileSync } from 'node:fs'
import { createServer } from 'node:http'

const port = Number(process.argv[2] ?? 8089)
const fixture = new URL('../test/fixtures/simple-price-usd.json', import.meta.url)
const template = readFileSync(fixture, 'utf8')

const server = createServer((request, response) => {
  const url = new URL(request.url ?? '/', 'http://127.0.0.1')
  if (url.pathname !== '/api/v3/simple/price') {
    response.writeHead(404, { 'content-type': 'application/json' })
    response.end('{"error":"not found"}')
    return
  }
  const now = String(Math.floor(Date.now() / 1000))
  response.writeHead(200, { 'content-type': 'application/json' })
  response.end(template.replace(/("last_updated_at":\s*)\d+/g, `$1${now}`))
})

server.listen(port, '127.0.0.1', () => {
  console.error(`mock CoinGecko on http://127.0.0.1:${port}/api/v3 (Ctrl-C to stop)`)
})
for (const signal of ['SIGINT', 'SIGTERM'])
  process.on(signal, () => server.close(() => process.exit(0)))
