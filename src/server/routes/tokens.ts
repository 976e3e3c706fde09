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
import { createSemaphore } from '../semaphore.js'

export function registerTokenRoutes(app: Hono<AppEnv>, deps: ServerDeps): void {
  const { cryptorg, throttle } = deps
  // Each sign-in hashes a password on libuv's thread pool (4 threads by default): two at a
  // time leaves the rest to token checks and everything else, even under a login flood.
  const hashing = createSemaphore(2)

  app.post('/api/token', async (c) => {
    const body = await readJsonBody(c.req.raw)
    const { username, password } = requiredStrings(body, ['username', 'password'])
    const attempt = throttle.begin(username, clientAddress(c))
    try {
      const pair = await hashing.run(() => cryptorg.auth.login(username, password))
      attempt.settle('ok')
      c.set('user', { kind: 'user', id: pair.user.id, username: pair.user.username })
      return c.json({ access: pair.access, refresh: pair.refresh })
    } catch (error) {
      const wrong = isCryptorgError(error) && error.code === 'ERR_UNAUTHENTICATED'
      attempt.settle(wrong ? 'failed' : 'other')
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
