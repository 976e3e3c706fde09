#!/usr/bin/env node
// Bundles the compiled CLI (dist/cli/main.js) into a few files under dist/cli-bundle/. Node 20
// loads an ES module graph file by file, and kysely alone is close to 300 files: about 0.2 s of
// every command's start-up. One file loads in a tenth of that. Modules the CLI imports lazily
// (prompts, the keychain, the HTTP server) stay in chunks of their own, loaded only when used.
// The library (dist/index.js) is not bundled: its users' own tools decide about that.
import { rm } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'

import { build } from 'rolldown'

const root = fileURLToPath(new URL('..', import.meta.url))
const outDir = `${root}dist/cli-bundle`

await rm(outDir, { recursive: true, force: true })
await build({
  input: `${root}dist/cli/main.js`,
  platform: 'node',
  // Native addons are loaded from node_modules at run time, never bundled.
  external: [/^node:/, 'better-sqlite3', '@napi-rs/keyring'],
  logLevel: 'warn',
  output: {
    dir: outDir,
    format: 'esm',
    entryFileNames: 'main.js',
    chunkFileNames: '[name]-[hash].js',
    sourcemap: false,
  },
})
