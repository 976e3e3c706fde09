#!/usr/bin/env node
// Thin shim over the bundled CLI (see scripts/bundle-cli.js): one file to load instead of
// hundreds keeps every command's start-up short.
import { main } from '../dist/cli-bundle/main.js'

process.exitCode = await main(process.argv.slice(2))
