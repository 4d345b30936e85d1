import { z } from 'zod';
import type { Area } from '../../shared/http/operations.js';
import { clearSessionCookie, signInWithCookies, sessionCookie } from './auth.js';
import { applianceOperationsOf, type ApplianceOperation } from './operation.js';

const Credentials = z
  .object({
    username: z
      .string({ message: 'is required' })
      .min(1, 'is required')
      .max(64, 'must be at most 64 characters'),
    password: z
      .string({ message: 'is required' })
      .min(1, 'is required')
      .max(256, 'must be at most 256 characters'),
  })
  .strict();

const SessionResponse = z.object({
  token: z.string(),
  csrfToken: z.string(),
  principal: z.string(),
  expiresAt: z.string(),
});

/** Sign-in and sign-out for one admin area. */
export function sessionOperations(area: Area): ApplianceOperation[] {
  const tag = area === 'appliance' ? 'appliance' : 'login';
  const signIn = applianceOperationsOf({ area: 'public', tag });
  const signedIn = applianceOperationsOf({ area, tag });
  return [
    signIn(`${area}SignIn`, `POST /api/${area}/session`, {
      summary: `Sign in to the /${area} area; returns a bearer token and sets the session cookie`,
      body: Credentials,
      response: { status: 201, description: 'Signed in', schema: SessionResponse },
      handler: async ({ body, appliance, req, reply }) => {
        const session = await signInWithCookies(appliance, area, body, req, reply);
        return {
          token: session.token,
          csrfToken: session.csrfToken,
          principal: session.principal,
          expiresAt: new Date(session.expiresAt).toISOString(),
        };
      },
    }),
    signedIn(`${area}SignOut`, `DELETE /api/${area}/session`, {
      summary: `Sign out of the /${area} area`,
      response: { status: 204, description: 'Signed out' },
      handler: ({ appliance, req, reply }) => {
        const h = req.headers.authorization;
        const token = h?.startsWith('Bearer ') ? h.slice(7) : req.cookies[sessionCookie(area)];
        if (token) appliance.auth.logout(area, token, req.ip);
        clearSessionCookie(reply, area);
      },
    }),
  ];
}
