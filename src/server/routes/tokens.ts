/**
 * SimpleJWT's endpoints: obtain a pair, refresh (rotating the refresh token), verify, and
 * blacklist (sign out).
 *
 * @module
 */
import type { Hono } from 'hono'

import { isCryptorgError } from '../../errors.js'
import { readJsonBody, requiredString, requiredStrings } from '../body.js'
import type { AppEnv, ServerDeps } from '../context.js'
import { clientAddress } from '../request-info.js'

export function registerTokenRoutes(app: Hono<AppEnv>, deps: ServerDeps): void {
  const { cryptorg, throttle } = deps

  app.post('/api/token', async (c) => {
    const body = await readJsonBody(c.req.raw)
    const { username, password } = requiredStrings(body, ['username', 'password'])
    const address = clientAddress(c)
    throttle.check(username, address)
    try {
      const pair = await cryptorg.auth.login(username, password)
      throttle.succeeded(username, address)
      c.set('user', { kind: 'user', id: pair.user.id, username: pair.user.username })
      return c.json({ access: pair.access, refresh: pair.refresh })
    } catch (error) {
      if (isCryptorgError(error) && error.code === 'ERR_UNAUTHENTICATED') {
        throttle.failed(username, address)
      }
      throw error
    }
  })

  app.post('/api/token/refresh', async (c) => {
    const body = await readJsonBody(c.req.raw)
    const pair = await cryptorg.auth.refresh(requiredString(body, 'refresh'))
    return c.json({ access: pair.access, refresh: pair.refresh })
  })

  app.post('/api/token/verify', async (c) => {
    const body = await readJsonBody(c.req.raw)
    await cryptorg.auth.verify(requiredString(body, 'token'))
    return c.json({})
  })

  app.post('/api/token/blacklist', async (c) => {
    const body = await readJsonBody(c.req.raw)
    await cryptorg.auth.logout(requiredString(body, 'refresh'))
    return c.json({})
  })
}
