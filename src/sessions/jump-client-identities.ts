import { createHmac, randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import type { Db } from '../store/db.js';
import { constantTimeEqual, keyId, loadPublicKey, verifyEd25519 } from '../shared/crypto.js';
import { fieldError, GatehouseError, notFound } from '../shared/errors.js';
import type { Actor } from '../shared/actor.js';
import type { EventLog } from '../site/events.js';
import { CUSTOMER_PREFIX } from './customer-keys.js';
import { EnrolmentTokens, TOKEN_PREFIX, type TokenRow } from './enrolment-tokens.js';
import { registrationMessage } from './protocol.js';
import { secretOf, type TicketClaims } from './tickets.js';
import { sessionsErrors } from './error-codes.js';

const CHALLENGE_MS = 60_000;
const LEGACY_SETTING = 'jumpClients.legacyKeyEnrolment';
const LEGACY_CREDENTIAL = 'legacy-key';

interface InstallationRow {
  id: string;
  name: string;
  group_name: string;
  public_key: string;
  fingerprint: string;
  enrolled_with: string;
  enrolled_from: string;
  enrolled_at: number;
  revoked_at: number | null;
  revoked_by: string | null;
}

export interface Installation {
  id: string;
  name: string;
  group: string;
  /** sha256 of the installation's public key (SPKI DER), hex. */
  fingerprint: string;
  /** The enrolment token's id, or `legacy-key` (trust on first use after an upgrade). */
  enrolledWith: string;
  enrolledFrom: string;
  enrolledAt: string;
  revokedAt: string | null;
  revokedBy: string | null;
}

const toInstallation = (r: InstallationRow): Installation => ({
  id: r.id,
  name: r.name,
  group: r.group_name,
  fingerprint: r.fingerprint,
  enrolledWith: r.enrolled_with,
  enrolledFrom: r.enrolled_from,
  enrolledAt: new Date(r.enrolled_at).toISOString(),
  revokedAt: r.revoked_at === null ? null : new Date(r.revoked_at).toISOString(),
  revokedBy: r.revoked_by,
});

const nameTaken = (name: string) =>
  sessionsErrors.JUMP_CLIENT_NAME_TAKEN(
    `name: the Jump Client name "${name}" belongs to another installation of this site. Choose another name, or have an administrator revoke that installation (/login > Jump Clients) or give a token that replaces it.`,
    { fields: [{ field: 'name', message: 'belongs to another installation' }] },
  );

const revoked = () =>
  sessionsErrors.JUMP_CLIENT_REVOKED(
    'An administrator revoked this Jump Client installation. Enrol it again with a new enrolment token (/login > Jump Clients).',
  );

const legacyClosed = () =>
  sessionsErrors.JUMP_CLIENT_LEGACY_KEY_CLOSED(
    'key: this site no longer accepts the site-wide Jump Client key. Enrol the installation with an enrolment token from /login > Jump Clients (`gatehouse jump-client --token-file FILE`).',
    { fields: [{ field: 'key', message: 'the legacy Jump Client key is closed on this site' }] },
  );

/** No Jump Client takes a customer client's name (and so its place). */
function notReserved(name: string): void {
  if (name.startsWith(CUSTOMER_PREFIX))
    throw fieldError(
      'name',
      `names starting with "${CUSTOMER_PREFIX}" are the site's names for customer clients; choose another name for this Jump Client.`,
      sessionsErrors.JUMP_CLIENT_NAME_RESERVED,
    );
}

function publicKeyOf(pem: string): KeyObject {
  try {
    const key = loadPublicKey(pem);
    if (key.asymmetricKeyType === 'ed25519') return key;
  } catch {
    // reported below
  }
  throw fieldError('publicKey', 'must be an Ed25519 public key in PEM (SPKI)');
}

/**
 * The identity of each Jump Client installation. An installation generates an Ed25519 key pair
 * and enrols its public key once, with an enrolment token (or, on a site upgraded from the
 * previous release and until an administrator closes that window, with the site-wide legacy key,
 * trusting the first installation that enrols a name). The site binds the name to that key: to
 * register, the installation signs a one-use challenge; the ticket it gets names the
 * installation, and every appliance refuses a ticket for a name bound to another installation
 * or of a revoked one. Installations are a site table, so failover sync and the cluster's
 * configuration push carry them, revocations included.
 */
export class JumpClientIdentities {
  readonly tokens: EnrolmentTokens;
  /** Challenges answered, until they expire: each registers once. */
  private readonly answered = new Map<string, number>();

  constructor(
    private readonly db: Db,
    private readonly events: EventLog,
    private readonly interApplianceKey: () => string,
    private readonly legacyKey: () => string,
  ) {
    this.tokens = new EnrolmentTokens(db, events);
  }

  private byName(name: string): InstallationRow | undefined {
    return this.db
      .prepare('SELECT * FROM jump_client_installations WHERE name = ? AND revoked_at IS NULL')
      .get(name) as InstallationRow | undefined;
  }

  private byId(id: string): InstallationRow | undefined {
    return this.db.prepare('SELECT * FROM jump_client_installations WHERE id = ?').get(id) as
      InstallationRow | undefined;
  }

  list(): Installation[] {
    return (
      this.db
        .prepare('SELECT * FROM jump_client_installations ORDER BY revoked_at IS NOT NULL, name')
        .all() as InstallationRow[]
    ).map(toInstallation);
  }

  get(id: string): Installation {
    const row = this.byId(id);
    if (!row)
      throw notFound(
        `Jump Client installation ${id}`,
        'List them with GET /api/login/jump-clients/installations.',
      );
    return toInstallation(row);
  }

  legacyKeyOpen(): boolean {
    const row = this.db
      .prepare('SELECT value FROM site_settings WHERE key = ?')
      .get(LEGACY_SETTING) as { value: string } | undefined;
    return row?.value === 'true';
  }

  setLegacyKeyOpen(actor: Actor, open: boolean): void {
    if (open === this.legacyKeyOpen()) return;
    this.db.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO site_settings (key, value, updated_at) VALUES (?, ?, ?)
           ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
        )
        .run(LEGACY_SETTING, String(open), Date.now());
      this.events.record(
        actor,
        open ? 'jump-client.legacy-key.opened' : 'jump-client.legacy-key.closed',
        'site',
      );
    })();
  }

  /**
   * Bind `name` to the public key, with an enrolment token or the legacy key. Enrolling the
   * same key again answers the same installation (an answer that was lost); another key for a
   * name already bound is refused (and logged) unless the token may replace it.
   */
  enrol(
    input: { name: string; group: string; token: string; publicKey: string },
    from: string,
  ): Installation {
    notReserved(input.name);
    const key = publicKeyOf(input.publicKey);
    const fingerprint = keyId(key);
    const actor: Actor = { area: 'login', name: `jump-client:${input.name}`, ip: from };
    try {
      return this.db.transaction(() => {
        // The same key again: an enrolment whose answer was lost (its token may be spent now).
        const current = this.byName(input.name);
        if (current?.fingerprint === fingerprint) return toInstallation(current);
        const token = this.credential(input.token, input.name);
        if (current && !token?.rebind) throw nameTaken(input.name);
        if (current) this.revokeRow(current, `token ${token!.id}`);
        const row: InstallationRow = {
          id: randomUUID(),
          name: input.name,
          group_name: token?.group_name ?? input.group,
          public_key: key.export({ type: 'spki', format: 'pem' }).toString(),
          fingerprint,
          enrolled_with: token?.id ?? LEGACY_CREDENTIAL,
          enrolled_from: from,
          enrolled_at: Date.now(),
          revoked_at: null,
          revoked_by: null,
        };
        this.db
          .prepare(
            `INSERT INTO jump_client_installations (id, name, group_name, public_key, fingerprint, enrolled_with, enrolled_from, enrolled_at)
             VALUES (@id, @name, @group_name, @public_key, @fingerprint, @enrolled_with, @enrolled_from, @enrolled_at)`,
          )
          .run(row);
        if (token) this.tokens.spend(token);
        this.events.record(actor, 'jump-client.enrolled', input.name, {
          installation: row.id,
          fingerprint,
          with: row.enrolled_with,
          ...(current ? { replaced: current.id } : {}),
        });
        return toInstallation(row);
      })();
    } catch (e) {
      this.denied(actor, 'jump-client.enrolled', input.name, e, { fingerprint });
      throw e;
    }
  }

  /** The token's row, or undefined for the legacy key (trust on first use); refused otherwise. */
  private credential(given: string, name: string): TokenRow | undefined {
    if (given.startsWith(TOKEN_PREFIX)) return this.tokens.check(given, name);
    if (!constantTimeEqual(given, this.legacyKey()))
      throw sessionsErrors.JUMP_CLIENT_TOKEN_INVALID(
        'token: is not an enrolment token of this site. Ask an administrator for one (/login > Jump Clients).',
        { fields: [{ field: 'token', message: 'is not an enrolment token of this site' }] },
      );
    if (!this.legacyKeyOpen()) throw legacyClosed();
    return undefined;
  }

  /** A one-use challenge for `name`, valid a minute; stateless (MAC'd with the site's key). */
  challenge(name: string): { challenge: string; expiresAt: string } {
    const exp = Date.now() + CHALLENGE_MS;
    const body = Buffer.from(
      JSON.stringify({ name, exp, nonce: randomBytes(16).toString('base64url') }),
    ).toString('base64url');
    return {
      challenge: `${body}.${this.challengeMac(body)}`,
      expiresAt: new Date(exp).toISOString(),
    };
  }

  private challengeMac(body: string): string {
    return createHmac('sha256', secretOf(this.interApplianceKey(), 'jump-client-challenge'))
      .update(body)
      .digest('base64url');
  }

  /**
   * The installation that signed this challenge for `name`: its key must be the one bound to
   * the name, and not revoked.
   */
  register(
    input: { name: string; installation: string; challenge: string; signature: string },
    from: string,
  ): Installation {
    const actor: Actor = { area: 'login', name: `jump-client:${input.name}`, ip: from };
    try {
      this.checkChallenge(input.challenge, input.name);
      const row = this.byId(input.installation);
      if (!row)
        throw sessionsErrors.JUMP_CLIENT_NOT_ENROLLED(
          'installation: this site has no such Jump Client installation. Enrol again with an enrolment token.',
          { fields: [{ field: 'installation', message: 'is not enrolled on this site' }] },
        );
      const signed = verifyEd25519(
        loadPublicKey(row.public_key),
        registrationMessage(input.challenge),
        Buffer.from(input.signature, 'base64url'),
      );
      if (!signed)
        throw sessionsErrors.JUMP_CLIENT_SIGNATURE_INVALID(
          "signature: is not the installation's signature of the challenge.",
          { fields: [{ field: 'signature', message: 'does not verify' }] },
        );
      if (row.revoked_at !== null) throw revoked();
      if (row.name !== input.name) throw nameTaken(input.name);
      this.answered.set(input.challenge, Date.now() + CHALLENGE_MS);
      return toInstallation(row);
    } catch (e) {
      this.denied(actor, 'jump-client.registered', input.name, e, {
        installation: input.installation,
      });
      throw e;
    }
  }

  private checkChallenge(challenge: string, name: string): void {
    const now = Date.now();
    for (const [c, exp] of this.answered) if (exp < now) this.answered.delete(c);
    const [body = '', mac = ''] = challenge.split('.');
    let claims: { name?: string; exp?: number } = {};
    if (constantTimeEqual(mac, this.challengeMac(body)))
      claims = JSON.parse(Buffer.from(body, 'base64url').toString()) as typeof claims;
    if (claims.name !== name || (claims.exp ?? 0) < now || this.answered.has(challenge))
      throw sessionsErrors.JUMP_CLIENT_CHALLENGE_INVALID(
        'challenge: is not a challenge of this site for this name, or it expired or was used. Ask for a new one (POST /api/client/jump-clients/challenge).',
        { fields: [{ field: 'challenge', message: 'is unknown, expired or used' }] },
      );
  }

  /** A Jump Client of the previous release registers with the legacy key alone. */
  registerLegacy(name: string, key: string, from: string): void {
    notReserved(name);
    const actor: Actor = { area: 'login', name: `jump-client:${name}`, ip: from };
    try {
      if (!constantTimeEqual(key, this.legacyKey()))
        throw sessionsErrors.JUMP_CLIENT_KEY_WRONG(
          "key: is not this site's Jump Client key. Enrol the installation with an enrolment token from /login > Jump Clients.",
          { fields: [{ field: 'key', message: "is not this site's Jump Client key" }] },
        );
      if (!this.legacyKeyOpen()) throw legacyClosed();
      if (this.byName(name)) throw nameTaken(name);
    } catch (e) {
      this.denied(actor, 'jump-client.registered', name, e, { with: LEGACY_CREDENTIAL });
      throw e;
    }
  }

  /**
   * Whether this appliance still honours a Jump Client's ticket: not of a revoked installation,
   * not for a name bound to another one, and a legacy ticket only while the window is open.
   * An installation this appliance has not heard of yet (enrolled a moment ago on the site,
   * its push still on the way) is taken on the site's word: the ticket is the site's.
   */
  checkTicket(claims: Extract<TicketClaims, { kind: 'jump-client' }>): void {
    if (claims.representative) return;
    const bound = this.byName(claims.sub);
    if (claims.installation) {
      if (this.byId(claims.installation)?.revoked_at) throw revoked();
      if (bound && bound.id !== claims.installation) throw nameTaken(claims.sub);
      return;
    }
    if (bound) throw nameTaken(claims.sub);
    if (!this.legacyKeyOpen()) throw legacyClosed();
  }

  revoke(actor: Actor, id: string): Installation {
    return this.db.transaction(() => {
      const row = this.byId(id);
      if (!row) return this.get(id);
      if (row.revoked_at === null) {
        this.revokeRow(row, actor.name);
        this.events.record(actor, 'jump-client.revoked', row.name, {
          installation: row.id,
          fingerprint: row.fingerprint,
        });
      }
      return toInstallation(this.byId(id)!);
    })();
  }

  private revokeRow(row: InstallationRow, by: string): void {
    this.db
      .prepare('UPDATE jump_client_installations SET revoked_at = ?, revoked_by = ? WHERE id = ?')
      .run(Date.now(), by, row.id);
  }

  /** A refusal goes into the event log (a taken name is how a takeover attempt shows). */
  private denied(
    actor: Actor,
    action: string,
    name: string,
    e: unknown,
    details: Record<string, unknown>,
  ): void {
    if (!(e instanceof GatehouseError)) return;
    this.events.record(actor, action, name, { ...details, reason: e.code }, 'denied');
  }
}

/** Changes of users, settings and installations so far, and revocations among them. */
export const configChanges = (db: Db): { n: number; revocations: number } =>
  (db.prepare('SELECT n, revocations FROM config_changes WHERE id = 1').get() as
    { n: number; revocations: number } | undefined) ?? { n: 0, revocations: 0 };
