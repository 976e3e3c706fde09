/**
 * Crypto prices: a paginated, filtered list across the organizations the caller sees, single
 * prices by id, and the newest price of each symbol of one organization.
 *
 * @module
 */
import type { Hono } from 'hono'

import { isUuid } from '../../core/validate.js'
import { MAX_LIST_OFFSET, type PriceListOptions } from '../../core/prices.js'
import { validationError } from '../../errors.js'
import { optionalString, priceField, readJsonBody, requiredString } from '../body.js'
import { type AppContext, type AppEnv, type ServerDeps, workspaceOf } from '../context.js'

/** Page size when `limit` is absent, and the largest one accepted. */
export const DEFAULT_PAGE_SIZE = 100
export const MAX_PAGE_SIZE = 1000

export function registerPriceRoutes(app: Hono<AppEnv>, deps: ServerDeps): void {
  const workspace = (c: AppContext) => workspaceOf(deps, c)

  app.get('/api/crypto-prices/latest', async (c) => {
    const w = await workspace(c)
    const orgId = c.req.query('org_id')
    if (orgId === undefined || orgId.trim() === '') {
      throw validationError(
        'org_id',
        'org_id is required: GET /api/crypto-prices/latest/?org_id=<uuid>',
      )
    }
    if (!isUuid(orgId.trim())) {
      throw validationError('org_id', `org_id must be an organization's UUID`)
    }
    return c.json(await w.prices.latest(orgId.trim()))
  })

  app.get('/api/crypto-prices', async (c) => {
    const w = await workspace(c)
    const query = c.req.query()
    const limit = pageNumber(query['limit'], 'limit', 1, MAX_PAGE_SIZE) ?? DEFAULT_PAGE_SIZE
    const offset = pageNumber(query['offset'], 'offset', 0, MAX_LIST_OFFSET) ?? 0
    const options: PriceListOptions = { limit, offset }
    const orgId = query['org_id']
    if (orgId !== undefined) {
      if (!isUuid(orgId.trim()))
        throw validationError('org_id', `org_id must be an organization's UUID`)
      options.org = orgId.trim()
    }
    if (query['symbol'] !== undefined) options.symbol = query['symbol']
    if (query['since'] !== undefined) options.since = query['since']
    if (query['until'] !== undefined) options.until = query['until']
    const page = await w.prices.list(options)
    const link = (at: number) => {
      const url = new URL(c.req.url)
      url.searchParams.set('limit', String(limit))
      url.searchParams.set('offset', String(at))
      return url.toString()
    }
    return c.json({
      count: page.count,
      next: offset + limit < page.count ? link(offset + limit) : null,
      previous: offset > 0 ? link(Math.max(0, offset - limit)) : null,
      results: page.results,
    })
  })

  app.post('/api/crypto-prices', async (c) => {
    const w = await workspace(c)
    const body = await readJsonBody(c.req.raw)
    const org = requiredUuid(body, 'org_id')
    const symbol = requiredString(body, 'symbol')
    const price = priceField(body, 'price', true) as string
    const currency = optionalString(body, 'currency')
    const created = await w.prices.add({
      org,
      symbol,
      price,
      ...(currency !== undefined && { currency }),
    })
    return c.json(created, 201)
  })

  app.get('/api/crypto-prices/:id', async (c) => {
    const w = await workspace(c)
    return c.json(await w.prices.get(c.req.param('id')))
  })

  const update = (partial: boolean) => async (c: AppContext) => {
    const w = await workspace(c)
    const id = c.req.param('id') ?? ''
    // Unknown ids answer 404 before the body is looked at, as for a GET.
    await w.prices.get(id)
    const body = await readJsonBody(c.req.raw)
    const org = partial ? optionalUuid(body, 'org_id') : requiredUuid(body, 'org_id')
    const symbol = partial ? optionalString(body, 'symbol') : requiredString(body, 'symbol')
    const price = priceField(body, 'price', !partial)
    const currency = optionalString(body, 'currency')
    return c.json(
      await w.prices.update(id, {
        ...(org !== undefined && { org }),
        ...(symbol !== undefined && { symbol }),
        ...(price !== undefined && { price }),
        ...(currency !== undefined && { currency }),
      }),
    )
  }
  app.put('/api/crypto-prices/:id', update(false))
  app.patch('/api/crypto-prices/:id', update(true))

  app.delete('/api/crypto-prices/:id', async (c) => {
    const w = await workspace(c)
    await w.prices.delete(c.req.param('id'))
    return c.body(null, 204)
  })
}

function pageNumber(value: string | undefined, field: string, min: number, max: number) {
  if (value === undefined) return undefined
  if (!/^\d{1,9}$/.test(value.trim()) || Number(value) < min || Number(value) > max) {
    throw validationError(field, `${field} must be a whole number from ${min} to ${max}`)
  }
  return Number(value)
}

function requiredUuid(body: Parameters<typeof requiredString>[0], field: string): string {
  const value = requiredString(body, field).trim()
  if (!isUuid(value)) throw validationError(field, `${field} must be an organization's UUID`)
  return value
}

function optionalUuid(body: Parameters<typeof requiredString>[0], field: string) {
  const value = optionalString(body, field)
  if (value === undefined) return undefined
  if (!isUuid(value.trim())) throw validationError(field, `${field} must be an organization's UUID`)
  return value.trim()
}
