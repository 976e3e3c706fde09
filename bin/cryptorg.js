#!/usr/bin/env node
// The executable: loads the bundled CLI (scripts/bundle-cli.js) with a V8 code cache
// (src/cli/compile-cache.ts), so that a command does not compile a megabyte of JavaScript anew.
// It is CommonJS (bin/package.json), unlike the rest of the package: node starts a CommonJS
// entry point without setting up its ES module loader, which every command would pay for.
'use strict'

const { homedir } = require('node:os')
const { join } = require('node:path')

const bundle = join(__dirname, '..', 'dist', 'cli-bundle')
const { compileCacheDirectory, loadBundle } = require(join(bundle, 'compile-cache.cjs'))

let home = ''
try {
  home = homedir()
} catch {
  // A user with neither HOME nor a passwd entry: no default cache folder, nothing else changes.
}
const cache = compileCacheDirectory(process.env, home, process.platform, {
  version: process.version,
  arch: process.arch,
  flags: [...process.execArgv, process.env.NODE_OPTIONS ?? ''],
})

loadBundle(join(bundle, 'main.cjs'), cache)
  .main(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code
  })
