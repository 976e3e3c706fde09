// A stand-in for CoinGecko's /api/v3/simple/price on 127.0.0.1 (a free port), in a process of
// its own so that serving it costs nothing in the process being measured. It answers every
// requested id it knows with a price that wanders a little per request (as a live market
// does) in each requested currency, and `last_updated_at` set to now so quotes are not stale.
// Reports `{ type: 'ready', url, port }` over IPC; counts requests and reports them on exit.
import { createServer } from 'node:http'

const BASE = { bitcoin: 64213.12, ethereum: 2318.47, solana: 143.2871 }
const price = Object.fromEntries(Object.entries(BASE))
let requests = 0

const server = createServer((request, response) => {
  const url = new URL(request.url ?? '/', 'http://127.0.0.1')
  if (url.pathname !== '/api/v3/simple/price') {
    response.writeHead(404, { 'content-type': 'application/json' })
    response.end('{"error":"Not Found"}')
    return
  }
  requests += 1
  const ids = (url.searchParams.get('ids') ?? '').split(',').filter(Boolean)
  const currencies = (url.searchParams.get('vs_currencies') ?? 'usd').split(',').filter(Boolean)
  const now = Math.floor(Date.now() / 1000)
  const body = {}
  for (const id of ids) {
    if (!(id in price)) continue
    price[id] *= 1 + (Math.random() - 0.5) * 0.002
    const quote = {}
    for (const currency of currencies)
      quote[currency] = Number(price[id].toFixed(id === 'solana' ? 4 : 2))
    quote.last_updated_at = now
    body[id] = quote
  }
  response.writeHead(200, { 'content-type': 'application/json; charset=utf-8' })
  response.end(JSON.stringify(body))
})

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address()
  process.send?.({ type: 'ready', port, url: `http://127.0.0.1:${port}/api/v3` })
})
process.on('message', (message) => {
  if (message?.type === 'stats') process.send?.({ type: 'stats', requests })
})
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    server.closeAllConnections()
    server.close(() => process.exit(0))
  })
}
process.on('disconnect', () => process.exit(0))
