import type { FastifyReply, FastifyRequest } from 'fastify';

import type { Appliance } from '../context.js';
import type { Area, AuthSession } from '../../shared/http/operations.js';
import { sharedErrors } from '../../shared/error-codes.js';
import { applianceErrors } from '../error-codes.js';

export const sessionCookie = (area: Area) => `__Host-gh-${area}`;
export const PRE_SESSION_COOKIE = '__Host-gh-pre';
/** The browser's proof that it signed in to an account before (see KnownDevices). */
export const deviceCookie = (area: Area) => `__Host-gh-device-${area}`;

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

function bearer(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  return h?.startsWith('Bearer ') ? h.slice(7).trim() : undefined;
}

/**
 * The API accepts a bearer token (scripts, the orchestrator, the CLI) or the browser's session
 * cookie; with the cookie, an unsafe method must also carry the CSRF token in `x-csrf-token`.
 */
export function requireApiSession(
  appliance: Appliance,
  area: Area,
  req: FastifyRequest,
): AuthSession {
  const token = bearer(req);
  if (token) {
    const session = appliance.auth.authenticate(area, token);
    if (session) return session;
    throw unauthenticated(area);
  }
  const cookieToken = req.cookies[sessionCookie(area)];
  const session = appliance.auth.authenticate(area, cookieToken);
  if (!session || !cookieToken) throw unauthenticated(area);
  if (!SAFE.has(req.method)) {
    const given = req.headers['x-csrf-token'];
    if (
      !appliance.auth.checkCsrf(session.csrfToken, typeof given === 'string' ? given : undefined)
    ) {
      throw sharedErrors.CSRF_TOKEN_INVALID(
        'The x-csrf-token header is missing or wrong. Send the csrfToken returned at sign-in (or use a bearer token).',
      );
    }
  }
  return session;
}

export function unauthenticated(area: Area) {
  return applianceErrors.AUTH_REQUIRED(
    `Sign in to the /${area} area first: POST /api/${area}/session with a username and password, then send "Authorization: Bearer <token>".`,
    { headers: { 'www-authenticate': `Bearer realm="${area}"` } },
  );
}

export function setSessionCookie(
  reply: FastifyReply,
  area: Area,
  token: string,
  expiresAt: number,
): void {
  reply.setCookie(sessionCookie(area), token, {
    path: '/',
    httpOnly: true,
    secure: true,
    sameSite: 'strict',
    expires: new Date(expiresAt),
  });
}

export function clearSessionCookie(reply: FastifyReply, area: Area): void {
  reply.clearCookie(sessionCookie(area), {
    path: '/',
    httpOnly: true,
    secure: true,
    sameSite: 'strict',
  });
}

/**
 * Sign in to an area from a request (API or web form): the browser's device cookie lets it
 * pass the account's backoff; the session and a fresh device cookie are set on the reply.
 */
export async function signInWithCookies(
  appliance: Appliance,
  area: Area,
  credentials: { username: string; password: string },
  req: FastifyRequest,
  reply: FastifyReply,
) {
  const { username, password } = credentials;
  const device = req.cookies[deviceCookie(area)];
  const session = await appliance.auth.login(area, username, password, req.ip, device);
  setSessionCookie(reply, area, session.token, session.expiresAt);
  setDeviceCookie(reply, area, session.device);
  return session;
}

function setDeviceCookie(
  reply: FastifyReply,
  area: Area,
  device: { token: string; expiresAt: number },
): void {
  reply.setCookie(deviceCookie(area), device.token, {
    path: '/',
    httpOnly: true,
    secure: true,
    sameSite: 'strict',
    expires: new Date(device.expiresAt),
  });
}
