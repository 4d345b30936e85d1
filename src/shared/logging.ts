import { mkdirSync } from 'node:fs';
import path from 'node:path';
import pino, { type Logger } from 'pino';

/** Paths that could ever hold a secret are censored before a line is written. */
const REDACT = [
  'password',
  '*.password',
  'token',
  '*.token',
  'key',
  '*.key',
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
];

/** Structured logs (one JSON event per line) to stdout and, when given, to a file. */
export function createLogger(opts: { name: string; file?: string; level?: string }): Logger {
  const streams: pino.StreamEntry[] = [{ stream: process.stdout }];
  if (opts.file) {
    mkdirSync(path.dirname(opts.file), { recursive: true });
    streams.push({ stream: pino.destination({ dest: opts.file, sync: false, mkdir: true }) });
  }
  return pino(
    {
      name: opts.name,
      level: opts.level ?? 'info',
      redact: { paths: REDACT, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      base: { pid: process.pid },
    },
    pino.multistream(streams),
  );
}
