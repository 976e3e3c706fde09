/**
 * What operators and load balancers poll: liveness, readiness, Prometheus metrics, and the
 * OpenAPI description of the API.
 *
 * @module
 */
import type { Hono } from 'hono'

import type { AppEnv, ServerDeps } from '../context.js'
import { openApiDocument } from '../openapi.js'

export function registerOpsRoutes(app: Hono<AppEnv>, deps: ServerDeps): void {
  const { cryptorg, clock, metrics } = deps

  app.get('/healthz', (c) => c.json({ status: 'ok' }))

  app.get('/readyz', async (c) => {
    let status
    try {
      status = await cryptorg.poller.status()
    } catch {
      return c.json({ status: 'unavailable', database: 'unreachable' }, 503)
    }
    const lastSuccess = status.last_success?.finished_at ?? null
    const ageSeconds =
      lastSuccess === null ? null : (clock.now().getTime() - Date.parse(lastSuccess)) / 1000
    const stale =
      deps.readyTickAgeMs !== undefined &&
      (ageSeconds === null || ageSeconds * 1000 > deps.readyTickAgeMs)
    return c.json(
      {
        status: stale ? 'stale' : 'ready',
        database: 'ok',
        last_tick_at: lastSuccess,
        last_tick_age_seconds: ageSeconds === null ? null : Math.round(ageSeconds),
      },
      stale ? 503 : 200,
    )
  })

  app.get('/metrics', async (c) => {
    const extra: string[] = []
    try {
      const status = await cryptorg.poller.status()
      extra.push(
        '# HELP cryptorg_daemon_last_success_timestamp_seconds When the newest successful tick finished.',
        '# TYPE cryptorg_daemon_last_success_timestamp_seconds gauge',
        `cryptorg_daemon_last_success_timestamp_seconds ${
          status.last_success ? Date.parse(status.last_success.finished_at) / 1000 : 0
        }`,
        '# HELP cryptorg_daemon_ticks_recorded Ticks recorded (kept 30 days), by outcome.',
        '# TYPE cryptorg_daemon_ticks_recorded gauge',
        `cryptorg_daemon_ticks_recorded{outcome="ok"} ${status.tick_counts.ok}`,
        `cryptorg_daemon_ticks_recorded{outcome="failed"} ${status.tick_counts.failed}`,
      )
    } catch {
      extra.push('# the daemon figures are missing: the database could not be read')
    }
    return c.body(metrics.render(extra), 200, {
      'Content-Type': 'text/plain; version=0.0.4; charset=utf-8',
    })
  })

  app.get('/api/schema', (c) => c.json(openApiDocument()))
}
