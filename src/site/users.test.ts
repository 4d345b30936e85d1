import { describe, expect, it } from 'vitest';
import { passwordProblem } from './users.js';

describe('password rules', () => {
  it('accepts a long password mixing three kinds of character', () => {
    expect(passwordProblem('Harbour-lights-9', 'ann', 12)).toBeNull();
  });

  it('refuses one shorter than the site minimum, naming the minimum', () => {
    expect(passwordProblem('Short-1a', 'ann', 12)).toBe('must be at least 12 characters long');
    expect(passwordProblem('Short-1a', 'ann', 8)).toBeNull();
  });

  it('refuses one containing the username, whatever its case', () => {
    expect(passwordProblem('My-ANN.rep-pass-1', 'ann.rep', 12)).toBe(
      'must not contain the username',
    );
  });

  it('refuses one of fewer than three character kinds', () => {
    expect(passwordProblem('alllowercaseletters', 'bob', 12)).toMatch(/at least three of/);
    expect(passwordProblem('lowercase12345678', 'bob', 12)).toMatch(/at least three of/);
  });
});
