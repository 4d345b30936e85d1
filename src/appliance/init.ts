import { rmSync, existsSync } from 'node:fs';
import { randomToken } from '../shared/crypto.js';
import { passwordProblem } from '../site/users.js';
import { DEFAULT_SITE_SETTINGS } from '../site/settings.js';
import { fieldError } from '../shared/errors.js';
import { SYSTEM } from '../shared/actor.js';
import {
  applianceReleaseKeysDir,
  parseReleaseKey,
  saveReleaseKeys,
} from '../updates/release-keys.js';
import { Appliance } from './context.js';
import { createDataDir, DataDir, writeIdentity, type ApplianceIdentity } from './datadir.js';
import { siteErrors } from '../site/error-codes.js';

export interface InitOptions {
  dataDir: string;
  name: string;
  hostnames: string[];
  addresses: string[];
  applianceAdmin: { username: string; password?: string };
  loginAdmin: { username: string; password?: string };
  interApplianceKey?: string;
  /** Release public keys (PEM) whose signed update packages this appliance installs. */
  releaseKeys?: { pem: string; source: string }[];
}

export interface InitResult {
  identity: ApplianceIdentity;
  certificateFingerprint: string;
  /** The site certificate authority's fingerprint: what clients of the site pin (S20). */
  siteCaFingerprint: string;
  /** Passwords that were generated (not given); shown once, never stored in clear. */
  generatedPasswords: { area: 'appliance' | 'login'; username: string; password: string }[];
}

/** A generated password that passes the default rules. */
function generatePassword(): string {
  return `Gh-${randomToken(15)}7a`;
}

/**
 * Create an appliance data directory with its keys, certificate, database and the two admin
 * accounts. A failure part-way removes what it made, so init can simply be run again.
 */
export async function initAppliance(opts: InitOptions): Promise<InitResult> {
  for (const [field, account] of [
    ['appliance-password', opts.applianceAdmin],
    ['login-password', opts.loginAdmin],
  ] as const) {
    if (account.password !== undefined) {
      const problem = passwordProblem(
        account.password,
        account.username,
        DEFAULT_SITE_SETTINGS.passwordMinLength,
      );
      if (problem) throw fieldError(field, problem, siteErrors.PASSWORD_TOO_WEAK);
    }
  }
  const releaseKeys = (opts.releaseKeys ?? []).map((k) => parseReleaseKey(k.pem, k.source));
  const dir = new DataDir(opts.dataDir);
  const existed = existsSync(dir.root);
  const identity = await createDataDir(dir, opts);
  const generatedPasswords: InitResult['generatedPasswords'] = [];
  let appliance: Appliance | undefined;
  try {
    appliance = await Appliance.openForInit(dir, identity);
    const a = appliance;
    const adminPassword = opts.applianceAdmin.password ?? generatePassword();
    const loginPassword = opts.loginAdmin.password ?? generatePassword();
    if (!opts.applianceAdmin.password)
      generatedPasswords.push({
        area: 'appliance',
        username: opts.applianceAdmin.username,
        password: adminPassword,
      });
    if (!opts.loginAdmin.password)
      generatedPasswords.push({
        area: 'login',
        username: opts.loginAdmin.username,
        password: loginPassword,
      });
    await a.admins.create(opts.applianceAdmin.username, adminPassword);
    await a.users.create(SYSTEM, {
      username: opts.loginAdmin.username,
      displayName: 'Administrator',
      password: loginPassword,
      isAdmin: true,
    });
    a.interApplianceKey.initialise(opts.interApplianceKey);
    saveReleaseKeys(applianceReleaseKeysDir(dir.root), releaseKeys);
    for (const address of opts.addresses)
      a.network.add(null, { address, kind: 'unique', label: 'appliance address', enabled: true });
    if (opts.hostnames[0]) a.settings.update(SYSTEM, { siteHostname: opts.hostnames[0] });
    a.events.record(SYSTEM, 'appliance.initialised', identity.name, {
      hostnames: opts.hostnames,
      addresses: opts.addresses,
    });
    const fingerprint = a.certificateFingerprint;
    a.close();
    writeIdentity(dir, identity);
    return {
      identity,
      certificateFingerprint: fingerprint,
      siteCaFingerprint: a.siteIdentity.fingerprint,
      generatedPasswords,
    };
  } catch (e) {
    appliance?.close();
    if (existed) {
      for (const sub of ['tls', 'keys', 'store', 'blobs', 'logs', 'tmp'])
        rmSync(`${dir.root}/${sub}`, { recursive: true, force: true });
    } else {
      rmSync(dir.root, { recursive: true, force: true });
    }
    throw e;
  }
}
