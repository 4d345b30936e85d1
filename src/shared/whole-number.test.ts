import { describe, expect, it } from 'vitest';
import { wholeNumber } from './whole-number.js';

const messageOf = (schema: ReturnType<typeof wholeNumber>, value: unknown) => {
  const r = schema.safeParse(value);
  return r.success ? undefined : r.error.issues[0]!.message;
};

describe('wholeNumber', () => {
  it('takes a whole number within its bounds, from a number or a form field', () => {
    expect(wholeNumber(1, 1440).parse(1440)).toBe(1440);
    expect(wholeNumber(1, 1440).parse('15')).toBe(15);
  });

  it('names the bound a value breaks, with its note', () => {
    const minutes = wholeNumber(5, 1440, { max: 'one day' });
    expect(messageOf(minutes, 4)).toBe('must be at least 5');
    expect(messageOf(minutes, 1441)).toBe('must be at most 1440 (one day)');
    expect(messageOf(wholeNumber(0, 9, { min: '0 turns it off' }), -1)).toBe(
      'must be at least 0 (0 turns it off)',
    );
  });

  it('refuses a fraction and text that is no number', () => {
    expect(messageOf(wholeNumber(1, 10), 2.5)).toBe('must be a whole number');
    expect(messageOf(wholeNumber(1, 10), 'ten')).toBe('must be a whole number');
  });
});
