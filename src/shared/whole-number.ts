import { z } from 'zod';

const note = (text: string | undefined) => (text ? ` (${text})` : '');

/**
 * A whole number from `min` to `max`, taken from a JSON number or a form's text, whose errors
 * name the bound: `wholeNumber(1, 1440, { max: 'one day' })` answers 1441 with
 * "must be at most 1440 (one day)".
 */
export function wholeNumber(min: number, max: number, notes: { min?: string; max?: string } = {}) {
  return z.coerce
    .number({ message: 'must be a whole number' })
    .int('must be a whole number')
    .min(min, `must be at least ${min}${note(notes.min)}`)
    .max(max, `must be at most ${max}${note(notes.max)}`);
}
