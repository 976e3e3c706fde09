// Where things are: the repository root, the built library, the data cache.
import { fileURLToPath } from 'node:url'
import { dirname, join, resolve } from 'node:path'

export const BENCH_DIR = dirname(dirname(fileURLToPath(import.meta.url)))
export const ROOT = dirname(BENCH_DIR)
/**
 * The built package under test. CRYPTORG_BENCH_DIST points the library scenarios at another
 * build (a copy of dist/ with a change applied), to measure a proposed change before making it.
 */
export const DIST = process.env.CRYPTORG_BENCH_DIST
  ? resolve(process.env.CRYPTORG_BENCH_DIST)
  : join(ROOT, 'dist')
export const BIN = join(ROOT, 'bin', 'cryptorg.js')
export const DATA_DIR = join(BENCH_DIR, '.data')
export const RESULTS_DIR = join(BENCH_DIR, 'results')
export const WORKERS_DIR = join(BENCH_DIR, 'workers')

/** The built library's entry points, as file URLs for import(). */
export const LIBRARY_URL = new URL(`file://${join(DIST, 'index.js')}`).href
export const SERVER_URL = new URL(`file://${join(DIST, 'server', 'index.js')}`).href

export const importLibrary = () => import(LIBRARY_URL)
export const importServer = () => import(SERVER_URL)
