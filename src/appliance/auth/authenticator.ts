import type { Db } from '../../store/db.js';

import {
  DUMMY_PASSWORD_HASH,
  hmacHex,
  randomToken,
  sha256Hex,
  verifyPassword,
  constantTimeEqual,
} from '../../shared/crypto.js';
import type { EventLog } from '../../site/events.js';
import type { SiteSettingsService } from '../../site/settings.js';
import type { UserDirectory } from '../../site/users.js';
import type { ApplianceAdmins } from './accounts.js';
import { LoginThrottle } from '../../shared/throttle.js';
import type { Area, AuthSession } from '../../shared/http/operations.js';
import { SignInGuard, signInThrottled } from './sign-in-guard.js';
import { applianceErrors } from '../error-codes.js';

const ABSOLUTE_LIFETIME_MS = 12 * 3600_000;
const TOUCH_EVERY_MS = 60_000;

const badCredentials = () =>
  applianceErrors.AUTH_INVALID_CREDENTIALS(
    'The username or password is not correct. Check both and try again.',
    { status: 401 },
  );

/**
 * Sign-in for the two admin areas, each with its own accounts and its own sessions. Tokens are
 * random; only their sha256 is stored. CSRF tokens are an HMAC of the session token, so they
 * need no storage and die with the session.
 */
export class Authenticator {
  /** Per-address throttle of the client keys (Jump Client key, session keys). */
  readonly throttle = new LoginThrottle();
  private readonly guard: SignInGuard;

  constructor(
    private readonly db: Db,
    private readonly events: EventLog,
    private readonly admins: ApplianceAdmins,
    private readonly users: UserDirectory,
    private readonly settings: SiteSettingsService,
    private readonly csrfSecret: string,
  ) {
    this.guard = new SignInGuard(db, settings, csrfSecret);
  }

  /**
   * Check a sign-in: the backoff of the account and the address (see SignInGuard), the
   * password, and for the /login area an enabled account (an administrator, unless a
   * representative console signs in). Every answer costs one password hash, and a username
   * without an account is answered exactly like a wrong password. Success returns a device
   * token that lets this browser pass the account's backoff next time.
   */
  async checkCredentials(
    area: Area,
    username: string,
    password: string,
    ip: string,
    needs: 'administrator' | 'representative',
    device?: string,
  ): Promise<{ username: string; device: { token: string; expiresAt: number } }> {
    const account = area === 'appliance' ? this.admins.row(username) : this.users.row(username);
    const attempt = { area, username, ip, device };
    const actor = { area, name: username, ip } as const;
    const now = Date.now();
    const blockedUntil = this.guard.blockedUntil(attempt, account, now);
    const ok = await verifyPassword(password, account?.password_hash ?? DUMMY_PASSWORD_HASH);
    if (blockedUntil > now || !account || !ok) {
      // An attempt during the backoff counts whatever its password: counting only wrong ones
      // would tell by the answer's time whether the password was right.
      if (this.guard.failed(attempt, account, now))
        this.events.record(actor, 'auth.backoff', area, {}, 'denied');
      const blocked = blockedUntil > now;
      this.events.record(
        actor,
        'auth.login',
        area,
        { reason: blocked ? 'backoff' : 'bad credentials' },
        'denied',
      );
      throw blocked ? signInThrottled(blockedUntil - now) : badCredentials();
    }
    if (area === 'login') {
      const user = this.users.get(username);
      if (user.disabled) {
        this.events.record(actor, 'auth.login', area, { reason: 'disabled' }, 'denied');
        throw applianceErrors.AUTH_ACCOUNT_DISABLED(
          'This account is disabled. Ask an administrator to enable it.',
        );
      }
      if (needs === 'administrator' && !user.isAdmin) {
        this.events.record(actor, 'auth.login', area, { reason: 'not an administrator' }, 'denied');
        throw applianceErrors.AUTH_NOT_ADMIN(
          'This account may use the representative console but not /login. Ask an administrator to grant administrator rights.',
        );
      }
    }
    return { username: account.username, device: this.guard.succeeded(attempt, account, now) };
  }

  async login(
    area: Area,
    username: string,
    password: string,
    ip: string,
    device?: string,
  ): Promise<AuthSession & { token: string; device: { token: string; expiresAt: number } }> {
    const account = await this.checkCredentials(
      area,
      username,
      password,
      ip,
      'administrator',
      device,
    );
    const now = Date.now();
    const actor = { area, name: username, ip } as const;
    const token = randomToken(32);
    const expiresAt = now + ABSOLUTE_LIFETIME_MS;
    this.db.transaction(() => {
      this.db
        .prepare(
          'INSERT INTO auth_sessions (token_hash, area, principal, created_at, last_seen_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)',
        )
        .run(sha256Hex(token), area, account.username, now, now, expiresAt);
      this.db.prepare('DELETE FROM auth_sessions WHERE expires_at < ?').run(now);
      this.events.record({ ...actor, name: account.username }, 'auth.login', area);
    })();
    return {
      id: sha256Hex(token),
      token,
      area,
      principal: account.username,
      csrfToken: this.csrfFor(token),
      expiresAt,
      device: account.device,
    };
  }

  /** The session a token belongs to, or null if it is unknown, expired, idle too long or revoked. */
  authenticate(area: Area, token: string | undefined): AuthSession | null {
    if (!token) return null;
    const row = this.db
      .prepare('SELECT * FROM auth_sessions WHERE token_hash = ? AND area = ?')
      .get(sha256Hex(token), area) as
      | { token_hash: string; principal: string; last_seen_at: number; expires_at: number }
      | undefined;
    if (!row) return null;
    const now = Date.now();
    const idleMs = this.settings.get().sessionIdleMinutes * 60_000;
    if (row.expires_at < now || row.last_seen_at + idleMs < now) {
      this.db.prepare('DELETE FROM auth_sessions WHERE token_hash = ?').run(row.token_hash);
      return null;
    }
    if (area === 'login') {
      const user = this.users.find(row.principal);
      if (!user || user.disabled || !user.isAdmin) return null;
    }
    if (now - row.last_seen_at > TOUCH_EVERY_MS) {
      this.db
        .prepare('UPDATE auth_sessions SET last_seen_at = ? WHERE token_hash = ?')
        .run(now, row.token_hash);
    }
    const csrfFor = (t: string) => this.csrfFor(t);
    return {
      id: row.token_hash,
      area,
      principal: row.principal,
      // Computed when read: most requests (bearer tokens, safe methods) never need it.
      get csrfToken() {
        return csrfFor(token);
      },
      expiresAt: row.expires_at,
    };
  }

  logout(area: Area, token: string, ip: string): void {
    const row = this.db
      .prepare('SELECT principal FROM auth_sessions WHERE token_hash = ?')
      .get(sha256Hex(token)) as { principal: string } | undefined;
    this.db.prepare('DELETE FROM auth_sessions WHERE token_hash = ?').run(sha256Hex(token));
    if (row) this.events.record({ area, name: row.principal, ip }, 'auth.logout', area);
  }

  csrfFor(sessionToken: string): string {
    return hmacHex(this.csrfSecret, `session:${sessionToken}`);
  }

  /** CSRF token for forms shown before sign-in, bound to a random pre-session cookie. */
  preSessionCsrf(preToken: string): string {
    return hmacHex(this.csrfSecret, `pre:${preToken}`);
  }

  checkCsrf(expected: string, given: string | undefined): boolean {
    return given !== undefined && constantTimeEqual(expected, given);
  }
}
