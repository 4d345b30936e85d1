import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { wholeNumber } from '../shared/whole-number.js';
import type { Db } from '../store/db.js';
import { randomToken, sha256Hex } from '../shared/crypto.js';
import { notFound } from '../shared/errors.js';
import type { Actor } from '../shared/actor.js';
import type { EventLog } from '../site/events.js';
import { sessionsErrors } from './error-codes.js';

/** A Jump Client's (or group's) name: what the site lists and binds to one installation. */
export const JumpClientName = z
  .string({ message: 'is required' })
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "must be 1-64 letters, digits, '.', '_' or '-'");

export const NewEnrolmentToken = z
  .object({
    uses: wholeNumber(1, 1000).default(1),
    expiresInHours: wholeNumber(1, 720, { max: '30 days' }).default(24),
    /** Only a Jump Client of this name may enrol with the token. */
    name: JumpClientName.optional(),
    /** The group its installations are enrolled in (else the one the Jump Client gives). */
    group: JumpClientName.optional(),
    /**
     * The enrolment replaces the installation that holds the name now (a reinstalled computer).
     * Only with `name`: a token never lets one take over any name.
     */
    rebind: z.boolean().default(false),
  })
  .strict()
  .refine((t) => !t.rebind || t.name !== undefined, {
    path: ['rebind'],
    message: 'needs a name: a token that replaces an installation names the one it replaces',
  });
export type NewEnrolmentToken = z.infer<typeof NewEnrolmentToken>;

/** How enrolment tokens start: the site-wide legacy key never does. */
export const TOKEN_PREFIX = 'gjt1_';

export interface TokenRow {
  id: string;
  token_hash: string;
  name: string | null;
  group_name: string | null;
  rebind: number;
  uses_left: number;
  expires_at: number;
  created_by: string;
  created_at: number;
}

export interface EnrolmentToken {
  id: string;
  name: string | null;
  group: string | null;
  rebind: boolean;
  usesLeft: number;
  expiresAt: string;
  createdBy: string;
  createdAt: string;
}

const toToken = (r: TokenRow): EnrolmentToken => ({
  id: r.id,
  name: r.name,
  group: r.group_name,
  rebind: r.rebind === 1,
  usesLeft: r.uses_left,
  expiresAt: new Date(r.expires_at).toISOString(),
  createdBy: r.created_by,
  createdAt: new Date(r.created_at).toISOString(),
});

/**
 * Enrolment tokens (in the manner of Teleport's join tokens): an administrator creates one for
 * a number of uses and a time; a Jump Client installation presents it once, with the public key
 * it generated, to bind its name to that key. Only the token's hash is kept; the token itself is
 * shown once. A site table: a failover backup or a backup primary node knows them too.
 */
export class EnrolmentTokens {
  constructor(
    private readonly db: Db,
    private readonly events: EventLog,
  ) {}

  create(actor: Actor, input: NewEnrolmentToken): EnrolmentToken & { token: string } {
    const token = TOKEN_PREFIX + randomToken(32);
    const now = Date.now();
    const row: TokenRow = {
      id: randomUUID(),
      token_hash: sha256Hex(token),
      name: input.name ?? null,
      group_name: input.group ?? null,
      rebind: input.rebind ? 1 : 0,
      uses_left: input.uses,
      expires_at: now + input.expiresInHours * 3600_000,
      created_by: actor.name,
      created_at: now,
    };
    this.db.transaction(() => {
      // Expired tokens go when a new one comes (a used-up one went with its last use).
      this.db.prepare('DELETE FROM jump_client_tokens WHERE expires_at < ?').run(now);
      this.db
        .prepare(
          `INSERT INTO jump_client_tokens (id, token_hash, name, group_name, rebind, uses_left, expires_at, created_by, created_at)
           VALUES (@id, @token_hash, @name, @group_name, @rebind, @uses_left, @expires_at, @created_by, @created_at)`,
        )
        .run(row);
      // The token is a secret: the event names its id and limits, never the token.
      this.events.record(actor, 'jump-client.token.created', row.id, {
        uses: input.uses,
        expiresAt: new Date(row.expires_at).toISOString(),
        ...(input.name ? { name: input.name } : {}),
        rebind: input.rebind,
      });
    })();
    return { ...toToken(row), token };
  }

  /** Tokens that can still enrol: uses left, not expired. */
  list(): EnrolmentToken[] {
    return (
      this.db
        .prepare('SELECT * FROM jump_client_tokens WHERE expires_at >= ? ORDER BY created_at')
        .all(Date.now()) as TokenRow[]
    ).map(toToken);
  }

  delete(actor: Actor, id: string): void {
    const gone = this.db.prepare('DELETE FROM jump_client_tokens WHERE id = ?').run(id).changes;
    if (!gone)
      throw notFound(
        `Enrolment token ${id}`,
        'List the tokens with GET /api/login/jump-clients/tokens; a spent or expired one is gone already.',
      );
    this.events.record(actor, 'jump-client.token.deleted', id);
  }

  /**
   * The token's row when it may enrol `name` now (call inside the enrolment's transaction, then
   * `spend`); a clear refusal otherwise.
   */
  check(token: string, name: string): TokenRow {
    const row = this.db
      .prepare('SELECT * FROM jump_client_tokens WHERE token_hash = ?')
      .get(sha256Hex(token)) as TokenRow | undefined;
    if (!row || row.uses_left <= 0 || row.expires_at < Date.now())
      throw sessionsErrors.JUMP_CLIENT_TOKEN_INVALID(
        'token: is not an enrolment token of this site, or it was used up or expired. Ask an administrator for a new one (/login > Jump Clients).',
        { fields: [{ field: 'token', message: 'is unknown, used up or expired' }] },
      );
    if (row.name !== null && row.name !== name)
      throw sessionsErrors.JUMP_CLIENT_TOKEN_OTHER_NAME(
        `name: this enrolment token is for the Jump Client "${row.name}" only.`,
        { fields: [{ field: 'name', message: `must be "${row.name}" with this token` }] },
      );
    return row;
  }

  spend(row: TokenRow): void {
    if (row.uses_left <= 1)
      this.db.prepare('DELETE FROM jump_client_tokens WHERE id = ?').run(row.id);
    else
      this.db
        .prepare('UPDATE jump_client_tokens SET uses_left = uses_left - 1 WHERE id = ?')
        .run(row.id);
  }
}
