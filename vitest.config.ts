import { defineConfig } from 'vitest/config'

// CI reads the counts from a JSON report (see .ci/run); people get the usual summary.
const reportForCi = Boolean(process.env['CI'])

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    reporters: reportForCi ? ['default', 'json'] : ['default'],
    ...(reportForCi && { outputFile: { json: '.test-results.json' } }),
  },
})
