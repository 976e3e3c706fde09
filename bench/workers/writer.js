// "write contention": one of the processes adding prices. Acts as an owner (trusted code:
// `auth.actorFor`) and calls `prices.add` in a loop on that owner's organizations until the
// deadline, one call at a time, counting successes per second, failures by code, and the
// latency of every call. Sends `{ type: 'result', ... }`.
import { importLibrary } from '../lib/paths.js'
import { failWorker } from '../lib/proc.js'
import { nowMs, percentile, prng } from '../lib/stats.js'

const [databasePath, username, orgList, durationText, seedText] = process.argv.slice(2)
const orgIds = orgList.split(',')
const durationMs = Number(durationText)
const rand = prng(Number(seedText))
const SYMBOLS = [
  ['BTC', 64_000, 'usd'],
  ['ETH', 2_300, 'usd'],
  ['EURC', 1.08, 'eur'],
]

try {
  const { open } = await importLibrary()
  const c = await open({ databasePath })
  const w = c.as(await c.auth.actorFor(username))
  process.send({ type: 'ready' })
  await new Promise((resolve) => process.once('message', resolve))
  const perSecond = []
  const latencies = []
  const failures = {}
  const started = nowMs()
  let added = 0
  for (;;) {
    const at = nowMs()
    if (at - started >= durationMs) break
    const [symbol, base, currency] = SYMBOLS[Math.floor(rand() * SYMBOLS.length)]
    const price = (base * (1 + (rand() - 0.5) * 0.01)).toFixed(10)
    try {
      await w.prices.add({
        org: orgIds[Math.floor(rand() * orgIds.length)],
        symbol,
        price,
        currency,
      })
      added += 1
      const second = Math.floor((nowMs() - started) / 1000)
      perSecond[second] = (perSecond[second] ?? 0) + 1
    } catch (error) {
      const code = error?.code ?? 'unknown'
      failures[code] = (failures[code] ?? 0) + 1
      if (failures[code] <= 3) process.stderr.write(`${code}: ${error?.message}\n`)
    }
    latencies.push(nowMs() - at)
  }
  const elapsedMs = nowMs() - started
  await c.close()
  process.send({
    type: 'result',
    added,
    elapsed_ms: elapsedMs,
    per_second: Array.from({ length: Math.floor(elapsedMs / 1000) }, (_, i) => perSecond[i] ?? 0),
    failures,
    p50_ms: percentile(latencies, 50),
    p99_ms: percentile(latencies, 99),
    max_ms: Math.max(...latencies),
  })
} catch (error) {
  failWorker(error)
}
