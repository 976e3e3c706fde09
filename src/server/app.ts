/**
 * The HTTP application: the seed's REST API over the core library. Routes only translate
 * between HTTP and the core; permissions, validation and isolation are the core's.
 *
 * @module
 */
import { Hono } from 'hono'
import { routePath } from 'hono/route'

import { type CryptorgError, isCryptorgError, toCryptorgError } from '../errors.js'
import { type AppEnv, type ServerDeps } from './context.js'
import { ROUTES } from './openapi.js'
import { answerFor } from './problems.js'
import { registerOpsRoutes } from './routes/ops.js'
import { registerOrganizationRoutes } from './routes/organizations.js'
import { registerPriceRoutes } from './routes/prices.js'
import { registerTokenRoutes } from './routes/tokens.js'

let requestCounter = 0

export function createApp(deps: ServerDeps): Hono<AppEnv> {
  // Not strict: `/api/organizations` and `/api/organizations/` are the same route.
  const app = new Hono<AppEnv>({ strict: false })

  app.use('*', async (c, next) => {
    const started = performance.now()
    c.set('requestId', `${process.pid.toString(36)}-${(++requestCounter).toString(36)}`)
    c.set('user', undefined)
    await next()
    const seconds = (performance.now() - started) / 1000
    // The route pattern, never the raw path: metric labels must stay few.
    // After next(), the route index is the one of the handler that answered.
    const matched = routePath(c)
    // Only the logging middleware matched (`/*`): no route, whatever the path was.
    const route = matched && matched !== '*' && matched !== '/*' ? matched : 'unmatched'
    deps.metrics.observe(route, c.req.method, c.res.status, seconds)
    const user = c.get('user')
    // The path only: query strings may carry things that do not belong in a log.
    const path = new URL(c.req.url).pathname
    deps.logger.info(
      `${c.req.method} ${path} ${c.res.status} ${(seconds * 1000).toFixed(1)}ms` +
        (user ? ` ${user.username}` : ''),
      {
        request_id: c.get('requestId'),
        method: c.req.method,
        path,
        status: c.res.status,
        duration_ms: Math.round(seconds * 10_000) / 10,
        user: user?.username ?? null,
      },
    )
  })

  // A known path with a method it does not have: 405 naming the methods it does have. Checked
  // before the routes run, and in ROUTES order, so that `PUT /api/crypto-prices/latest/` is a
  // 405 of the `latest` path and not a price lookup of `/api/crypto-prices/{id}/`.
  for (const [path, operations] of Object.entries(ROUTES)) {
    const allowed = Object.keys(operations).map((m) => m.toUpperCase())
    if (allowed.includes('GET')) allowed.push('HEAD')
    app.use(toHonoPath(path), async (c, next) => {
      if (allowed.includes(c.req.method)) return next()
      return c.json(
        { detail: `method ${c.req.method} not allowed`, code: 'method_not_allowed' },
        405,
        { Allow: allowed.join(', ') },
      )
    })
  }

  registerTokenRoutes(app, deps)
  registerOrganizationRoutes(app, deps)
  registerPriceRoutes(app, deps)
  registerOpsRoutes(app, deps)

  app.notFound((c) => c.json({ detail: 'not found', code: 'not_found' }, 404))

  app.onError((error, c) => {
    const known: CryptorgError = isCryptorgError(error) ? error : toCryptorgError(error)
    const problem = answerFor(known)
    if (problem.status >= 500) {
      deps.logger.error(`request failed: ${known.message}`, {
        request_id: c.get('requestId'),
        code: known.code,
        error: describe(error),
      })
    }
    return c.json(problem.body, problem.status as 400, problem.headers)
  })

  return app
}

/** `/api/organizations/{id}/` -> `/api/organizations/:id` */
export function toHonoPath(path: string): string {
  const converted = path.replace(/\{(\w+)\}/g, ':$1')
  return converted.length > 1 ? converted.replace(/\/$/, '') : converted
}

function describe(error: unknown): string {
  const parts: string[] = []
  for (let current = error, depth = 0; current && depth < 4; depth++) {
    parts.push(current instanceof Error ? `${current.name}: ${current.message}` : String(current))
    current = (current as { cause?: unknown }).cause
  }
  return parts.join(' <- ')
}
