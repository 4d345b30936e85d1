import { readFileSync } from 'node:fs';
import { InvalidArgumentError } from 'commander';
import { fieldError } from '../shared/errors.js';

export const collect = (value: string, previous: string[] = []) => [...previous, value];

export function fingerprintOption(value: string): string {
  if (!/^([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$/.test(value))
    throw new InvalidArgumentError(
      'expected the SHA-256 fingerprint AB:CD:… (32 pairs) that the appliance prints at start',
    );
  return value.toUpperCase();
}

export function secretFrom(flag: string, file: string | undefined, envName: string): string {
  if (file) {
    try {
      return readFileSync(file, 'utf8').trim();
    } catch (e) {
      throw fieldError(flag, `${file} cannot be read (${(e as NodeJS.ErrnoException).code})`);
    }
  }
  const env = process.env[envName];
  if (env) return env;
  throw fieldError(flag, `is required: give ${flag} FILE or set ${envName}`);
}
