import { describe, expect, it } from 'vitest';
import { sharedErrors } from './error-codes.js';
import { conflict, errorCatalogue, fieldError, GatehouseError, validationError } from './errors.js';

const sample = errorCatalogue({
  SAMPLE_BUSY: { status: 409, fix: 'Wait.' },
  SAMPLE_GONE: { status: 410, also: [502], fix: 'Start again.' },
  SAMPLE_SELF: { status: 400, also: [409], fix: 'Name another.' },
});

describe('an error catalogue', () => {
  it('makes the error the constructor made, with the status of its entry', () => {
    const options = {
      fields: [{ field: 'name', message: 'taken' }],
      headers: { 'retry-after': '2' },
    };
    const made = sample.SAMPLE_BUSY('It is busy.', options);
    const byHand = new GatehouseError('SAMPLE_BUSY', 409, 'It is busy.', options);
    expect(made).toBeInstanceOf(GatehouseError);
    expect(JSON.stringify(made.toProblem('/x'))).toBe(JSON.stringify(byHand.toProblem('/x')));
    expect(made.headers).toEqual(byHand.headers);
    const { code, status, fix } = sample.SAMPLE_BUSY;
    expect({ code, status, fix }).toEqual({ code: 'SAMPLE_BUSY', status: 409, fix: 'Wait.' });
  });

  it('gives another status only where the entry declares it', () => {
    expect(sample.SAMPLE_GONE('Gone.').status).toBe(410);
    expect(sample.SAMPLE_GONE('Gone.', { status: 502 }).status).toBe(502);
    // @ts-expect-error 500 is not among the entry's other statuses
    expect(() => sample.SAMPLE_BUSY('Busy.', { status: 500 })).toThrow(
      'SAMPLE_BUSY declares no status 500',
    );
    // A catalogue read from JSON types `also` as number[]: the factory refuses the rest.
    const loose = errorCatalogue({
      SAMPLE_GONE: { status: 410, also: [502] as number[], fix: '' },
    });
    expect(loose.SAMPLE_GONE('Gone.', { status: 502 }).status).toBe(502);
    expect(() => loose.SAMPLE_GONE('Gone.', { status: 503 })).toThrow(
      'SAMPLE_GONE declares no status 503 (its also: 502)',
    );
    // @ts-expect-error a code the catalogue does not have does not compile
    expect(sample.SAMPLE_BUSSY).toBeUndefined();
    // @ts-expect-error nor in a catalogue read from its error-codes.json
    expect(sharedErrors.NOT_FUOND).toBeUndefined();
    expect(sharedErrors.NOT_FOUND('Gone.').status).toBe(404);
  });

  it('keeps a cause, and the helpers take their code from a catalogue', () => {
    const cause = new Error('below');
    expect(sample.SAMPLE_BUSY('Busy.', { cause }).cause).toBe(cause);
    const refused = conflict(sample.SAMPLE_BUSY, 'Taken.', 'name');
    expect([refused.code, refused.status, refused.fields]).toEqual([
      'SAMPLE_BUSY',
      409,
      [{ field: 'name', message: 'Taken.' }],
    ]);
    // A refusal is a 409 whatever the entry's default (peer-client.ts turns a 400 into a 502).
    const self = conflict(sample.SAMPLE_SELF, 'Not itself.');
    expect([self.code, self.status, self.fields]).toEqual(['SAMPLE_SELF', 409, []]);
    expect(() => conflict(sample.SAMPLE_GONE, 'Gone.')).toThrow(
      'SAMPLE_GONE declares no status 409, so it cannot be a conflict()',
    );
    const field = fieldError('port', 'must be a number');
    expect([field.code, field.status, field.message]).toEqual([
      'VALIDATION_FAILED',
      400,
      'port: must be a number',
    ]);
    expect(validationError([]).toProblem()).toMatchObject({
      status: 400,
      detail: 'The request is not valid.',
    });
  });
});
