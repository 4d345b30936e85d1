import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Db } from '../store/db.js';
import { conflict, fieldError, notFound } from '../shared/errors.js';
import { hashPassword } from '../shared/crypto.js';
import type { Actor } from '../shared/actor.js';
import type { EventLog } from './events.js';
import type { SiteSettingsService } from './settings.js';
import { siteErrors } from './error-codes.js';

export const Username = z
  .string({ message: 'is required' })
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$/,
    "must be 3-64 characters: letters, digits, '.', '_' or '-', starting with a letter or digit",
  )
  // /login/users/new is the New user form, so no account may be called "new".
  .refine((u) => u.toLowerCase() !== 'new', "'new' is reserved; choose another username");

export const NewUserInput = z
  .object({
    username: Username,
    displayName: z
      .string()
      .trim()
      .min(1, 'must not be empty')
      .max(128, 'must be at most 128 characters'),
    email: z
      .union([z.literal(''), z.email('must be an e-mail address such as ann@example.com')])
      .optional(),
    password: z.string({ message: 'is required' }).max(256, 'must be at most 256 characters'),
    isAdmin: z.boolean().default(false),
  })
  .strict();
export type NewUserInput = z.infer<typeof NewUserInput>;

export const UserPatch = z
  .object({
    displayName: z
      .string()
      .trim()
      .min(1, 'must not be empty')
      .max(128, 'must be at most 128 characters')
      .optional(),
    email: z
      .union([z.literal(''), z.email('must be an e-mail address such as ann@example.com')])
      .optional(),
    password: z.string().max(256, 'must be at most 256 characters').optional(),
    isAdmin: z.boolean().optional(),
    disabled: z.boolean().optional(),
  })
  .strict();
export type UserPatch = z.infer<typeof UserPatch>;

export interface User {
  id: string;
  username: string;
  displayName: string;
  email: string;
  isAdmin: boolean;
  disabled: boolean;
  /** Raised when the user is disabled or their password changes: older console tickets die. */
  ticketGeneration: number;
  createdAt: number;
  updatedAt: number;
}

interface UserRow {
  id: string;
  username: string;
  display_name: string;
  email: string | null;
  password_hash: string;
  is_admin: number;
  disabled: number;
  ticket_generation: number;
  created_at: number;
  updated_at: number;
}

const toUser = (r: UserRow): User => ({
  id: r.id,
  username: r.username,
  displayName: r.display_name,
  email: r.email ?? '',
  isAdmin: r.is_admin === 1,
  disabled: r.disabled === 1,
  ticketGeneration: r.ticket_generation,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

/** The password rules of a site; returns what is wrong, or null when the password passes. */
export function passwordProblem(
  password: string,
  username: string,
  minLength: number,
): string | null {
  if (password.length < minLength) return `must be at least ${minLength} characters long`;
  if (username.length >= 3 && password.toLowerCase().includes(username.toLowerCase())) {
    return 'must not contain the username';
  }
  const classes = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((re) =>
    re.test(password),
  ).length;
  if (classes < 3) {
    return 'must mix at least three of: lower-case letters, upper-case letters, digits, symbols';
  }
  return null;
}

/** The /login user accounts. */
export class UserDirectory {
  constructor(
    private readonly db: Db,
    private readonly events: EventLog,
    private readonly settings: SiteSettingsService,
  ) {}

  list(): User[] {
    return (this.db.prepare('SELECT * FROM users ORDER BY username').all() as UserRow[]).map(
      toUser,
    );
  }

  find(username: string): User | undefined {
    const row = this.row(username);
    return row ? toUser(row) : undefined;
  }

  get(username: string): User {
    const user = this.find(username);
    if (!user) throw notFound(`User "${username}"`, 'Check the username on the Users page.');
    return user;
  }

  /** For authentication only: the stored row with its password hash. */
  row(username: string): UserRow | undefined {
    return this.db.prepare('SELECT * FROM users WHERE username = ?').get(username) as
      UserRow | undefined;
  }

  /**
   * Refuses a console (or session) ticket whose user was deleted, disabled, or changed password
   * since it was issued. A ticket of the previous release names no user id nor generation: it
   * holds while the user is enabled and still at generation 0.
   */
  checkTicketHolder(claims: { sub: string; uid?: string; gen?: number }, generation = true): void {
    const row = (
      claims.uid
        ? this.db.prepare('SELECT * FROM users WHERE id = ?').get(claims.uid)
        : this.row(claims.sub)
    ) as UserRow | undefined;
    if (
      !row ||
      row.disabled === 1 ||
      row.username.toLowerCase() !== claims.sub.toLowerCase() ||
      (generation && row.ticket_generation !== (claims.gen ?? 0))
    )
      throw siteErrors.CLIENT_TICKET_REVOKED(
        `The sign-in of "${claims.sub}" was revoked (the user was disabled or deleted, or their password changed). Sign in to the site again.`,
      );
  }

  private checkPassword(password: string, username: string): void {
    const problem = passwordProblem(password, username, this.settings.get().passwordMinLength);
    if (problem) throw fieldError('password', problem, siteErrors.PASSWORD_TOO_WEAK);
  }

  async create(actor: Actor, input: NewUserInput): Promise<User> {
    this.checkPassword(input.password, input.username);
    if (this.row(input.username)) {
      throw conflict(
        siteErrors.USER_EXISTS,
        `A user named "${input.username}" already exists. Choose another username or edit that user.`,
        'username',
      );
    }
    const hash = await hashPassword(input.password);
    const now = Date.now();
    const id = randomUUID();
    this.db.transaction(() => {
      if (this.row(input.username)) {
        throw conflict(
          siteErrors.USER_EXISTS,
          `A user named "${input.username}" already exists. Choose another username or edit that user.`,
          'username',
        );
      }
      this.db
        .prepare(
          `INSERT INTO users (id, username, display_name, email, password_hash, is_admin, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          id,
          input.username,
          input.displayName,
          input.email ?? '',
          hash,
          input.isAdmin ? 1 : 0,
          now,
          now,
        );
      this.events.record(actor, 'user.created', input.username, { isAdmin: input.isAdmin });
    })();
    return this.get(input.username);
  }

  async update(actor: Actor, username: string, patch: UserPatch): Promise<User> {
    const current = this.get(username);
    if (patch.password !== undefined) this.checkPassword(patch.password, current.username);
    const hash = patch.password !== undefined ? await hashPassword(patch.password) : undefined;
    this.db.transaction(() => {
      const fresh = this.get(username);
      if (
        (patch.disabled === true || patch.isAdmin === false) &&
        fresh.isAdmin &&
        !fresh.disabled
      ) {
        this.assertAnotherAdmin(
          fresh.username,
          patch.disabled === true ? 'disable' : 'remove admin rights from',
        );
      }
      if (
        patch.disabled === true &&
        actor.area === 'login' &&
        actor.name.toLowerCase() === fresh.username.toLowerCase()
      ) {
        throw conflict(
          siteErrors.USER_SELF_DISABLE,
          'You cannot disable your own account. Ask another administrator to do it.',
          'disabled',
        );
      }
      const sets: string[] = [];
      const params: unknown[] = [];
      if (patch.displayName !== undefined) {
        sets.push('display_name = ?');
        params.push(patch.displayName);
      }
      if (patch.email !== undefined) {
        sets.push('email = ?');
        params.push(patch.email);
      }
      if (patch.isAdmin !== undefined) {
        sets.push('is_admin = ?');
        params.push(patch.isAdmin ? 1 : 0);
      }
      if (patch.disabled !== undefined) {
        sets.push('disabled = ?');
        params.push(patch.disabled ? 1 : 0);
      }
      if (hash !== undefined) {
        // A new password also lifts the sign-in backoff of the account (see SignInGuard).
        sets.push('password_hash = ?');
        params.push(hash);
      }
      // Every console ticket of the user dies with the old password or the account's disabling.
      if (hash !== undefined || (patch.disabled === true && !fresh.disabled))
        sets.push('ticket_generation = ticket_generation + 1');
      if (sets.length === 0) return;
      sets.push('updated_at = ?');
      params.push(Date.now(), fresh.id);
      this.db.prepare(`UPDATE users SET ${sets.join(', ')} WHERE id = ?`).run(...params);
      if (patch.disabled === true || hash !== undefined) {
        this.db
          .prepare(`DELETE FROM auth_sessions WHERE area = 'login' AND principal = ?`)
          .run(fresh.username);
      }
      const changed = Object.keys(patch).filter((k) => k !== 'password');
      this.events.record(actor, 'user.updated', fresh.username, {
        changed: hash !== undefined ? [...changed, 'password'] : changed,
      });
    })();
    return this.get(username);
  }

  delete(actor: Actor, username: string): void {
    this.db.transaction(() => {
      const user = this.get(username);
      if (actor.area === 'login' && actor.name.toLowerCase() === user.username.toLowerCase()) {
        throw conflict(
          siteErrors.USER_SELF_DELETE,
          'You cannot delete your own account. Ask another administrator to do it.',
        );
      }
      if (user.isAdmin && !user.disabled) this.assertAnotherAdmin(user.username, 'delete');
      this.db.prepare('DELETE FROM users WHERE id = ?').run(user.id);
      this.db
        .prepare(`DELETE FROM auth_sessions WHERE area = 'login' AND principal = ?`)
        .run(user.username);
      this.events.record(actor, 'user.deleted', user.username);
    })();
  }

  private assertAnotherAdmin(username: string, verb: string): void {
    const others = this.db
      .prepare(
        'SELECT count(*) AS n FROM users WHERE is_admin = 1 AND disabled = 0 AND username <> ?',
      )
      .get(username) as { n: number };
    if (others.n === 0) {
      throw siteErrors.USER_LAST_ADMIN(
        `Cannot ${verb} "${username}": it is the last enabled administrator. Make another user an administrator first.`,
      );
    }
  }
}
