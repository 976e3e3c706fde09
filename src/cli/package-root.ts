/**
 * Files of the installed package (its executable, its package.json), found from wherever this
 * code runs: src/cli/ under vitest, dist/cli/ as compiled, or dist/cli-bundle/ as bundled. The
 * depth differs between those, so the folder is found by walking up to our own package.json
 * instead of counting `../`.
 *
 * @module
 */
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

let root: string | undefined

/** The folder holding cryptorg's package.json. */
export function packageRoot(): string {
  if (root !== undefined) return root
  let directory = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const candidate = join(directory, 'package.json')
    if (existsSync(candidate) && isOurs(candidate)) return (root = directory)
    const parent = dirname(directory)
    if (parent === directory) throw new Error('cryptorg: cannot find its own package.json')
    directory = parent
  }
}

function isOurs(path: string): boolean {
  try {
    return (JSON.parse(readFileSync(path, 'utf8')) as { name?: unknown }).name === 'cryptorg'
  } catch {
    return false
  }
}

/** A path inside the package, such as `bin/cryptorg.js`. */
export function packageFile(relative: string): string {
  return join(packageRoot(), relative)
}
