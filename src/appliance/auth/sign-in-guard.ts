import type { Db } from '../../store/db.js';

import type { SiteSettingsService } from '../../site/settings.js';
import type { Area } from '../../shared/http/operations.js';
import { KnownDevices } from './known-devices.js';
import { StrikeTable, type BackoffPolicy } from './strikes.js';
import { accountUnlockedAt, addressesUnlockedAt } from './unlock.js';
import { sharedErrors } from '../../shared/error-codes.js';

/** One sign-in attempt: who it claims to be, from where, and the browser's device cookie. */
export interface Attempt {
  area: Area;
  username: string;
  ip: string;
  device?: string;
}

/** When the account was last changed (a new password by an administrator lifts its backoff). */
export interface AccountRow {
  username: string;
  updated_at: number;
}

/** An address gets many more tries than an account: it may be a whole office behind NAT. */
const ADDRESS_POLICY: BackoffPolicy = { free: 20, capMs: 15 * 60_000 };

export const signInThrottled = (waitMs: number) => {
  const seconds = Math.max(1, Math.ceil(waitMs / 1000));
  return sharedErrors.AUTH_THROTTLED(
    `Too many failed sign-ins for this username or from this address. Wait ${seconds} s and try again, or sign in from a browser or address that signed in before. An administrator with shell access can lift this at once with \`gatehouse appliance unlock\`.`,
    { headers: { 'retry-after': String(seconds) } },
  );
};

/**
 * Backoff of failed sign-ins per account and per address, which a stranger cannot turn into a
 * lockout of the real user: a browser or address that signed in to the account before passes
 * the account's backoff (the address's own backoff still holds for an address). Strikes are
 * kept in memory alike for usernames with and without an account, so that neither the answer
 * nor its time tells which usernames exist; unlocks are read from the database (see unlock.ts).
 */
export class SignInGuard {
  readonly known: KnownDevices;
  private readonly addresses = new StrikeTable();
  private readonly accounts = new StrikeTable();
  /** Failures of browsers with a device cookie: past the account's free failures, no pass. */
  private readonly devices = new StrikeTable();

  constructor(
    private readonly db: Db,
    private readonly settings: SiteSettingsService,
    secret: string,
  ) {
    this.known = new KnownDevices(secret);
  }

  private accountPolicy(): BackoffPolicy {
    const { loginMaxFailures, lockoutMinutes } = this.settings.get();
    return { free: loginMaxFailures, capMs: lockoutMinutes * 60_000 };
  }

  private clearedAt(a: Attempt, account: AccountRow | undefined) {
    return {
      account: Math.max(accountUnlockedAt(this.db, a.area, a.username), account?.updated_at ?? 0),
      address: addressesUnlockedAt(this.db),
    };
  }

  private knownDevice(a: Attempt, now: number, clearedAt: number): boolean {
    if (!a.device || !this.known.knowsDevice(a.area, a.username, a.device, now)) return false;
    return (this.devices.get(a.device, now, clearedAt)?.failures ?? 0) < this.accountPolicy().free;
  }

  /** Until when the attempt must wait (≤ now: it may go on). */
  blockedUntil(a: Attempt, account: AccountRow | undefined, now = Date.now()): number {
    const cleared = this.clearedAt(a, account);
    if (this.knownDevice(a, now, cleared.account)) return 0;
    const address = this.addresses.get(a.ip, now, cleared.address)?.blockedUntil ?? 0;
    if (this.known.knowsAddress(a.area, a.username, a.ip, now)) return address;
    const own = this.accounts.get(keyOf(a), now, cleared.account)?.blockedUntil ?? 0;
    return Math.max(address, own);
  }

  /** Count a failed attempt; true when it starts the backoff of the account. */
  failed(a: Attempt, account: AccountRow | undefined, now = Date.now()): boolean {
    const cleared = this.clearedAt(a, account);
    const policy = this.accountPolicy();
    this.addresses.fail(a.ip, ADDRESS_POLICY, now, cleared.address);
    if (a.device) this.devices.fail(a.device, policy, now, cleared.account);
    return this.accounts.fail(keyOf(a), policy, now, cleared.account).failures === policy.free;
  }

  /**
   * The right password: this address and browser become known, and the account's strikes go
   * unless they hold it in backoff (the real user passing from a known place must not give the
   * stranger who caused it a fresh set of free guesses).
   */
  succeeded(
    a: Attempt,
    account: AccountRow,
    now = Date.now(),
  ): { token: string; expiresAt: number } {
    if ((this.accounts.get(keyOf(a), now)?.blockedUntil ?? 0) <= now) this.accounts.clear(keyOf(a));
    if (a.device) this.devices.clear(a.device);
    this.known.rememberAddress(a.area, account.username, a.ip, now);
    return this.known.issue(a.area, account.username, now);
  }
}

const keyOf = (a: Attempt) => `${a.area}:${a.username.toLowerCase()}`;
