import pino, { type Logger } from 'pino';
import { RotatingLogFile } from './log-file.js';
import type { RotationLimits } from './log-rotate.js';

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

const hasOwn = (value: object, field: string) => Object.prototype.hasOwnProperty.call(value, field);

const holdsSecret = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && SECRET_FIELDS.some((f) => hasOwn(value, f));

/**
 * `value`, or a copy of it with its secret fields censored. The copy keeps the prototype and
 * every own property, enumerable or not, because what is written depends on them: an error's
 * `cause` and an AggregateError's `errors` (pino's error serialiser appends the causes to the
 * message and stack, and serialises the errors), and a `toJSON`, which decides the fields
 * written; its result is censored too.
 */
function censorValue(value: unknown): unknown {
  if (!holdsSecret(value)) return value;
  const props = Object.getOwnPropertyDescriptors(value);
  for (const f of SECRET_FIELDS)
    if (props[f])
      props[f] = {
        value: CENSOR,
        enumerable: props[f].enumerable,
        writable: true,
        configurable: true,
      };
  const { toJSON } = value;
  if (typeof toJSON === 'function')
    props.toJSON = {
      value(this: unknown, key: string) {
        return censorValue(toJSON.call(this, key));
      },
      configurable: true,
      writable: true,
    };
  return Object.create(Object.getPrototypeOf(value) as object | null, props) as unknown;
}

/** `obj`, or a copy of it whose objects one level down have their secret fields censored. */
export function censorNested(obj: Record<string, unknown>): Record<string, unknown> {
  let copy: Record<string, unknown> | undefined;
  for (const name in obj) {
    const value = obj[name];
    if (!hasOwn(obj, name) || !holdsSecret(value)) continue;
    (copy ??= { ...obj })[name] = censorValue(value);
  }
  return copy ?? obj;
}

type Serializers = Record<string, pino.SerializerFn>;

/**
 * Serialisers whose outputs are censored: pino runs the log formatter before the serialisers,
 * so a serialiser's output (a field it builds from a secret) never reaches the formatter; pino's
 * wildcard redact paths, which ran after, censored it.
 */
function censoringSerializers(serializers: Serializers): Serializers {
  const censoring: Serializers = {};
  for (const [name, serialize] of Object.entries(serializers))
    censoring[name] = (value) => censorValue(serialize(value));
  return censoring;
}

/**
 * A child's bindings and `setBindings` go to no log formatter (pino resets a child's bindings
 * formatter), and a child's serialisers run after the formatter: censor each where it enters.
 * Children inherit these methods from the root logger.
 */
function censorChildren(logger: Logger): void {
  const child = logger.child;
  logger.child = function (this: Logger, bindings, options) {
    const serializers = options?.serializers as Serializers | undefined;
    const censored = serializers
      ? { ...options, serializers: censoringSerializers(serializers) }
      : options;
    return child.call(this, censorNested(bindings), censored);
  } as Logger['child'];
  const setBindings = logger.setBindings;
  logger.setBindings = function (this: Logger, bindings) {
    setBindings.call(this, censorNested(bindings));
  } as Logger['setBindings'];
}

/** An interpolated array's items or an interpolated object's fields, censored. */
function censorInterpolation(value: unknown): unknown {
  if (Array.isArray(value)) return value.some(holdsSecret) ? value.map(censorValue) : value;
  return typeof value === 'object' && value !== null
    ? censorNested(value as Record<string, unknown>)
    : value;
}

/**
 * An object or array interpolated into the message (`%j`, `%o`) goes to pino's redactor with the paths
 * above, but to no log formatter: censor its fields one level down first. Children share the
 * root's format options unless given their own redact paths.
 */
function censorInterpolated(logger: Logger): void {
  const target = logger as unknown as {
    [pino.symbols.formatOptsSym]: { stringify: (value: unknown) => string };
  };
  const { stringify } = target[pino.symbols.formatOptsSym];
  target[pino.symbols.formatOptsSym] = {
    stringify: (value) => stringify(censorInterpolation(value)),
  };
}

/**
 * The rotation limits an appliance starts with (appliance_settings may change them): 50 MiB
 * holds about 150,000 lines (a day of a busy appliance's requests at info level) and is quick
 * to open, search and attach to a support case; 10 of them keep the last week or two and bound
 * each log to 550 MiB, small beside the update reserve and the database snapshot on the disk.
 */
export const DEFAULT_LOG_ROTATION: RotationLimits = {
  maxFileBytes: 50 * 1024 * 1024,
  keepFiles: 10,
};

/**
 * A process's log file, rotated by size; its failures are reported on stdout as a line of
 * the logger `name` would write (the file is what is failing).
 */
export function openLogFile(
  file: string,
  name: string,
  limits: RotationLimits = DEFAULT_LOG_ROTATION,
  retryMs?: number,
): RotatingLogFile {
  return new RotatingLogFile(file, {
    limits,
    retryMs,
    report: (msg, fields) =>
      process.stdout.write(
        `${JSON.stringify({ level: 50, time: new Date().toISOString(), pid: process.pid, name, ...fields, msg })}\n`,
      ),
  });
}

/**
 * Structured logs (one JSON event per line) to stdout and, when given, to a file (a path: a
 * file rotated at the default limits; or a file opened with `openLogFile`).
 */
export function createLogger(opts: {
  name: string;
  file?: string | RotatingLogFile;
  level?: string;
}): Logger {
  const streams: pino.StreamEntry[] = [{ stream: process.stdout }];
  if (opts.file) {
    const file = typeof opts.file === 'string' ? openLogFile(opts.file, opts.name) : opts.file;
    streams.push({ stream: file as unknown as pino.DestinationStream });
  }
  const logger = pino(
    {
      name: opts.name,
      level: opts.level ?? 'info',
      redact: { paths: REDACT, censor: CENSOR },
      // Runs before the serialisers, which see censored values (pino's error serialiser keeps
      // the censoring); a child's serialisers have their outputs censored (`censorChildren`).
      formatters: { log: censorNested },
      timestamp: pino.stdTimeFunctions.isoTime,
      base: { pid: process.pid },
    },
    pino.multistream(streams),
  );
  censorChildren(logger);
  censorInterpolated(logger);
  return logger;
}
