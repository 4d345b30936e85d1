import { constantTimeEqual, hmacHex } from '../../shared/crypto.js';
import type { Area } from '../../shared/http/operations.js';

/** How long a browser (device cookie) or an address stays known after a successful sign-in. */
export const KNOWN_FOR_MS = 30 * 24 * 3600_000;
const MAX_ACCOUNTS = 10_000;
const ADDRESSES_PER_ACCOUNT = 16;

const accountKey = (area: Area, username: string) => `${area}:${username.toLowerCase()}`;

/**
 * Who has signed in to an account before: a browser holding a device cookie (an HMAC of the
 * area, username and expiry under this appliance's secret, so it needs no storage and cannot
 * be made by anyone else), or an address that signed in to it within KNOWN_FOR_MS (kept in
 * memory: scripts and the CLI hold no cookie). The backoff of a guessed-at account does not
 * block them, so a stranger cannot lock the real user out.
 */
export class KnownDevices {
  private readonly addresses = new Map<string, Map<string, number>>();

  constructor(private readonly secret: string) {}

  issue(area: Area, username: string, now = Date.now()): { token: string; expiresAt: number } {
    const expiresAt = now + KNOWN_FOR_MS;
    const body = `${expiresAt}.${Buffer.from(username.toLowerCase()).toString('base64url')}`;
    return { token: `${body}.${this.mac(area, body)}`, expiresAt };
  }

  knowsDevice(area: Area, username: string, token: string | undefined, now = Date.now()): boolean {
    const m = /^(\d{1,15})\.([A-Za-z0-9_-]{1,100})\.([0-9a-f]{64})$/.exec(token ?? '');
    if (!m) return false;
    const [, expires, user, mac] = m as unknown as [string, string, string, string];
    return (
      constantTimeEqual(this.mac(area, `${expires}.${user}`), mac) &&
      Number(expires) > now &&
      Buffer.from(user, 'base64url').toString() === username.toLowerCase()
    );
  }

  rememberAddress(area: Area, username: string, ip: string, now = Date.now()): void {
    const key = accountKey(area, username);
    const seen = this.addresses.get(key) ?? new Map<string, number>();
    seen.delete(ip);
    seen.set(ip, now);
    if (seen.size > ADDRESSES_PER_ACCOUNT) seen.delete(seen.keys().next().value!);
    this.addresses.delete(key);
    this.addresses.set(key, seen);
    if (this.addresses.size > MAX_ACCOUNTS)
      this.addresses.delete(this.addresses.keys().next().value!);
  }

  knowsAddress(area: Area, username: string, ip: string, now = Date.now()): boolean {
    const at = this.addresses.get(accountKey(area, username))?.get(ip);
    return at !== undefined && now - at < KNOWN_FOR_MS;
  }

  private mac(area: Area, body: string): string {
    return hmacHex(this.secret, `device:${area}:${body}`);
  }
}
