// Cases found by trying to break the server (src/server/body.ts, throttle.ts, routes/tokens.ts,
// and the core rules they lean on): hostile numbers, parallel guessing, odd text.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { alterBehindTheBack } from '../helpers/db-rows.js'

import {
  type Harness,
  PASSWORDS,
  api,
  checkObservedStatuses,
  seedOrgs,
  startHarness,
} from './support.js'

let h: Harness
let seeded: Awaited<ReturnType<typeof seedOrgs>>

beforeAll(async () => {
  h = await startHarness()
  seeded = await seedOrgs(h)
})
afterAll(async () => {
  await h.close()
  checkObservedStatuses()
})

const postPrice = (price: unknown) =>
  api('POST', '/api/crypto-prices/', {
    token: h.tokens['alice'],
    body: `{"org_id":"${seeded.acme.id}","symbol":"TST","price":${price}}`,
  })

describe('prices that would cost the server time or memory', () => {
  it.each(['1e2000000000', '1e-2000000', '1e1000000', '1e-999999', '1e41'])(
    'refuses the JSON number %s with a 400, at once',
    async (number) => {
      const response = await postPrice(number)
      expect(response.status).toBe(400)
      expect(response.json).toEqual({ price: [expect.stringContaining('price')] })
    },
  )

  it('refuses a price string of 80,000 digits with a 400 naming the length rule', async () => {
    const response = await postPrice(JSON.stringify('1'.repeat(80_000)))
    expect(response).toMatchObject({
      status: 400,
      json: { price: ['price must be at most 64 characters'] },
    })
    // The server is still answering at once.
    expect((await api('GET', '/healthz')).status).toBe(200)
  })
})

describe('parallel password guessing', () => {
  it('lets no more than five guesses for one username through at the same time', async () => {
    const guesses = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        api('POST', '/api/token/', { body: { username: 'frank', password: `guess ${i}` } }),
      ),
    )
    const statuses = guesses.map((g) => g.status).sort()
    expect(statuses.filter((s) => s === 401)).toHaveLength(5)
    expect(statuses.filter((s) => s === 429)).toHaveLength(15)
    // The right password of another user from the same address still works.
    const other = await api('POST', '/api/token/', {
      body: { username: 'dave', password: PASSWORDS['dave'] },
    })
    expect(other.status).toBe(200)
  })
})

describe('text that is not well formed', () => {
  it('refuses an organization name with half a UTF-16 pair', async () => {
    const response = await api('POST', '/api/organizations/', {
      token: h.tokens['bob'],
      body: '{"name":"Sur\\ud800"}',
    })
    expect(response).toMatchObject({
      status: 400,
      json: { name: ['name must not contain unpaired surrogate code units'] },
    })
  })
})

describe('editing a price the daemon stored', () => {
  it('turns it into a manual price', async () => {
    const tick = await h.c.system.prices.add({ org: seeded.acme.id, symbol: 'ETH', price: '1' })
    // As a tick stores it: the library adds only manual prices.
    await alterBehindTheBack(
      h.path,
      `update crypto_prices set source = 'coingecko' where id = ${Number(tick.id)}`,
    )
    expect(
      (await api('GET', `/api/crypto-prices/${tick.id}/`, { token: h.tokens['alice'] })).json,
    ).toMatchObject({ source: 'coingecko' })
    const edited = await api('PATCH', `/api/crypto-prices/${tick.id}/`, {
      token: h.tokens['alice'],
      body: { price: '2' },
    })
    expect(edited).toMatchObject({ status: 200, json: { price: '2.0000000000', source: 'manual' } })
  })
})
