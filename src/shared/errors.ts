/**
 * Every failure an operator can see is a GatehouseError: a stable code, an HTTP status and a
 * message that says what to do. The API renders them as problem+json (RFC 9457), the web
 * console beside the field, the CLI as one line on stderr with a non-zero exit.
 *
 * Each top-level folder of src/ declares its codes once, as data in its `error-codes.json`
 * (code, HTTP status, fix), which its `error-codes.ts` makes an `errorCatalogue` (in the manner
 * of Fastify's lib/errors.js). A throw site names the code by its typed key and gets the status
 * from there: `throw <folder>Errors.<CODE>(message, { fields })`.
 */
import { sharedErrors } from './error-codes.js';

export interface FieldError {
  /** Dotted path of the offending field, e.g. `password` or `addresses.0.address`. */
  field: string;
  /** What is wrong and how to fix it. */
  message: string;
}

export class GatehouseError extends Error {
  readonly code: string;
  readonly status: number;
  readonly fields: FieldError[];
  readonly headers: Record<string, string>;

  constructor(
    code: string,
    status: number,
    message: string,
    options: { fields?: FieldError[]; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GatehouseError';
    this.code = code;
    this.status = status;
    this.fields = options.fields ?? [];
    this.headers = options.headers ?? {};
  }

  toProblem(instance?: string): Problem {
    return {
      type: `urn:gatehouse:problem:${this.code}`,
      title: this.code,
      status: this.status,
      code: this.code,
      detail: this.message,
      ...(instance ? { instance } : {}),
      ...(this.fields.length ? { errors: this.fields } : {}),
    };
  }
}

/** What one code of a catalogue answers with, and what the operator does about it. */
export interface ErrorSpec {
  readonly status: number;
  /** Other statuses some throw sites give the code (say a timeout beside a refusal). */
  readonly also?: readonly number[];
  /** Documentation (docs/errors.md); the message a throw site writes says what to do. */
  readonly fix: string;
}

export interface ErrorOptions<Also extends number = never> {
  fields?: FieldError[];
  headers?: Record<string, string>;
  cause?: unknown;
  /** One of the other statuses the catalogue declares for this code (its `also`). */
  status?: Also;
}

/** Makes the error of one code: `catalogue.CODE(message, options)`. */
export interface ErrorFactory<
  Code extends string = string,
  Also extends number = never,
> extends ErrorSpec {
  (message: string, options?: ErrorOptions<Also>): GatehouseError;
  readonly code: Code;
}

type AlsoOf<S> = S extends { also: readonly (infer N extends number)[] } ? N : never;

export type ErrorCatalogue<T extends Record<string, ErrorSpec>> = {
  readonly [Code in keyof T & string]: ErrorFactory<Code, AlsoOf<T[Code]>>;
};

/**
 * A folder's codes as factories: a misspelled code does not compile, and the status is the
 * catalogue's. Called at module load, it only builds closures (src/shared/error-codes.ts is
 * loaded before this file's class is defined). A catalogue read from JSON types `also` as any
 * number, so a status passed that the entry does not declare is refused here, as the
 * programming error it is.
 */
export function errorCatalogue<const T extends Record<string, ErrorSpec>>(
  specs: T,
): ErrorCatalogue<T> {
  const factory = (code: string, spec: ErrorSpec) =>
    Object.assign(
      (message: string, { status, ...options }: ErrorOptions<number> = {}) => {
        if (status !== undefined && !spec.also?.includes(status))
          throw new Error(`${code} declares no status ${status} (its also: ${spec.also ?? []})`);
        return new GatehouseError(code, status ?? spec.status, message, options);
      },
      { ...spec, code },
    );
  return Object.fromEntries(
    Object.entries(specs).map(([code, spec]) => [code, factory(code, spec)]),
  ) as ErrorCatalogue<T>;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  code: string;
  detail: string;
  instance?: string;
  errors?: FieldError[];
}

/** Bad input: names every offending field; the request changed nothing. */
export function validationError(fields: FieldError[]): GatehouseError {
  const detail = fields.map((f) => `${f.field}: ${f.message}`).join('; ');
  return sharedErrors.VALIDATION_FAILED(detail || 'The request is not valid.', { fields });
}

/** One bad field, as `field: message` (a 400 of VALIDATION_FAILED or of the code given). */
export function fieldError(
  field: string,
  message: string,
  code: ErrorFactory = sharedErrors.VALIDATION_FAILED,
) {
  return code(`${field}: ${message}`, { fields: [{ field, message }] });
}

export const notFound = (what: string, fix: string) =>
  sharedErrors.NOT_FOUND(`${what} does not exist. ${fix}`);

/**
 * A refusal: always a 409 (peer-client.ts keeps a peer's 409 and turns other statuses into a
 * 502), naming the field it is about, if any. A code whose entry answers another status by
 * default must declare 409 in its `also`; one that declares 409 nowhere is a programming error.
 */
export function conflict(code: ErrorFactory, message: string, field?: string) {
  const fields = field ? [{ field, message }] : undefined;
  if (code.status === 409) return code(message, { fields });
  if (!code.also?.includes(409))
    throw new Error(`${code.code} declares no status 409, so it cannot be a conflict()`);
  // Checked just above; the factory's type only admits its entry's literal `also`.
  return (code as ErrorFactory<string, number>)(message, { fields, status: 409 });
}

export function isGatehouseError(e: unknown): e is GatehouseError {
  return e instanceof GatehouseError;
}
