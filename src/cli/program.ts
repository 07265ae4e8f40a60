import { Command, CommanderError } from 'commander';
import { VERSION } from '../version.js';
import { type BackupCommandOptions, backupCommand } from './backup.js';
import {
  type BudgetOptions,
  budgetsCreateCommand,
  budgetsDeleteCommand,
  budgetsDeliveriesCommand,
  budgetsListCommand,
  budgetsUpdateCommand,
} from './budgets.js';
import type { CliIo, GlobalOptions } from './context.js';
import { CliError, EXIT, EXIT_SUMMARY, type ExitCode } from './exit-codes.js';
import { type ExportOptions, exportCommand } from './export.js';
import { type ImportOriginalOptions, importOriginalCommand } from './import-original.js';
import { migrateCommand } from './migrate.js';
import { type RepriceOptions, repriceCommand } from './reprice.js';
import { serveCommand } from './serve.js';
import { tokensCreateCommand, tokensDeactivateCommand, tokensListCommand } from './tokens.js';

const EXIT_CODES_HELP = [
  '',
  'Exit status:',
  ...Object.entries(EXIT).map(([name, code]) => `  ${code}  ${EXIT_SUMMARY[name as keyof typeof EXIT]}`),
  '',
  'Configuration comes from the environment (docs/config.md); --db overrides DB_PATH.',
].join('\n');

/** The command tree. Each action records its exit status in `result`. */
function createProgram(io: CliIo, setResult: (code: ExitCode) => void): Command {
  const program = new Command('cost-guardian');
  program
    .description('Cost Guardian: self-hosted cost tracking for LLM API calls.')
    .version(VERSION, '-V, --version')
    .option('--db <path>', 'database file (overrides DB_PATH)')
    .helpCommand(false)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    })
    .addHelpText('after', EXIT_CODES_HELP);

  const globals = (command: Command) => command.optsWithGlobals<GlobalOptions>();
  const run = (work: Promise<ExitCode>) => work.then(setResult);

  program
    .command('serve')
    .description('start the HTTP service (what `npm start` and the container run); stops cleanly on SIGTERM')
    .action((_options, command: Command) => run(serveCommand(io, globals(command))));

  program
    .command('migrate')
    .description('create the database if needed and apply pending schema migrations')
    .option('--dry-run', 'list pending migrations without applying them')
    .action((options: { dryRun?: boolean }, command: Command) =>
      run(migrateCommand(io, globals(command), options)),
    );

  const tokens = program.command('tokens').description('manage tracking tokens');
  tokens
    .command('list')
    .description('list tracking tokens with their usage (token values masked unless --json)')
    .option('--json', 'the entries of GET /ingest/tokens, with full token values')
    .action((options: { json?: boolean }, command: Command) =>
      run(tokensListCommand(io, globals(command), options)),
    );
  tokens
    .command('create')
    .description('create a tracking token and print it')
    .argument('<label>', 'a unique name, 1-64 characters')
    .option('--json', 'print {id, token, label, created_at}')
    .action((label: string, options: { json?: boolean }, command: Command) =>
      run(tokensCreateCommand(io, globals(command), label, options)),
    );
  tokens
    .command('deactivate')
    .description('stop accepting ingest for a tracking token (its history is kept)')
    .argument('<id>', 'token id (see tokens list)')
    .action((id: string, _options, command: Command) =>
      run(tokensDeactivateCommand(io, globals(command), id)),
    );

  const budgets = program.command('budgets').description('manage budgets (see docs/budgets.md)');
  const budgetOptions = (command: Command) =>
    command
      .option('--limit-usd <amount>', 'the limit in USD per window')
      .option('--window <kind>', 'day, week (ISO, from Monday), month, or rolling (default month)')
      .option('--tz <zone>', 'IANA time zone of a day, week or month (default UTC)')
      .option('--hours <n>', 'length of a rolling window in hours')
      .option('--days <n>', 'length of a rolling window in days')
      .option('--token-id <id>', 'only this tracking token')
      .option('--model <name>', 'only this model, or a prefix ending in * (e.g. "gpt-4o*")')
      .option('--provider <id>', 'only this provider')
      .option('--user <id>', 'only this end user')
      .option(
        '--tag <key:value>',
        'only rows with this tag (repeat for several)',
        (v, all: string[] = []) => [...all, v],
      )
      .option('--thresholds <list>', 'alert at these percentages, e.g. 50,80,100 (the default)')
      .option('--forecast-alert', 'also alert when the forecast ends the window over the limit')
      .option('--channel-ids <list>', 'alert channels, e.g. 1,3, or "all" (the default)')
      .option('--json', 'print the budget as the API returns it');
  budgets
    .command('list')
    .description('budgets with their current window, spend, verdict and forecast')
    .option('--json', 'machine-readable output (the GET /budgets shape)')
    .action((options: { json?: boolean }, command: Command) =>
      run(budgetsListCommand(io, globals(command), options)),
    );
  budgetOptions(
    budgets
      .command('create')
      .description('create a budget and count its past')
      .argument('<name>', 'a unique name'),
  ).action((name: string, options: BudgetOptions, command: Command) =>
    run(budgetsCreateCommand(io, globals(command), name, options)),
  );
  budgetOptions(
    budgets
      .command('update')
      .description(
        'change a budget (options left out keep their value; a new scope or window is counted again)',
      )
      .argument('<id>', 'budget id (see budgets list)')
      .option('--name <name>', 'a new name'),
  ).action((id: string, options: BudgetOptions, command: Command) =>
    run(budgetsUpdateCommand(io, globals(command), id, options)),
  );
  budgets
    .command('delete')
    .description('delete a budget (its alerts stay in the log)')
    .argument('<id>', 'budget id')
    .action((id: string, _options, command: Command) => run(budgetsDeleteCommand(io, globals(command), id)));
  budgets
    .command('deliveries')
    .description('the alert delivery log, newest first')
    .option('--limit <n>', 'how many (default 20)')
    .option('--json', 'machine-readable output (the GET /budgets/deliveries shape)')
    .action((options: { limit?: string; json?: boolean }, command: Command) =>
      run(budgetsDeliveriesCommand(io, globals(command), options)),
    );

  program
    .command('export')
    .description('write usage rows as CSV (the columns of GET /data?format=csv) or JSON lines')
    .option('-o, --output <file>', 'file to write, or - for stdout', '-')
    .option('-f, --format <format>', 'csv or jsonl (default: from the file extension, else csv)')
    .option('--start <date>', 'from this day or instant (YYYY-MM-DD or ISO-8601, UTC), inclusive')
    .option('--end <date>', 'through this day or instant, inclusive')
    .option('--model <name>', 'only this model (exact)')
    .option('--token-id <id>', 'only this tracking token')
    .option('--provider <id>', 'only this provider, e.g. openai')
    .option('--user <id>', 'only this end user')
    .option(
      '--tag <key:value>',
      'only rows with this tag; repeat to require several',
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .option('--force', 'replace the output file if it exists')
    .action((options: ExportOptions, command: Command) => run(exportCommand(io, globals(command), options)));

  program
    .command('import-original')
    .description(
      'import a database of the original (Python/Flask) Cost Guardian, v0.2 or v0.3; safe to repeat',
    )
    .argument('<path>', "the original's usage_log.sqlite (it is only read)")
    .option(
      '--undated-at <time>',
      'import rows whose timestamp is missing or not a date at this ISO-8601 time',
    )
    .option('--dry-run', 'read and check everything, report, write nothing')
    .option('--json', 'print the report as JSON')
    .addHelpText(
      'after',
      '\nTokens keep their ids, labels and values; every row keeps its token and is re-priced, with the\n' +
        "original's cost kept as clientCostUSD. Times without a zone are read as UTC. Rows that cannot be\n" +
        'imported are listed by id (exit status 7). See docs/operations.md.',
    )
    .action((sourcePath: string, options: ImportOriginalOptions, command: Command) =>
      run(importOriginalCommand(io, globals(command), sourcePath, options)),
    );

  program
    .command('backup')
    .description('copy the live database to a file, consistent as of one commit, while the service runs')
    .argument('[destination]', 'file or directory (default: backups/ beside the database)')
    .option('--force', 'replace the destination file if it exists')
    .option('--pages-per-step <n>', 'pages copied between pauses (default 256)')
    .addHelpText(
      'after',
      '\nRestore: stop the service, replace the database file with the backup, start it. See docs/operations.md.',
    )
    .action((destination: string | undefined, options: BackupCommandOptions, command: Command) =>
      run(backupCommand(io, globals(command), destination, options)),
    );

  program
    .command('reprice')
    .description("price stored usage again with the server's current prices (a dry run unless --apply)")
    .option('--model <name>', 'only this model (exact)')
    .option('--start <date>', 'from this day or instant (YYYY-MM-DD or ISO-8601, UTC), inclusive')
    .option('--end <date>', 'through this day or instant, inclusive')
    .option('--apply', 'write the new costs (audited; undo with POST /prices/reprice/:id/undo)')
    .option('--actor <name>', 'who to record in the audit trail (default cli:<user>)')
    .option(
      '--no-infer-provider',
      'keep every stored provider (by default rows stored under PROVIDER move to the provider their model name belongs to)',
    )
    .option('--json', 'print the result as JSON')
    .action((options: RepriceOptions, command: Command) =>
      run(repriceCommand(io, globals(command), options)),
    );

  return program;
}

/** Runs the CLI on `argv` (process.argv shape) and returns the exit status; never calls process.exit. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  let result: ExitCode = EXIT.ok;
  const program = createProgram(io, (code) => {
    result = code;
  });
  try {
    await program.parseAsync([...argv]);
    return result;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    if (error instanceof CliError) {
      io.stderr.write(`cost-guardian: ${error.message}\n`);
      return error.exitCode;
    }
    io.stderr.write(
      `cost-guardian: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    return EXIT.failure;
  }
}
