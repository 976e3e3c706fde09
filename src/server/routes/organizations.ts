/**
 * Organizations and their members, as the seed's API and DRF's routers lay them out.
 *
 * @module
 */
import type { Hono } from 'hono'

import type { Role } from '../../db/schema.js'
import type { OrgOrdering } from '../../core/orgs.js'
import { isUuid, normalizeOrgName } from '../../core/validate.js'
import { CryptorgError } from '../../errors.js'
import { optionalString, readJsonBody, requiredString } from '../body.js'
import { type AppContext, type AppEnv, type ServerDeps, workspaceOf } from '../context.js'

export function registerOrganizationRoutes(app: Hono<AppEnv>, deps: ServerDeps): void {
  const workspace = (c: AppContext) => workspaceOf(deps, c)

  app.get('/api/organizations', async (c) => {
    const w = await workspace(c)
    const search = c.req.query('search')
    const ordering = c.req.query('ordering')
    const orgs = await w.orgs.list({
      ...(search !== undefined && { search }),
      ...(ordering !== undefined && { ordering: ordering as OrgOrdering }),
    })
    return c.json(orgs)
  })

  app.post('/api/organizations', async (c) => {
    const w = await workspace(c)
    const body = await readJsonBody(c.req.raw)
    return c.json(await w.orgs.create(requiredString(body, 'name')), 201)
  })

  app.get('/api/organizations/:id', async (c) => {
    const w = await workspace(c)
    return c.json(await w.orgs.get(orgId(c)))
  })

  const update = (partial: boolean) => async (c: AppContext) => {
    const w = await workspace(c)
    const id = orgId(c)
    const body = await readJsonBody(c.req.raw)
    const name = partial ? optionalString(body, 'name') : requiredString(body, 'name')
    if (name === undefined) return c.json(await w.orgs.get(id))
    // Checked here under the field's own name: the core calls it `new name`.
    normalizeOrgName(name, 'name')
    return c.json(await w.orgs.rename(id, name))
  }
  app.put('/api/organizations/:id', update(false))
  app.patch('/api/organizations/:id', update(true))

  app.delete('/api/organizations/:id', async (c) => {
    const w = await workspace(c)
    await w.orgs.delete(orgId(c))
    return c.body(null, 204)
  })

  app.get('/api/organizations/:id/members', async (c) => {
    const w = await workspace(c)
    return c.json(await w.members.list(orgId(c)))
  })

  app.post('/api/organizations/:id/members', async (c) => {
    const w = await workspace(c)
    const id = orgId(c)
    const body = await readJsonBody(c.req.raw)
    const username = requiredString(body, 'username')
    const role = optionalString(body, 'role') ?? 'member'
    return c.json(await w.members.add(id, username, role as Role), 201)
  })

  app.patch('/api/organizations/:id/members/:username', async (c) => {
    const w = await workspace(c)
    const id = orgId(c)
    const body = await readJsonBody(c.req.raw)
    const role = requiredString(body, 'role')
    return c.json(await w.members.setRole(id, c.req.param('username'), role as Role))
  })

  app.delete('/api/organizations/:id/members/:username', async (c) => {
    const w = await workspace(c)
    await w.members.remove(orgId(c), c.req.param('username'))
    return c.body(null, 204)
  })
}

/** The organization id from the path: anything but a UUID names no organization. */
function orgId(c: AppContext): string {
  const id = c.req.param('id') ?? ''
  if (!isUuid(id)) {
    throw new CryptorgError('ERR_NOT_FOUND', 'organization not found', { details: { org: id } })
  }
  return id
}
