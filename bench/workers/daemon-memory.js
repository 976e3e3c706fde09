// "daemon memory": the daemon's own loop (`poller.run`, with its leader lease, tick records and
// logging) over 1,000 organizations against the mock CoinGecko, 1 s interval, with a clock and
// a sleep that jump ahead instead of waiting, so 1,000 ticks take seconds, not 17 minutes.
// Started with --expose-gc: the heap is collected before each reading, so that the figures say
// what the process keeps, not when V8 last happened to collect. Sends `{ type: 'result',
// after: {10: {...}, 1000: {...}} }`.
import { readFileSync } from 'node:fs'
import { getHeapSpaceStatistics } from 'node:v8'

import { importLibrary } from '../lib/paths.js'
import { failWorker } from '../lib/proc.js'

const [databasePath, mockUrl, ticksText, earlyText, deadlineText] = process.argv.slice(2)
const ticks = Number(ticksText)
const early = Number(earlyText)
// Wall-clock bound: past it the run stops where it is and says how far it got.
const deadline = Date.now() + Number(deadlineText)

/** Bytes as MB with one decimal. */
const mb = (bytes) => Math.round((bytes / 1048576) * 10) / 10

/** Where the resident pages are (Linux only): anonymous memory, and the rest (files, shared). */
function residentKinds() {
  try {
    const text = readFileSync('/proc/self/smaps_rollup', 'utf8')
    const kb = (field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN)
    const anonymous = kb('Anonymous') * 1024
    return { anonymous_mb: mb(anonymous), file_mb: mb(kb('Rss') * 1024 - anonymous) }
  } catch {
    return {}
  }
}

function reading() {
  global.gc?.()
  global.gc?.()
  const { rss, heapUsed, heapTotal, external, arrayBuffers } = process.memoryUsage()
  return {
    rss_mb: mb(rss),
    heap_used_mb: mb(heapUsed),
    heap_total_mb: mb(heapTotal),
    external_mb: mb(external),
    array_buffers_mb: mb(arrayBuffers),
    ...residentKinds(),
    heap_spaces_committed_mb: Object.fromEntries(
      getHeapSpaceStatistics().map((space) => [space.space_name, mb(space.physical_space_size)]),
    ),
  }
}

try {
  const { open } = await importLibrary()
  // Starts in the past so that the last ticks land near the real time the mock reports.
  let now = Date.now() - (ticks + 30) * 1000
  const clock = { now: () => new Date(now) }
  const controller = new AbortController()
  let succeeded = 0
  let failed = 0
  const after = {}
  const logger = {
    debug: () => {},
    info: (message) => {
      if (message.startsWith('stored ')) succeeded += 1
    },
    warn: () => {},
    error: (message) => {
      failed += 1
      process.stderr.write(`${message}\n`)
    },
  }
  const sleep = (ms, signal) =>
    new Promise((resolve) => {
      // Readings happen between ticks, where the daemon would be asleep.
      if (succeeded === early && !after[early]) after[early] = reading()
      if (succeeded >= ticks && !after[ticks]) {
        after[ticks] = reading()
        controller.abort()
      } else if (Date.now() > deadline && !controller.signal.aborted) {
        after.last = { ticks: succeeded, ...reading() }
        controller.abort()
      }
      if (succeeded > 0 && succeeded % 100 === 0 && !after[`at${succeeded}`]) {
        after[`at${succeeded}`] = {
          rss_mb: mb(process.memoryUsage.rss()),
          heap_total_mb: mb(process.memoryUsage().heapTotal),
          ...residentKinds(),
          at_s: Math.round((Date.now() - begun) / 100) / 10,
        }
      }
      now += ms
      if (signal?.aborted) return resolve()
      setImmediate(resolve)
    })
  const c = await open({ databasePath, clock, sleep, logger, coingecko: { baseUrl: mockUrl } })
  const begun = Date.now()
  after.start = reading()
  const summary = await c.poller.run({ intervalMs: 1000, signal: controller.signal })
  await c.close()
  process.send({
    type: 'result',
    after,
    succeeded,
    failed,
    summary,
    seconds: (Date.now() - begun) / 1000,
  })
} catch (error) {
  failWorker(error)
}
