import { mkdirSync } from 'node:fs';
import path from 'node:path';
import pino, { type Logger } from 'pino';

const CENSOR = '[redacted]';

/** Paths that could ever hold a secret are censored before a line is written. */
const REDACT = [
  'password',
  'token',
  'key',
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
];
/**
 * The same keys one level down (`*.password`...). Not as pino redact paths: a path that starts
 * with a wildcard sends every field of every line (and the message) through pino's slow
 * redactor, which clones and serialises each one, a few KB of garbage per line.
 */
const SECRET_FIELDS = ['password', 'token', 'key'];

const holdsSecret = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' &&
  value !== null &&
  SECRET_FIELDS.some((f) => Object.prototype.hasOwnProperty.call(value, f));

/** `obj`, or a copy of it whose objects one level down have their secret fields censored. */
export function censorNested(obj: Record<string, unknown>): Record<string, unknown> {
  let copy: Record<string, unknown> | undefined;
  for (const name in obj) {
    const value = obj[name];
    if (!Object.prototype.hasOwnProperty.call(obj, name) || !holdsSecret(value)) continue;
    // An error keeps what pino's error serialiser reads: its class, message and stack.
    const censored: Record<string, unknown> =
      value instanceof Error
        ? Object.assign(
            Object.create(Object.getPrototypeOf(value) as object) as object,
            {
              message: value.message,
              stack: value.stack,
            },
            value,
          )
        : { ...value };
    for (const f of SECRET_FIELDS) if (Object.hasOwn(value, f)) censored[f] = CENSOR;
    (copy ??= { ...obj })[name] = censored;
  }
  return copy ?? obj;
}

/** Structured logs (one JSON event per line) to stdout and, when given, to a file. */
export function createLogger(opts: { name: string; file?: string; level?: string }): Logger {
  const streams: pino.StreamEntry[] = [{ stream: process.stdout }];
  if (opts.file) {
    mkdirSync(path.dirname(opts.file), { recursive: true });
    streams.push({ stream: pino.destination({ dest: opts.file, sync: false, mkdir: true }) });
  }
  const logger = pino(
    {
      name: opts.name,
      level: opts.level ?? 'info',
      redact: { paths: REDACT, censor: CENSOR },
      formatters: { log: censorNested },
      timestamp: pino.stdTimeFunctions.isoTime,
      base: { pid: process.pid },
    },
    pino.multistream(streams),
  );
  // pino gives a child's bindings to no formatter; children inherit this `child` from the root.
  const child = logger.child;
  logger.child = function (this: Logger, bindings, options) {
    return child.call(this, censorNested(bindings), options);
  } as Logger['child'];
  return logger;
}
