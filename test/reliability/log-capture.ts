import type { FastifyBaseLogger } from 'fastify';

export interface LogLine {
  level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
  msg: string;
  fields: Record<string, unknown>;
}

/** A logger for buildApp/startServer that keeps every line (info and above) for assertions. */
export function captureLogs(): { logger: FastifyBaseLogger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const write =
    (level: LogLine['level']) =>
    (first?: unknown, second?: unknown): void => {
      if (level === 'debug' || level === 'trace') return;
      if (typeof first === 'string') lines.push({ level, msg: first, fields: {} });
      else
        lines.push({
          level,
          msg: typeof second === 'string' ? second : '',
          fields: (first ?? {}) as Record<string, unknown>,
        });
    };
  const make = (): FastifyBaseLogger =>
    ({
      level: 'info',
      fatal: write('fatal'),
      error: write('error'),
      warn: write('warn'),
      info: write('info'),
      debug: write('debug'),
      trace: write('trace'),
      silent: () => {},
      child: () => make(),
    }) as unknown as FastifyBaseLogger;
  return { logger: make(), lines };
}
