import { readFileSync } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
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

/**
 * `--fingerprint` and `--site-ca`: what a client of a site pins, at least one of them. The site
 * certificate authority (S20) trusts every appliance of the site, whichever the site leads to.
 */
export function pinOptions(cmd: Command): Command {
  return cmd
    .option(
      '--fingerprint <sha256>',
      "an appliance certificate's SHA-256 fingerprint (printed at its start)",
      fingerprintOption,
    )
    .option(
      '--site-ca <sha256>',
      "the site certificate authority's SHA-256 fingerprint (/login > Status > Information): trusts every appliance of the site",
      fingerprintOption,
    );
}

/** A command that signs in to a site as a user: where the site is, how it is pinned, who signs in. */
export function siteSignInOptions(cmd: Command, user: string): Command {
  cmd.requiredOption('--site <host:port>', 'the site hostname (or address) and TLS port');
  return pinOptions(cmd)
    .requiredOption('--user <name>', user)
    .option('--password-file <file>', 'file holding the password (else $GATEHOUSE_PASSWORD)');
}

export interface PinFlags {
  fingerprint?: string;
  siteCa?: string;
}

export function pinOf(o: PinFlags): { fingerprint: string; siteCa?: string } {
  if (!o.fingerprint && !o.siteCa)
    throw fieldError(
      '--site-ca',
      "is required unless --fingerprint is given: give the site certificate authority's fingerprint (/login > Status > Information), or one appliance's certificate fingerprint with --fingerprint",
    );
  return { fingerprint: o.fingerprint ?? '', ...(o.siteCa ? { siteCa: o.siteCa } : {}) };
}

/** Release public keys (.pub files) given with --release-key; an unreadable one names the file. */
export async function releaseKeysFrom(files: string[]) {
  const { parseReleaseKey } = await import('../updates/release-keys.js');
  return files.map((file) => {
    let pem: string;
    try {
      pem = readFileSync(file, 'utf8');
    } catch (e) {
      throw fieldError(
        '--release-key',
        `${file} cannot be read (${(e as NodeJS.ErrnoException).code})`,
      );
    }
    return parseReleaseKey(pem, file);
  });
}
