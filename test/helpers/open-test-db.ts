/**
 * Opens cryptorg for tests that must never reach the network: CoinGecko points at a loopback
 * address and `fetch` refuses every call, so even a stray tick cannot leave the machine.
 *
 * @module
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { type Cryptorg, type FetchLike, type OpenOptions, open } from '../../src/index.js'
import { fakeClock } from './fake-clock.js'

/** A fetch that fails the test's request instead of sending anything. */
export const noNetworkFetch: FetchLike = async (input) => {
  throw new Error(`network disabled in this test (request to ${String(input)})`)
}

/** open() with an in-memory database, a fixed clock and no network, unless overridden. */
export function openTestDb(overrides: Partial<OpenOptions> = {}): Promise<Cryptorg> {
  return open({
    databasePath: ':memory:',
    clock: fakeClock(),
    fetch: noNetworkFetch,
    coingecko: { baseUrl: 'http://127.0.0.1:9/api/v3' },
    ...overrides,
  })
}

/** A fresh temporary directory; `remove()` deletes it with its content. */
export function tempDir(prefix = 'cryptorg-test-'): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix))
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) }
}
