import { randomUUID } from 'node:crypto';
import { constantTimeEqual, randomToken, sha256Hex } from '../shared/crypto.js';
import { validationError } from '../shared/errors.js';
import type { Actor } from '../shared/actor.js';
import type { EventLog } from '../site/events.js';
import type { Db } from '../store/db.js';
import { readApplianceSetting, writeApplianceSetting } from '../store/appliance-settings.js';
import { monitoringErrors } from './error-codes.js';

/** Kept in appliance_settings: scrape tokens belong to this appliance, never synced. */
const KEY = 'monitoring.scrape-tokens';
const PREFIX = 'ghm_';

export interface ScrapeToken {
  id: string;
  label: string;
  createdAt: string;
  createdBy: string;
}

interface StoredToken extends ScrapeToken {
  /** sha256 of the token: the token itself is shown once, at creation. */
  hash: string;
}

/**
 * The bearer tokens Prometheus scrapes `/metrics` with. An /appliance administrator creates
 * one per scraper and revokes it alone; only a hash is stored, so the token is shown once.
 * Tokens are 32 random bytes, so a plain sha256 is as good as a slow hash here.
 */
export class ScrapeTokens {
  private cache: StoredToken[] | undefined;

  constructor(
    private readonly db: Db,
    private readonly events: EventLog,
  ) {}

  list(): ScrapeToken[] {
    return this.stored().map(shown);
  }

  create(actor: Actor, label: string): ScrapeToken & { token: string } {
    const trimmed = label.trim();
    if (!/^[\w .@-]{1,64}$/.test(trimmed))
      throw validationError([
        {
          field: 'label',
          message:
            'must be 1 to 64 letters, digits, spaces or ._@- (name the scraper, e.g. "prometheus-1")',
        },
      ]);
    if (this.stored().some((t) => t.label === trimmed))
      throw monitoringErrors.SCRAPE_TOKEN_EXISTS(
        `label: a scrape token named "${trimmed}" exists. Revoke it first or choose another label.`,
        { fields: [{ field: 'label', message: 'is already used by another token' }] },
      );
    const token = PREFIX + randomToken(32);
    const entry: StoredToken = {
      id: randomUUID(),
      label: trimmed,
      createdAt: new Date().toISOString(),
      createdBy: actor.name,
      hash: sha256Hex(token),
    };
    this.db.transaction(() => {
      this.write([...this.stored(), entry]);
      this.events.record(actor, 'monitoring.scrape-token-created', trimmed, { id: entry.id });
    })();
    return { ...shown(entry), token };
  }

  revoke(actor: Actor, id: string): void {
    const all = this.stored();
    const gone = all.find((t) => t.id === id);
    if (!gone)
      throw monitoringErrors.SCRAPE_TOKEN_NOT_FOUND(
        `No scrape token has the id ${id}. List them with GET /api/appliance/monitoring/tokens.`,
      );
    this.db.transaction(() => {
      this.write(all.filter((t) => t !== gone));
      this.events.record(actor, 'monitoring.scrape-token-revoked', gone.label, { id });
    })();
  }

  /** Whether `token` is a scrape token that was not revoked. */
  verify(token: string | undefined): boolean {
    if (!token?.startsWith(PREFIX)) return false;
    const hash = sha256Hex(token);
    // Compare every entry so the time taken does not tell which one nearly matched.
    return this.stored().reduce((ok, t) => constantTimeEqual(t.hash, hash) || ok, false);
  }

  private stored(): StoredToken[] {
    if (!this.cache) {
      this.cache = readApplianceSetting<StoredToken[]>(this.db, KEY) ?? [];
    }
    return this.cache;
  }

  private write(tokens: StoredToken[]): void {
    writeApplianceSetting(this.db, KEY, tokens);
    // Read again after the change: a rolled-back transaction must not leave a token valid.
    this.cache = undefined;
  }
}

const shown = (t: StoredToken): ScrapeToken => ({
  id: t.id,
  label: t.label,
  createdAt: t.createdAt,
  createdBy: t.createdBy,
});
