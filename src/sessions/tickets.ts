import { createHmac } from 'node:crypto';
import { z } from 'zod';
import { constantTimeEqual } from '../shared/crypto.js';
import { sessionsErrors } from './error-codes.js';

/**
 * Client tickets: what a console or Jump Client shows the appliance that relays it. The site
 * (the appliance the hostname resolves to) checks credentials and issues a ticket; any
 * appliance holding the same Inter-Appliance key (its failover peer, the cluster's traffic
 * nodes) can check it without a database lookup. The ticket secret is derived from the key, so
 * the key itself never leaves the appliance and rotating it revokes every ticket.
 */
/**
 * Which user account, at which ticket generation, a console's ticket stands for. Disabling,
 * deleting the user or changing their password raises (or ends) the generation, and every
 * appliance refuses the older tickets. Absent in a ticket of the previous release: generation 0.
 */
const userBinding = { uid: z.string().optional(), gen: z.number().int().optional() };

export const TicketClaims = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('console'),
    /** The site user. */
    sub: z.string(),
    ...userBinding,
    exp: z.number(),
  }),
  z.object({
    kind: z.literal('jump-client'),
    /** The Jump Client's name; unique on the site. */
    sub: z.string(),
    group: z.string(),
    /**
     * A customer client's: the representative whose session key it joined with. Only that
     * representative sees it and starts sessions through it.
     */
    representative: z.string().optional(),
    /**
     * The Jump Client installation the site checked (its enrolled key pair); absent in a ticket
     * from the site-wide legacy key, or in a customer client's.
     */
    installation: z.string().optional(),
    exp: z.number(),
  }),
  z.object({
    /** One session's data connections: the console's and the Jump Client's leg. */
    kind: z.literal('session'),
    sub: z.string(),
    session: z.string(),
    jumpClient: z.string(),
    target: z.string(),
    ...userBinding,
    exp: z.number(),
  }),
  z.object({
    /**
     * Resumes one leg of a resumable session after its connection broke, at any appliance of
     * the site (they share the Inter-Appliance key): issued to each end with every ACCEPT, one
     * generation per part of the session; an older generation is a replay (docs/clients.md).
     */
    kind: z.literal('resume'),
    /** The console's user, or `jump-client:<name>` for the Jump Client's leg. */
    sub: z.string(),
    representative: z.string(),
    session: z.string(),
    jumpClient: z.string(),
    target: z.string(),
    gen: z.number().int().min(1),
    /**
     * The console's user account and its ticket generation when the session opened: a password
     * change, like a disable, ends the right to resume (absent in a token of the previous release).
     */
    uid: z.string().optional(),
    ugen: z.number().int().optional(),
    /** Milliseconds the session was paused before this generation's part began. */
    paused: z.number().min(0),
    exp: z.number(),
  }),
]);
export type TicketClaims = z.infer<typeof TicketClaims>;
export type TicketKind = TicketClaims['kind'];

/** A secret for one purpose, derived from the Inter-Appliance key (which never leaves). */
export const secretOf = (interApplianceKey: string, purpose: string) =>
  createHmac('sha256', interApplianceKey).update(`gatehouse-${purpose}-v1`).digest();

const mac = (interApplianceKey: string, body: string) =>
  createHmac('sha256', secretOf(interApplianceKey, 'client-ticket'))
    .update(body)
    .digest('base64url');

export function issueTicket(interApplianceKey: string, claims: TicketClaims): string {
  const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
  return `gt1.${body}.${mac(interApplianceKey, body)}`;
}

/** The claims of a valid, unexpired ticket of this kind (or one of these); a clear 401 otherwise. */
export function verifyTicket<K extends TicketKind>(
  interApplianceKey: string,
  ticket: string | undefined,
  kind: K | readonly K[],
  now = Date.now(),
): Extract<TicketClaims, { kind: K }> {
  const [version, body, given] = (ticket ?? '').split('.');
  const kinds: readonly TicketKind[] = typeof kind === 'string' ? [kind] : kind;
  const what = kinds.length > 1 ? 'client ticket' : `${kinds[0]} ticket`;
  if (
    version !== 'gt1' ||
    !body ||
    !given ||
    !constantTimeEqual(given, mac(interApplianceKey, body))
  )
    throw sessionsErrors.CLIENT_TICKET_INVALID(
      `The ${what} is missing or not valid on this appliance (signed on a site with another Inter-Appliance key, or altered). Sign in to the site again.`,
    );
  const parsed = TicketClaims.safeParse(JSON.parse(Buffer.from(body, 'base64url').toString()));
  if (!parsed.success || !kinds.includes(parsed.data.kind))
    throw sessionsErrors.CLIENT_TICKET_INVALID(`This is not a ${what}. Sign in again.`);
  if (parsed.data.exp < now)
    throw sessionsErrors.CLIENT_TICKET_EXPIRED(
      `The ${what} has expired. Sign in to the site again.`,
    );
  return parsed.data as Extract<TicketClaims, { kind: K }>;
}

/**
 * The Jump Client enrolment key of the site: what a Jump Client installation presents to
 * register. Derived from the Inter-Appliance key, so every appliance of the site (failover
 * peer, traffic nodes) accepts the same one, and one leaked from a remote computer reveals
 * nothing of the Inter-Appliance key.
 */
export const jumpClientKeyOf = (interApplianceKey: string) =>
  secretOf(interApplianceKey, 'jump-client-enrolment').toString('base64url');
