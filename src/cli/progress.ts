import cliProgress from 'cli-progress';
import type { CliStream } from './context.js';

export interface Progress {
  /** Total units of work (rows, pages); may change while running (a backup that restarts). */
  setTotal(total: number): void;
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
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: `${label} [{bar}] {percentage}% | {value}/{total} ${unit} | {duration_formatted}`,
      hideCursor: true,
      clearOnComplete: false,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    setTotal(total) {
      if (!started) {
        bar.start(total, 0);
        started = true;
      } else bar.setTotal(total);
    },
    update(done) {
      if (started) bar.update(done);
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
