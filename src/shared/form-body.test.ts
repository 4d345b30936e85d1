import { describe, expect, it } from 'vitest';
import { parseFormFields } from './form-body.js';

describe('form fields', () => {
  it('reads each field as a string, + and %XX decoded', () => {
    expect(parseFormFields('username=ann+b&password=p%26w&empty=')).toEqual({
      username: 'ann b',
      password: 'p&w',
      empty: '',
    });
  });

  it('refuses a repeated field with a 400 naming it', () => {
    expect(() => parseFormFields('username=a&password=x&username=b')).toThrow(
      expect.objectContaining({
        code: 'FORM_FIELD_REPEATED',
        status: 400,
        message: expect.stringMatching(/^username: /),
      }),
    );
  });

  it('keeps a field called __proto__ as a field, not a prototype', () => {
    const fields = parseFormFields('__proto__=x&a=1');
    expect(Object.getPrototypeOf(fields)).toBe(Object.prototype);
    expect(Object.keys(fields)).toEqual(['__proto__', 'a']);
  });
});
