// "daemon memory": RSS after 10 and after 1,000 ticks at a 1 s interval with 1,000
// organizations (2,000 rows a tick), in a fresh process on a fresh copy of the database.
//
// One run, not several: with 1,000 organizations a tick costs the product 0.1-0.6 s (it
// rewrites about 5,000 index pages, see bench/README.md), so 1,000 ticks take minutes. The
// database file lives on tmpfs (/dev/shm) when there is one: that makes the ticks cheaper and
// changes nothing in the figure, since a file's pages are not part of the process's RSS.
// The process runs with the node flags of the systemd unit `cryptorg daemon unit` generates,
// since that is how the daemon is meant to run for months.
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'

import { copyDatabase, orgsDatabase } from '../lib/dataset.js'
import { DIST } from '../lib/paths.js'
import { nextMessage, startWorker, stop } from '../lib/proc.js'
import { round } from '../lib/stats.js'

export const name = 'daemon memory'
/** The run stops at 1,000 ticks or at this bound, or sooner when the suite's budget runs out. */
const MAX_DEADLINE_MS = 270_000
const MIN_DEADLINE_MS = 45_000
export const timeoutMs = MAX_DEADLINE_MS + 40_000

const TICKS = 1000
const EARLY = 10

export async function run({ log, remainingMs = MAX_DEADLINE_MS }) {
  const deadlineMs = Math.round(
    Math.min(MAX_DEADLINE_MS, Math.max(MIN_DEADLINE_MS, remainingMs - 15_000)),
  )
  const base = await orgsDatabase(1000, 10, log)
  const tmp = mkdtempSync(
    join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'cryptorg-bench-memory-'),
  )
  const { child: mock, ready } = await startWorker('mock-coingecko.js')
  let result
  let nodeFlags
  try {
    const path = copyDatabase(base.path, join(tmp, 'daemon.db'))
    // The node flags the generated systemd unit starts the daemon with (src/daemon/unit.ts).
    const { DAEMON_NODE_FLAGS } = await import(pathToFileURL(join(DIST, 'daemon', 'unit.js')).href)
    nodeFlags = [...DAEMON_NODE_FLAGS]
    const { child } = await startWorker(
      'daemon-memory.js',
      [path, ready.url, String(TICKS), String(EARLY), String(deadlineMs)],
      { waitReady: false, execArgv: ['--expose-gc', ...nodeFlags] },
    )
    result = await nextMessage(child, 'result', deadlineMs + 30_000)
    await stop(child)
  } finally {
    await stop(mock)
    rmSync(tmp, { recursive: true, force: true })
  }
  if (result.failed > 0) throw new Error(`${result.failed} ticks failed`)
  const early = result.after[EARLY]
  const late = result.after[TICKS] ?? result.after.last
  const reached = result.after[TICKS] ? TICKS : late.ticks
  const complete = reached >= TICKS
  const growth = late.rss_mb / early.rss_mb - 1
  log(
    `  ${reached} ticks in ${result.seconds.toFixed(0)} s: RSS ${early.rss_mb} MB after ${EARLY}, ${late.rss_mb} MB after ${reached}`,
  )
  const progress = Object.entries(result.after)
    .filter(([k]) => k.startsWith('at'))
    .map(([k, v]) => ({ ticks: Number(k.slice(2)), ...v }))
  const incomplete = complete
    ? ''
    : ` (only ${reached} of ${TICKS} ticks within the ${Math.round(deadlineMs / 1000)} s left for it)`
  return [
    {
      scenario: 'daemon memory',
      figure: `RSS growth from tick ${EARLY} to tick ${TICKS} (1,000 orgs, 1 s interval)`,
      value: round(growth, 4),
      unit: 'fraction',
      display: `${(growth * 100).toFixed(1)}% (${early.rss_mb} -> ${late.rss_mb} MB)${incomplete}`,
      target: '< 20%',
      status: complete && growth < 0.2 ? 'met' : 'missed',
      details: {
        ticks_reached: reached,
        seconds: round(result.seconds, 1),
        ms_per_tick: round((result.seconds * 1000) / reached, 1),
        start: result.after.start,
        after_early: early,
        after_last: late,
        rss_every_100_ticks_without_gc: progress,
        gc_before_reading: true,
        node_flags: nodeFlags,
        runs: 1,
      },
    },
    {
      scenario: 'daemon memory',
      figure: `RSS after ${TICKS} ticks`,
      value: late.rss_mb,
      unit: 'MB',
      display: `${late.rss_mb} MB${incomplete}`,
      target: '< 120 MB',
      status: complete && late.rss_mb < 120 ? 'met' : 'missed',
      details: { heap_used_mb_early: early.heap_used_mb, heap_used_mb_last: late.heap_used_mb },
    },
  ]
}
