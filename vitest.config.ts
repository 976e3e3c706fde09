import { availableParallelism } from 'node:os'

import { defineConfig } from 'vitest/config'

// CI reads the counts from a JSON report (see .ci/run); people get the usual summary.
const reportForCi = Boolean(process.env['CI'])
const postgresUrl = process.env['CRYPTORG_TEST_PG']
// Names this run's Postgres schemas (see test/helpers/backend.ts).
// The global setup, which drops the schemas at the end, runs in this process; and this file is
// read more than once per run, so the first reading picks the id.
const runId = (process.env['CRYPTORG_TEST_RUN'] ??= Date.now().toString(36))

/**
 * Test files about SQLite itself, which the Postgres project leaves out: its files, pragmas and
 * lock waits (test/db), and CLI processes sharing one SQLite file (WAL, raw inserts through
 * better-sqlite3, several daemons on one file). Postgres has its own in test/db/postgres.test.ts
 * and test/e2e/postgres-cluster.test.ts.
 */
const SQLITE_ONLY = [
  'test/db/open.test.ts',
  'test/db/storage-errors.test.ts',
  'test/db/write-contention.test.ts',
  'test/e2e/cli-process.test.ts',
  'test/e2e/daemon-cluster.test.ts',
]

// Said once, however often the file is read.
if (!postgresUrl && !process.env['CRYPTORG_TEST_PG_SKIP_SAID']) {
  process.env['CRYPTORG_TEST_PG_SKIP_SAID'] = '1'
  // test/db/postgres.test.ts then shows its Postgres tests as skipped.
  console.warn(
    'cryptorg: CRYPTORG_TEST_PG is not set, so the Postgres suite is skipped ' +
      '(SQLite only). See the README to run both.',
  )
}

export default defineConfig({
  test: {
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Much of a test's time is spent waiting on child processes and on the Postgres server, so
    // one worker per core (vitest's default is one fewer); one more made timing-sensitive
    // tests flaky on two cores.
    maxWorkers: Math.max(2, availableParallelism()),
    reporters: reportForCi ? ['default', 'json'] : ['default'],
    ...(reportForCi && { outputFile: { json: '.test-results.json' } }),
    projects: [
      { extends: true as const, test: { name: 'sqlite', include: ['test/**/*.test.ts'] } },
      ...(postgresUrl
        ? [
            {
              extends: true as const,
              test: {
                name: 'postgres',
                include: ['test/**/*.test.ts'],
                exclude: SQLITE_ONLY,
                env: { CRYPTORG_TEST_BACKEND: 'postgres', CRYPTORG_TEST_RUN: runId },
                setupFiles: ['test/setup/postgres.ts'],
                globalSetup: ['test/setup/postgres-global.ts'],
              },
            },
          ]
        : []),
    ],
  },
})
