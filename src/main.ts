import { runCli } from './cli/program.js';

/** Process entry for `npm start`: the same as `cost-guardian serve`. */
process.exitCode = await runCli([process.argv[0] ?? 'node', process.argv[1] ?? 'main', 'serve'], {
  env: process.env,
  cwd: process.cwd(),
  stdout: process.stdout,
  stderr: process.stderr,
});
