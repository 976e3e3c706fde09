#!/usr/bin/env node
// `npm run bench`: builds (npm does that first), generates or reuses the data sets, runs every
// scenario with a time bound, prints one table and writes the same as JSON to
// bench/results/latest.json. Loopback only: every server involved is started here on
// 127.0.0.1, the poller only ever talks to the benchmark's own mock CoinGecko.
//
//   node bench/run.js [--only startup,latest,fanout,rest,contention,memory]
import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, totalmem } from 'node:os'
import { join, relative } from 'node:path'

import Table from 'cli-table3'

import { HISTORY_SIZES, historyDatabase, orgsDatabase } from './lib/dataset.js'
import { RESULTS_DIR, ROOT } from './lib/paths.js'
import { stopAll } from './lib/proc.js'

/** The whole run, build excluded, should stay within this (the issue allows 10 minutes). */
const BUDGET_MS = 550_000
const began = Date.now()
const elapsed = () => ((Date.now() - began) / 1000).toFixed(0).padStart(3)
const log = (message) => process.stderr.write(`[${elapsed()} s] ${message}\n`)

const SCENARIOS = {
  startup: () => import('./scenarios/startup.js'),
  latest: () => import('./scenarios/latest.js'),
  fanout: () => import('./scenarios/fanout.js'),
  rest: () => import('./scenarios/rest.js'),
  contention: () => import('./scenarios/contention.js'),
  // Last: it takes whatever time the budget has left (see scenarios/memory.js).
  memory: () => import('./scenarios/memory.js'),
}

function selected() {
  const at = process.argv.indexOf('--only')
  if (at === -1) return Object.keys(SCENARIOS)
  const names = (process.argv[at + 1] ?? '').split(',').filter(Boolean)
  const unknown = names.filter((n) => !(n in SCENARIOS))
  if (unknown.length > 0 || names.length === 0) {
    console.error(`--only takes a comma-separated list of: ${Object.keys(SCENARIOS).join(', ')}`)
    process.exit(2)
  }
  return names
}

function withTimeout(promise, ms, what) {
  let timer
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms / 1000} s`)), ms)
    }),
  ]).finally(() => clearTimeout(timer))
}

function git(...args) {
  try {
    return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim()
  } catch {
    return null
  }
}

async function prepareData(names) {
  const datasets = {}
  const sizes = new Set()
  if (names.includes('startup') || names.includes('rest')) sizes.add('1M')
  if (names.includes('latest')) for (const s of Object.keys(HISTORY_SIZES)) sizes.add(s)
  for (const size of ['10k', '1M', '10M'].filter((s) => sizes.has(s))) {
    const { path, meta, generated } = await historyDatabase(size, log)
    datasets[`history-${size}`] = describe(path, meta, generated)
  }
  if (names.includes('fanout')) {
    const { path, meta, generated } = await orgsDatabase(10_000, 0, log)
    datasets['orgs-10000'] = describe(path, meta, generated)
  }
  if (['fanout', 'memory', 'contention'].some((n) => names.includes(n))) {
    const { path, meta, generated } = await orgsDatabase(1000, 10, log)
    datasets['orgs-1000'] = describe(path, meta, generated)
  }
  return datasets
}

function describe(path, meta, generated) {
  return {
    path: relative(ROOT, path),
    generated_now: generated,
    generation_seconds: meta.generation_seconds,
    organizations: meta.orgs.length,
    owners: meta.owners.length,
    price_rows: meta.price_rows,
    ...(meta.days !== undefined && {
      days_of_5_minute_slots: meta.days,
      first_slot: meta.first_slot,
      last_slot: meta.last_slot,
      symbols: meta.symbols,
    }),
  }
}

const STATUS_TEXT = { met: 'met', missed: 'MISSED', reported: 'reported', error: 'ERROR' }

function printTable(rows) {
  const table = new Table({
    head: ['scenario', 'figure', 'measured', 'target', 'result'],
    colWidths: [18, 44, 46, 14, 10],
    wordWrap: true,
    style: { head: [], border: [] },
  })
  for (const row of rows) {
    table.push([row.scenario, row.figure, row.display, row.target, STATUS_TEXT[row.status]])
  }
  console.log(table.toString())
}

async function main() {
  const names = selected()
  const environment = {
    node: process.version,
    cpu: cpus()[0]?.model,
    cores: cpus().length,
    memory_gb: Math.round(totalmem() / 2 ** 30),
    load_average_at_start: loadavg().map((x) => Math.round(x * 100) / 100),
    commit: git('rev-parse', '--short', 'HEAD'),
    uncommitted_changes:
      (git('status', '--porcelain', '--', 'src', 'bin', 'scripts', 'package.json') ?? '') !== '',
  }
  if (environment.load_average_at_start[0] > 1.5) {
    log(
      `warning: load average ${environment.load_average_at_start[0]} at start: other work shares these ${environment.cores} cores, figures will be slower`,
    )
  }
  log(`scenarios: ${names.join(', ')}`)
  const datasets = await withTimeout(prepareData(names), 360_000, 'data generation')
  log('data ready')

  const results = []
  const timings = {}
  for (const name of names) {
    const scenario = await SCENARIOS[name]()
    const started = Date.now()
    const remainingMs = BUDGET_MS - (started - began)
    log(`${scenario.name}...`)
    try {
      const rows = await withTimeout(
        scenario.run({ log, remainingMs }),
        scenario.timeoutMs,
        scenario.name,
      )
      results.push(...rows)
    } catch (error) {
      log(`${scenario.name} failed: ${error.stack ?? error.message}`)
      results.push({
        scenario: scenario.name,
        figure: '(scenario failed)',
        value: null,
        unit: null,
        display: String(error.message).slice(0, 200),
        target: '-',
        status: 'error',
        details: { error: String(error.stack ?? error.message) },
      })
    } finally {
      await stopAll()
    }
    timings[name] = Math.round((Date.now() - started) / 100) / 10
    log(`${scenario.name} done in ${timings[name]} s`)
  }

  environment.load_average_at_end = loadavg().map((x) => Math.round(x * 100) / 100)
  const report = {
    issue: 6,
    started_at: new Date(began).toISOString(),
    duration_seconds: Math.round((Date.now() - began) / 1000),
    environment,
    datasets,
    scenario_seconds: timings,
    results,
    summary: {
      met: results.filter((r) => r.status === 'met').length,
      missed: results.filter((r) => r.status === 'missed').length,
      reported: results.filter((r) => r.status === 'reported').length,
      errors: results.filter((r) => r.status === 'error').length,
    },
  }
  mkdirSync(RESULTS_DIR, { recursive: true })
  const out = join(RESULTS_DIR, 'latest.json')
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`)

  printTable(results)
  const { met, missed, reported, errors } = report.summary
  console.log(
    `${met} met, ${missed} missed, ${reported} reported, ${errors} failed in ${report.duration_seconds} s ` +
      `(load average ${environment.load_average_at_start[0]} -> ${environment.load_average_at_end[0]} on ${environment.cores} cores)`,
  )
  console.log(`results: ${relative(process.cwd(), out) || out}`)
  // Missed targets are findings, not failures of the benchmark: only a broken scenario fails it.
  process.exitCode = errors > 0 ? 1 : 0
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    stopAll(1000).finally(() => process.exit(130))
  })
}

main().catch(async (error) => {
  console.error(error)
  await stopAll()
  process.exit(1)
})
