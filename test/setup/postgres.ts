/**
 * Setup file of the `postgres` project: every open() a test makes, whatever file path or
 * `:memory:` it names, opens a schema of its own in the CRYPTORG_TEST_PG database instead.
 */
import { vi } from 'vitest'

import { isPostgresUrl } from '../../src/db/location.js'
import { postgresFor } from '../helpers/backend.js'

vi.mock('../../src/open.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../src/open.js')>()
  return {
    ...original,
    async open(options: import('../../src/open.js').OpenOptions) {
      const location = options?.database ?? options?.databasePath
      // A test that writes `sqlite:` (or a postgres:// URL) means that backend and no other.
      const explicit =
        typeof location === 'string' && (isPostgresUrl(location) || location.startsWith('sqlite:'))
      if (typeof location !== 'string' || location === '' || explicit) {
        return original.open(options)
      }
      const { databasePath: _path, ...rest } = options
      return original.open({ ...rest, database: await postgresFor(location) })
    },
  }
})
