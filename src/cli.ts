#!/usr/bin/env node
import { runCli } from './cli/program.js';

/** The `cost-guardian` command (package.json `bin`). `cost-guardian --help` lists the commands. */
process.exitCode = await runCli(process.argv, {
  env: process.env,
  cwd: process.cwd(),
  stdout: process.stdout,
  stderr: process.stderr,
});
