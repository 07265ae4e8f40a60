/**
 * What the `cost-guardian` command's exit status means. Scripts may rely on these numbers:
 * docs/operations.md lists them, and a test keeps that table in step with this one.
 */
export const EXIT = {
  /** Done. */
  ok: 0,
  /** An unexpected failure (a bug, a disk error); the message is on stderr. */
  failure: 1,
  /** Unknown command or option, a missing or malformed argument. */
  usage: 2,
  /** The environment configuration is invalid; every problem is listed on stderr. */
  config: 3,
  /** The service's database cannot be opened or migrated, was written by a newer version, or (serve) is served by another process. */
  database: 4,
  /** A file named on the command line is missing, unreadable, not what it should be, or would be overwritten. */
  input: 5,
  /** The operation was refused: an unknown id, a taken label, conflicting tokens on import. */
  refused: 6,
  /** Finished, but some rows were not imported; the report names them. */
  partial: 7,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** One line per status, for `--help`. */
export const EXIT_SUMMARY: Record<keyof typeof EXIT, string> = {
  ok: 'done',
  failure: 'unexpected failure',
  usage: 'usage error',
  config: 'configuration error',
  database: 'database cannot be opened or migrated',
  input: 'input file missing, wrong kind, or would be overwritten',
  refused: 'refused (unknown id, taken label, conflicting tokens)',
  partial: 'import finished but skipped rows (see its report)',
};

/** A failure the CLI reports as one line on stderr and a specific exit status. */
export class CliError extends Error {
  readonly exitCode: ExitCode;
  constructor(exitCode: ExitCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}
