import cliProgress from 'cli-progress';
import type { CliStream } from './context.js';

export interface Progress {
  /** Total units of work (rows, pages); may change while running (a backup that restarts). */
  setTotal(total: number): void;
  /** Units done so far; without a total the line shows a running count instead of a bar. */
  update(done: number): void;
  stop(): void;
}

const SILENT: Progress = { setTotal() {}, update() {}, stop() {} };

/**
 * A progress bar on stderr, so stdout stays clean for data (`export -o -`). It is drawn only when
 * stderr is a terminal: in logs, pipes and CI it would be noise.
 */
export function createProgress(
  stream: CliStream & NodeJS.WritableStream,
  label: string,
  unit: string,
): Progress {
  if (!stream.isTTY) return SILENT;
  let bar: cliProgress.SingleBar | undefined;
  let total: number | undefined;
  const start = (value: number) => {
    const format =
      total === undefined
        ? `${label} {value} ${unit} | {duration_formatted}`
        : `${label} [{bar}] {percentage}% | {value}/{total} ${unit} | {duration_formatted}`;
    bar = new cliProgress.SingleBar(
      { stream, format, hideCursor: true, clearOnComplete: false, etaBuffer: 50 },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total ?? 0, value);
  };
  return {
    setTotal(value) {
      total = value;
      if (bar) bar.setTotal(value);
      else start(0);
    },
    update(done) {
      if (!bar) start(done);
      else bar.update(done);
    },
    stop() {
      bar?.stop();
    },
  };
}
