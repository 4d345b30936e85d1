import type { FastifyInstance } from 'fastify';
import { GatehouseError } from './errors.js';
import { sharedErrors } from './error-codes.js';

/** A form field sent twice: which value was meant is unknown, so the whole form is refused. */
export function repeatedFieldError(field: string): GatehouseError {
  return sharedErrors.FORM_FIELD_REPEATED(
    `${field}: is sent more than once. Send each form field once; nothing was changed.`,
    { fields: [{ field, message: 'is sent more than once' }] },
  );
}

/**
 * The fields of a urlencoded form, each a string. A repeated field is refused (400) rather than
 * turned into an array that handlers expecting a string would trip over.
 */
export function parseFormFields(text: string): Record<string, string> {
  const fields = new Map<string, string>();
  for (const [name, value] of new URLSearchParams(text)) {
    if (fields.has(name)) throw repeatedFieldError(name);
    fields.set(name, value);
  }
  // Own properties only: a field called "__proto__" stays a field.
  return Object.fromEntries(fields) as Record<string, string>;
}

/** Parse application/x-www-form-urlencoded bodies of `app` with parseFormFields. */
export function registerFormBody(app: FastifyInstance): void {
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string' },
    (_req, body, done) => {
      try {
        done(null, parseFormFields(body as string));
      } catch (e) {
        done(e as Error, undefined);
      }
    },
  );
}
