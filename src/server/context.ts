/**
 * What every route handler receives: the installation, the signed-in workspace (once the
 * bearer token is checked), and the request's own facts for logging.
 *
 * @module
 */
import type { Context } from 'hono'

import type { UserActor } from '../core/actor.js'
import type { Clock, Logger } from '../deps.js'
import { CryptorgError } from '../errors.js'
import type { Cryptorg, Workspace } from '../open.js'
import type { Metrics } from './metrics.js'
import type { LoginThrottle } from './throttle.js'

export interface ServerDeps {
  cryptorg: Cryptorg
  clock: Clock
  logger: Logger
  metrics: Metrics
  throttle: LoginThrottle
  /** How stale the newest tick may be before /readyz fails; none when no daemon runs here. */
  readyTickAgeMs?: number
}

export type AppEnv = {
  Variables: {
    requestId: string
    user: UserActor | undefined
  }
}

export type AppContext = Context<AppEnv>

/** Checks the `Authorization: Bearer` header and returns the user's workspace. */
export async function workspaceOf(deps: ServerDeps, c: AppContext): Promise<Workspace> {
  const header = c.req.header('authorization')
  if (header === undefined || header.trim() === '') {
    throw new CryptorgError('ERR_UNAUTHENTICATED', 'authentication credentials were not provided', {
      details: { reason: 'missing' },
    })
  }
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header)
  if (!match) {
    throw new CryptorgError(
      'ERR_UNAUTHENTICATED',
      'the Authorization header must be "Bearer <access token>"',
      { details: { reason: 'malformed' } },
    )
  }
  const actor = await deps.cryptorg.auth.authenticate(match[1] as string)
  c.set('user', actor)
  return deps.cryptorg.as(actor)
}
