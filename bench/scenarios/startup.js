// "CLI start-up": wall time of `cryptorg prices latest --org X --json` on the 1M-row database,
// signed in through CRYPTORG_TOKEN (no keychain), against `node -e 0`, runs interleaved.
// The figure is with the compile cache the first command fills (as every run after a user's
// first one is); the same command with the cache off is measured alongside and reported too.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { historyDatabase } from '../lib/dataset.js'
import { BIN } from '../lib/paths.js'
import { runCommand } from '../lib/proc.js'
import { median, round } from '../lib/stats.js'
import { mintToken, ownerOf } from '../lib/tokens.js'

export const name = 'CLI start-up'
export const timeoutMs = 120_000

const RUNS = 15
const WARMUP = 2

export async function run({ log }) {
  const { path, meta } = await historyDatabase('1M', log)
  // Organization 3 is a founder with the longest history and a manual EURC price: 4 symbols.
  const org = meta.orgs[3]
  const owner = ownerOf(meta, org.owner)
  const token = await mintToken(path, owner.username, owner.password)
  const home = mkdtempSync(join(tmpdir(), 'cryptorg-bench-cli-'))
  // A private configuration directory: the command must not read or write the user's own.
  const env = {
    PATH: process.env.PATH,
    HOME: home,
    XDG_CONFIG_HOME: join(home, 'config'),
    XDG_DATA_HOME: join(home, 'data'),
    CRYPTORG_CONFIG_DIR: join(home, 'config', 'cryptorg'),
    CRYPTORG_CREDENTIAL_STORE: 'file',
    CRYPTORG_TOKEN: token,
  }
  const cli = [BIN, '--db', path, 'prices', 'latest', '--org', org.name, '--json']
  const bare = ['-e', '0']
  const uncachedEnv = { ...env, CRYPTORG_COMPILE_CACHE: 'off' }
  const cliTimes = []
  const uncachedTimes = []
  const nodeTimes = []
  let symbols = 0
  try {
    for (let i = 0; i < WARMUP + RUNS; i++) {
      const base = await runCommand(process.execPath, bare, { env })
      const result = await runCommand(process.execPath, cli, { env })
      const uncached = await runCommand(process.execPath, cli, { env: uncachedEnv })
      for (const { code, stderr } of [result, uncached]) {
        if (code !== 0) throw new Error(`cryptorg exited ${code}: ${stderr.slice(0, 500)}`)
      }
      const parsed = JSON.parse(result.stdout)
      symbols = Array.isArray(parsed)
        ? parsed.length
        : (parsed.results ?? parsed.prices ?? []).length
      if (symbols === 0) throw new Error(`no prices printed: ${result.stdout.slice(0, 200)}`)
      if (i < WARMUP) continue
      nodeTimes.push(base.wallMs)
      cliTimes.push(result.wallMs)
      uncachedTimes.push(uncached.wallMs)
    }
  } finally {
    rmSync(home, { recursive: true, force: true })
  }
  const cliMs = median(cliTimes)
  const nodeMs = median(nodeTimes)
  const ratio = cliMs / nodeMs
  const uncachedMs = median(uncachedTimes)
  return [
    {
      scenario: 'CLI start-up',
      figure: '`prices latest --org X --json` (1M rows) / `node -e 0`',
      value: round(ratio, 3),
      unit: 'x',
      display:
        `${ratio.toFixed(2)}x (${cliMs.toFixed(0)} ms / ${nodeMs.toFixed(0)} ms; ` +
        `${(uncachedMs / nodeMs).toFixed(2)}x without the compile cache)`,
      target: '<= 2.5x',
      status: ratio <= 2.5 ? 'met' : 'missed',
      details: {
        cli_median_ms: round(cliMs, 1),
        node_e_0_median_ms: round(nodeMs, 1),
        over_node_ms: round(cliMs - nodeMs, 1),
        without_compile_cache_median_ms: round(uncachedMs, 1),
        without_compile_cache_ratio: round(uncachedMs / nodeMs, 3),
        runs_each: RUNS,
        symbols_printed: symbols,
        cli_ms: cliTimes.map((t) => round(t, 1)),
        node_ms: nodeTimes.map((t) => round(t, 1)),
        without_compile_cache_ms: uncachedTimes.map((t) => round(t, 1)),
      },
    },
  ]
}
