#!/usr/bin/env node
// Bundles the compiled CLI (dist/cli/main.js) into a few files under dist/cli-bundle/. Node 20
// loads an ES module graph file by file, and kysely alone is close to 300 files: about 0.2 s of
// every command's start-up. One file loads in a tenth of that. Modules the CLI imports lazily
// (prompts, the keychain, the HTTP server) stay in chunks of their own, loaded only when used.
// The bundle is CommonJS, not ES modules, for one reason: Node 20 can compile CommonJS with a V8
// code cache (see src/cli/compile-cache.ts) but has no way to do so for ES modules.
// The library (dist/index.js) is not bundled: its users' own tools decide about that.
import { rm } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'

import { build } from 'rolldown'

const root = fileURLToPath(new URL('..', import.meta.url))
const outDir = `${root}dist/cli-bundle`

/**
 * commander requires node:child_process as it loads, for git-style subcommands that run other
 * executables; cryptorg has none, and loading child_process costs every command a few ms of
 * start-up. The require is moved to the moment a process would be spawned. The build fails if a
 * new commander no longer has the line, rather than bundling it unchanged unnoticed.
 */
const lazyChildProcessInCommander = {
  name: 'cryptorg:lazy-child-process-in-commander',
  transform(code, id) {
    if (!id.replaceAll('\\', '/').endsWith('/node_modules/commander/lib/command.js')) return null
    const eager = "const childProcess = require('node:child_process');"
    if (!code.includes(eager)) {
      throw new Error(`${id}: the child_process require to defer was not found`)
    }
    const lazy =
      'const childProcess = { spawn: (...args) => require("node:child_process").spawn(...args) };'
    return code.replace(eager, lazy)
  },
}

await rm(outDir, { recursive: true, force: true })
await build({
  input: `${root}dist/cli/main.js`,
  platform: 'node',
  // Native addons are loaded from node_modules at run time, never bundled. better-sqlite3's
  // JavaScript is bundled (a dozen files less to find and compile on every command); its addon
  // is loaded by path (src/db/sqlite.ts), so its `bindings` search is never run.
  external: [/^node:/, /\.node$/, 'bindings', '@napi-rs/keyring'],
  logLevel: 'warn',
  plugins: [lazyChildProcessInCommander],
  output: {
    dir: outDir,
    format: 'cjs',
    // import() of a builtin becomes require() too: the bin compiles these files with vm.Script,
    // where import() fails without an experimental flag (src/cli/compile-cache.ts).
    dynamicImportInCjs: false,
    // Every command reads, hashes (for the code cache) and hands V8 the whole text: JSDoc goes
    // (licence comments stay), and ASCII-only text is a one-byte string, quicker to decode.
    comments: { legal: true, annotation: false, jsdoc: false },
    charset: 'ascii',
    entryFileNames: 'main.cjs',
    chunkFileNames: '[name]-[hash].cjs',
    sourcemap: false,
  },
})

// The bundle's loader with its code cache, as one CommonJS file the CommonJS bin can require
// (src/cli/compile-cache.ts).
await build({
  input: `${root}dist/cli/compile-cache.js`,
  platform: 'node',
  external: [/^node:/],
  logLevel: 'warn',
  output: { file: `${outDir}/compile-cache.cjs`, format: 'cjs', sourcemap: false },
})
