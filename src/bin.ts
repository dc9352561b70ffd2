#!/usr/bin/env node
/** The package's command-line tool (`bin`): see `cli.ts`. */
import { runCli } from "./cli.js"

const { code, stdout, stderr } = await runCli(process.argv.slice(2))
for (const line of stderr) console.error(line)
for (const line of stdout) console.log(line)
process.exitCode = code
