/**
 * Every failure an operator can see is a GatehouseError: a stable code, an HTTP status and a
 * message that says what to do. The API renders them as problem+json (RFC 9457), the web
 * console beside the field, the CLI as one line on stderr with a non-zero exit.
 */

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
  return new GatehouseError('VALIDATION_FAILED', 400, detail || 'The request is not valid.', {
    fields,
  });
}

export function fieldError(field: string, message: string, code = 'VALIDATION_FAILED') {
  return new GatehouseError(code, 400, `${field}: ${message}`, { fields: [{ field, message }] });
}

export const notFound = (what: string, fix: string) =>
  new GatehouseError('NOT_FOUND', 404, `${what} does not exist. ${fix}`);

export const conflict = (code: string, message: string, field?: string) =>
  new GatehouseError(code, 409, message, field ? { fields: [{ field, message }] } : {});

export function isGatehouseError(e: unknown): e is GatehouseError {
  return e instanceof GatehouseError;
}
