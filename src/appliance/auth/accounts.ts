import type { Db } from '../../store/db.js';
import { DUMMY_PASSWORD_HASH, hashPassword, verifyPassword } from '../../shared/crypto.js';
import { fieldError } from '../../shared/errors.js';
import { StrikeTable } from './strikes.js';
import type { Actor } from '../../shared/actor.js';
import type { EventLog } from '../../site/events.js';
import { passwordProblem } from '../../site/users.js';
import { sharedErrors } from '../../shared/error-codes.js';
import { applianceErrors } from '../error-codes.js';
import { siteErrors } from '../../site/error-codes.js';

/** Five wrong current passwords, then 5 s, 10 s… up to 15 minutes between tries. */
const WRONG_CURRENT_POLICY = { free: 5, capMs: 15 * 60_000 };

/**
 * The /appliance administrator accounts. They belong to this appliance alone (not synchronised,
 * not in backups), apart from the /login users of the site.
 */
export class ApplianceAdmins {
  private readonly wrongCurrent = new StrikeTable();

  constructor(
    private readonly db: Db,
    private readonly events: EventLog,
  ) {}

  async create(username: string, password: string): Promise<void> {
    const now = Date.now();
    this.db
      .prepare(
        'INSERT INTO appliance_admins (username, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?)',
      )
      .run(username, await hashPassword(password), now, now);
  }

  row(username: string):
    | {
        username: string;
        password_hash: string;
        updated_at: number;
      }
    | undefined {
    return this.db
      .prepare('SELECT * FROM appliance_admins WHERE username = ?')
      .get(username) as never;
  }

  /**
   * Change an administrator's own password; the current one must be given. Wrong current
   * passwords are slowed like sign-ins (a stolen session must not become a password oracle),
   * and the change ends every other /appliance session of the administrator.
   */
  async changePassword(
    actor: Actor,
    current: string,
    next: string,
    minLength: number,
    sessionId: string,
  ): Promise<void> {
    const now = Date.now();
    const blockedUntil = this.wrongCurrent.get(actor.name, now)?.blockedUntil ?? 0;
    const row = this.row(actor.name);
    const ok = await verifyPassword(current, row?.password_hash ?? DUMMY_PASSWORD_HASH);
    if (blockedUntil > now) {
      const seconds = Math.ceil((blockedUntil - now) / 1000);
      throw sharedErrors.AUTH_THROTTLED(
        `Too many wrong current passwords for "${actor.name}". Wait ${seconds} s and try again.`,
        { headers: { 'retry-after': String(seconds) } },
      );
    }
    if (!row || !ok) {
      this.wrongCurrent.fail(actor.name, WRONG_CURRENT_POLICY, now);
      throw fieldError(
        'currentPassword',
        'is not your current password',
        applianceErrors.AUTH_INVALID_CREDENTIALS,
      );
    }
    const problem = passwordProblem(next, actor.name, minLength);
    if (problem) throw fieldError('newPassword', problem, siteErrors.PASSWORD_TOO_WEAK);
    const hash = await hashPassword(next);
    this.db.transaction(() => {
      this.db
        .prepare('UPDATE appliance_admins SET password_hash = ?, updated_at = ? WHERE username = ?')
        .run(hash, Date.now(), actor.name);
      const ended = this.db
        .prepare(
          `DELETE FROM auth_sessions WHERE area = 'appliance' AND principal = ? AND token_hash <> ?`,
        )
        .run(actor.name, sessionId).changes;
      this.events.record(actor, 'appliance.admin.password_changed', actor.name, {
        endedSessions: ended,
      });
    })();
    this.wrongCurrent.clear(actor.name);
  }
}
