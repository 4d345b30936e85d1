import type { FastifyReply, FastifyRequest } from 'fastify';
import { LoginThrottle } from '../../shared/throttle.js';
import {
  DUMMY_PASSWORD_HASH,
  constantTimeEqual,
  hmacHex,
  randomToken,
  sha256Hex,
  verifyPassword,
} from '../../shared/crypto.js';

import type { UpdateStore } from './store.js';
import { updatesErrors } from '../error-codes.js';

export const SESSION_COOKIE = '__Host-ghus-admin';
export const PRE_SESSION_COOKIE = '__Host-ghus-pre';
const SESSION_LIFETIME_MS = 8 * 3600_000;
const COOKIE = { path: '/', httpOnly: true, secure: true, sameSite: 'strict' } as const;

export interface AdminSession {
  token: string;
  csrfToken: string;
}

/**
 * The update server's one operator: a password (scrypt hash set at init), random session
 * tokens stored as their sha256, CSRF tokens that are an HMAC of the session token, and a
 * per-address throttle of failed sign-ins.
 */
export class AdminAuth {
  // One operator and one password: a guesser gets a handful of tries a minute per address.
  readonly throttle = new LoginThrottle(5, 60_000);

  constructor(private readonly store: UpdateStore) {}

  private get csrfSecret(): string {
    return this.store.setting('csrf_secret')!;
  }

  async signIn(password: string, ip: string, now = Date.now()): Promise<AdminSession> {
    this.throttle.check(ip, now);
    const hash = this.store.setting('admin_password_hash');
    const ok = await verifyPassword(password, hash ?? DUMMY_PASSWORD_HASH);
    if (!hash || !ok) {
      this.throttle.fail(ip, now);
      throw updatesErrors.ADMIN_INVALID_PASSWORD(
        'The operator password is not correct. It was set (or generated and printed) by `gatehouse update-server init`.',
        { fields: [{ field: 'password', message: 'is not correct' }] },
      );
    }
    const token = randomToken(32);
    this.store.addAdminSession(sha256Hex(token), now, now + SESSION_LIFETIME_MS);
    return { token, csrfToken: this.csrfFor(token) };
  }

  /** The session of this request's cookie, or null. */
  session(req: FastifyRequest, now = Date.now()): AdminSession | null {
    const token = req.cookies[SESSION_COOKIE];
    if (!token || !this.store.adminSession(sha256Hex(token), now)) return null;
    return { token, csrfToken: this.csrfFor(token) };
  }

  signOut(session: AdminSession): void {
    this.store.removeAdminSession(sha256Hex(session.token));
  }

  checkCsrf(expected: string, given: unknown): boolean {
    return typeof given === 'string' && constantTimeEqual(expected, given);
  }

  private csrfFor(token: string): string {
    return hmacHex(this.csrfSecret, `csrf:${token}`);
  }

  setSessionCookie(reply: FastifyReply, token: string): void {
    reply.setCookie(SESSION_COOKIE, token, { ...COOKIE, maxAge: SESSION_LIFETIME_MS / 1000 });
  }

  clearSessionCookie(reply: FastifyReply): void {
    reply.clearCookie(SESSION_COOKIE, COOKIE);
  }

  /** Sign-in form CSRF before there is a session: a random cookie and its HMAC in the form. */
  preSessionToken(req: FastifyRequest, reply: FastifyReply): string {
    let pre = req.cookies[PRE_SESSION_COOKIE];
    if (!pre || pre.length < 20) {
      pre = randomToken(24);
      reply.setCookie(PRE_SESSION_COOKIE, pre, COOKIE);
    }
    return hmacHex(this.csrfSecret, `pre:${pre}`);
  }

  checkPreSessionToken(req: FastifyRequest, given: unknown): boolean {
    const pre = req.cookies[PRE_SESSION_COOKIE];
    return !!pre && this.checkCsrf(hmacHex(this.csrfSecret, `pre:${pre}`), given);
  }
}
