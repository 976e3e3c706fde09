// "REST throughput": GET /api/crypto-prices/latest/?org_id= with a valid Bearer token, 50
// connections for 10 s (autocannon, in this process), against a bare node:http JSON handler in
// the same run with the same settings; each server in a process of its own. Alongside, reported
// only: the same endpoint's work done with nothing in between (workers/floor-server.js), to say
// how much of the gap is the work itself. And "token issue":
// POST /api/token/ per second on the same server.
import { scrypt } from 'node:crypto'
import { promisify } from 'node:util'

import autocannon from 'autocannon'

import { ADMIN, historyDatabase } from '../lib/dataset.js'
import { startWorker, stop } from '../lib/proc.js'
import { median, nowMs, round } from '../lib/stats.js'
import { mintToken, ownerOf } from '../lib/tokens.js'

export const name = 'REST throughput / token issue'
export const timeoutMs = 180_000

const CONNECTIONS = 50
const DURATION_S = 10
const WARMUP_S = 2
const ROUNDS = 3
const TOKEN_CONNECTIONS = 4
const TOKEN_DURATION_S = 4
const TOKEN_ROUNDS = 3

function load(options) {
  return new Promise((resolve, reject) => {
    const instance = autocannon(options, (error, result) =>
      error ? reject(error) : resolve(result),
    )
    instance.on('error', reject)
  })
}

/** GETs rotating over the owner's organizations, every one with the owner's token. */
function latestLoad(url, token, orgIds, duration) {
  let next = 0
  return load({
    url,
    connections: CONNECTIONS,
    duration,
    headers: { authorization: `Bearer ${token}` },
    requests: [
      {
        method: 'GET',
        setupRequest: (request) => ({
          ...request,
          path: `/api/crypto-prices/latest/?org_id=${orgIds[next++ % orgIds.length]}`,
        }),
      },
    ],
  })
}

function summary(result) {
  return {
    rps: result.requests.average,
    p50_ms: result.latency.p50,
    p99_ms: result.latency.p99,
    max_ms: result.latency.max,
    requests: result.requests.total,
    non_2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
  }
}

function checkClean(result, what) {
  if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) {
    throw new Error(
      `${what}: ${result.non2xx} non-2xx answers, ${result.errors} errors, ` +
        `${result.timeouts} timeouts: the figure would not be about successful requests`,
    )
  }
}

export async function run({ log }) {
  const { path, meta } = await historyDatabase('1M', log)
  const owner = ownerOf(meta, 0)
  const token = await mintToken(path, owner.username, owner.password)
  const orgIds = owner.orgs.map((o) => o.id)

  const api = await startWorker('api-server.js', [path])
  const apiUrl = api.ready.url
  // The bare handler answers with the same content as the real endpoint does.
  const sample = await fetch(`${apiUrl}/api/crypto-prices/latest/?org_id=${orgIds[0]}`, {
    headers: { authorization: `Bearer ${token}` },
  })
  if (sample.status !== 200) throw new Error(`latest answered ${sample.status}`)
  const sampleBody = await sample.text()
  const bare = await startWorker('bare-server.js', [], { env: { BENCH_BODY: sampleBody } })
  const bareUrl = bare.ready.url
  const floor = await startWorker('floor-server.js', [path])
  const floorUrl = floor.ready.url

  try {
    // The floor must do the same work: the same answer, byte for byte.
    const floorSample = await fetch(`${floorUrl}/api/crypto-prices/latest/?org_id=${orgIds[0]}`, {
      headers: { authorization: `Bearer ${token}` },
    })
    const floorBody = await floorSample.text()
    if (floorSample.status !== 200 || floorBody !== sampleBody) {
      throw new Error(`the floor server answers otherwise: ${floorSample.status} ${floorBody}`)
    }
    const servers = {
      api: { url: apiUrl, what: 'cryptorg', runs: [] },
      bare: { url: bareUrl, what: 'bare handler', runs: [] },
      floor: { url: floorUrl, what: 'floor server', runs: [] },
    }
    for (const server of Object.values(servers)) {
      await latestLoad(server.url, token, orgIds, WARMUP_S)
    }
    const orders = [
      ['bare', 'api', 'floor'],
      ['api', 'floor', 'bare'],
      ['floor', 'bare', 'api'],
    ]
    for (let r = 0; r < ROUNDS; r++) {
      for (const which of orders[r % orders.length]) {
        const server = servers[which]
        const result = await latestLoad(server.url, token, orgIds, DURATION_S)
        checkClean(result, server.what)
        server.runs.push(summary(result))
      }
      log(
        `  round ${r + 1}/${ROUNDS}: cryptorg ${servers.api.runs.at(-1).rps.toFixed(0)} req/s ` +
          `(p99 ${servers.api.runs.at(-1).p99_ms} ms), bare ` +
          `${servers.bare.runs.at(-1).rps.toFixed(0)} req/s, floor ` +
          `${servers.floor.runs.at(-1).rps.toFixed(0)} req/s`,
      )
    }
    const real = servers.api.runs
    const base = servers.bare.runs
    const floorRps = median(servers.floor.runs.map((x) => x.rps))

    // Token issue: successful sign-ins of the administrator (production scrypt cost).
    const tokenRuns = []
    for (let r = 0; r < TOKEN_ROUNDS; r++) {
      const result = await load({
        url: `${apiUrl}/api/token/`,
        connections: TOKEN_CONNECTIONS,
        duration: TOKEN_DURATION_S,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: ADMIN.username, password: ADMIN.password }),
      })
      checkClean(result, 'POST /api/token/')
      tokenRuns.push(summary(result))
    }
    // What one hash costs on its own, in this process: the floor of a sign-in.
    const derive = promisify(scrypt)
    const hashMs = []
    for (let i = 0; i < 5; i++) {
      const started = nowMs()
      await derive('bench password', 'saltsaltsaltsalt', 32, {
        N: 2 ** 16,
        r: 8,
        p: 1,
        maxmem: 2 ** 27,
      })
      hashMs.push(nowMs() - started)
    }

    const rps = median(real.map((x) => x.rps))
    const bareRps = median(base.map((x) => x.rps))
    const share = rps / bareRps
    const p99 = median(real.map((x) => x.p99_ms))
    const tokenRps = median(tokenRuns.map((x) => x.rps))
    const oneHash = median(hashMs)
    return [
      {
        scenario: 'REST throughput',
        figure: 'GET latest req/s / bare node:http req/s (50 connections, 10 s)',
        value: round(share, 3),
        unit: 'x',
        display:
          `${(share * 100).toFixed(1)}% (${rps.toFixed(0)} / ${bareRps.toFixed(0)} req/s; ` +
          `the same work without framework ${((floorRps / bareRps) * 100).toFixed(0)}%)`,
        target: '>= 40%',
        status: share >= 0.4 ? 'met' : 'missed',
        details: {
          cryptorg_rps: round(rps, 1),
          bare_rps: round(bareRps, 1),
          cryptorg_runs: real,
          bare_runs: base,
          // Reported only: the same work with nothing in between (workers/floor-server.js).
          floor_rps: round(floorRps, 1),
          floor_share_of_bare: round(floorRps / bareRps, 3),
          cryptorg_share_of_floor: round(rps / floorRps, 3),
          floor_runs: servers.floor.runs,
          body_bytes: Buffer.byteLength(sampleBody),
          organizations_rotated: orgIds.length,
          database_rows: meta.price_rows,
        },
      },
      {
        scenario: 'REST throughput',
        figure: 'GET latest p99 latency (50 connections)',
        value: p99,
        unit: 'ms',
        display: `${p99} ms (p50 ${median(real.map((x) => x.p50_ms))} ms; bare p99 ${median(base.map((x) => x.p99_ms))} ms)`,
        target: '< 10 ms',
        status: p99 < 10 ? 'met' : 'missed',
        details: {
          p50_ms: median(real.map((x) => x.p50_ms)),
          bare_p99_ms: median(base.map((x) => x.p99_ms)),
          // Little's law: with 50 requests always in flight the mean latency is 50 / rate.
          mean_latency_floor_ms: round((CONNECTIONS / rps) * 1000, 2),
        },
      },
      {
        scenario: 'token issue',
        figure: `POST /api/token/ per second (${TOKEN_CONNECTIONS} connections)`,
        value: round(tokenRps, 2),
        unit: 'req/s',
        display: `${tokenRps.toFixed(1)} /s (p50 ${median(tokenRuns.map((x) => x.p50_ms))} ms; one scrypt ${oneHash.toFixed(0)} ms)`,
        target: 'reported',
        status: 'reported',
        details: {
          runs: tokenRuns,
          one_scrypt_hash_ms: round(oneHash, 1),
          scrypt: 'N=2^16, r=8, p=1: 64 MiB and about one core for the duration of each hash',
          ceiling_per_s_on_this_machine: round((2 * 1000) / oneHash, 1),
        },
      },
    ]
  } finally {
    await stop(api.child)
    await stop(bare.child)
    await stop(floor.child)
  }
}
