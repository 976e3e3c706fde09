#!/usr/bin/env node
// Thin shim: the CLI lives in the compiled library so the binary and `import('cryptorg')`
// share one build.
import { main } from '../dist/cli/main.js'

process.exitCode = await main(process.argv.slice(2))
