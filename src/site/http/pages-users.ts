import { parseInput } from '../../shared/http/operations.js';
import { NewUserInput, UserPatch, type User } from '../users.js';
import { formatTime, html, tableHead } from '../../shared/web/html.js';
import * as kit from '../../shared/web/kit.js';
import type { PageContext, Pages, SiteDataSite } from './site.js';

const userPath = (username: string) => `/login/users/${encodeURIComponent(username)}`;
const yes = (v: boolean, label = 'Yes') => (v ? html`<span class="tag">${label}</span>` : '');

function listPage(ctx: PageContext) {
  const users = ctx.appliance.users.list();
  return kit.layout(
    ctx,
    'Users',
    html`<div class="toolbar">
        <a class="button" href="/login/users/new" id="new-user">New user</a>
      </div>
      <table id="users" class="list">
        ${tableHead(['Username', 'Display name', 'E-mail', 'Admin', 'Disabled', ''])}
        <tbody>
          ${users.map(
            (u) =>
              html`<tr data-username="${u.username}">
                <td><a href="${userPath(u.username)}">${u.username}</a></td>
                <td>${u.displayName}</td>
                <td>${u.email}</td>
                <td>${yes(u.isAdmin, 'Admin')}</td>
                <td>${u.disabled ? html`<span class="tag off">Disabled</span>` : ''}</td>
                <td class="actions"><a href="${userPath(u.username)}">Edit</a></td>
              </tr>`,
          )}
        </tbody>
      </table>`,
  );
}

interface NewValues {
  username: string;
  displayName: string;
  email: string;
  isAdmin: boolean;
}

function newPage(ctx: PageContext, values: NewValues, problem: kit.FormProblem) {
  ctx.reply.code(problem.status);
  return kit.layout(
    ctx,
    'New user',
    html`${kit.formAlert(problem, ['username', 'displayName', 'email', 'password', 'isAdmin'])}
      <form method="post" action="/login/users/new" id="user-form" class="stacked">
        ${kit.csrfInput(ctx)}
        ${kit.field('Username', 'username', values.username, problem.fields, { required: true, help: "3-64 letters, digits, '.', '_' or '-'" })}
        ${kit.field('Display name', 'displayName', values.displayName, problem.fields, { required: true })}
        ${kit.field('E-mail', 'email', values.email, problem.fields, { type: 'email' })}
        ${kit.field('Password', 'password', '', problem.fields, { type: 'password', required: true, autocomplete: 'new-password', help: passwordHelp(ctx) })}
        ${kit.checkbox('Administrator', 'isAdmin', values.isAdmin, problem.fields)}
        <div class="buttons">
          <button type="submit">Create user</button> <a href="/login/users">Cancel</a>
        </div>
      </form>`,
  );
}

const passwordHelp = (ctx: PageContext) =>
  `At least ${ctx.appliance.settings.get().passwordMinLength} characters, mixing three of: lower case, upper case, digits, symbols`;

interface EditValues {
  displayName: string;
  email: string;
  isAdmin: boolean;
  disabled: boolean;
}

function editPage(ctx: PageContext, user: User, values: EditValues, problem: kit.FormProblem) {
  ctx.reply.code(problem.status);
  return kit.layout(
    ctx,
    `User ${user.username}`,
    html`${kit.formAlert(problem, ['displayName', 'email', 'password', 'isAdmin', 'disabled'])}
      <dl class="facts">
        <dt>Created</dt>
        <dd>${formatTime(user.createdAt)}</dd>
        <dt>Last changed</dt>
        <dd>${formatTime(user.updatedAt)}</dd>
      </dl>
      <form method="post" action="${userPath(user.username)}" id="user-form" class="stacked">
        ${kit.csrfInput(ctx)}
        ${kit.field('Display name', 'displayName', values.displayName, problem.fields, { required: true })}
        ${kit.field('E-mail', 'email', values.email, problem.fields, { type: 'email' })}
        ${kit.field('New password', 'password', '', problem.fields, { type: 'password', autocomplete: 'new-password', help: `Leave blank to keep the current password. ${passwordHelp(ctx)}` })}
        ${kit.checkbox('Administrator', 'isAdmin', values.isAdmin, problem.fields)}
        ${kit.checkbox('Disabled (cannot sign in)', 'disabled', values.disabled, problem.fields)}
        <div class="buttons">
          <button type="submit">Save</button> <a href="/login/users">Cancel</a>
        </div>
      </form>
      <section class="danger-zone">
        <h2>Delete this user</h2>
        <p class="note">The account and its sessions are removed; its entries in the logs stay.</p>
        ${kit.actionButton(ctx, `${userPath(user.username)}/delete`, `Delete ${user.username}`, 'danger')}
      </section>`,
  );
}

const editValues = (u: User): EditValues => ({
  displayName: u.displayName,
  email: u.email,
  isAdmin: u.isAdmin,
  disabled: u.disabled,
});

/** Users: the /login accounts. */
export function registerUserPages(p: Pages, appliance: SiteDataSite): void {
  p.get('/login/users', (ctx) => listPage(ctx));

  p.get('/login/users/new', (ctx) =>
    newPage(ctx, { username: '', displayName: '', email: '', isAdmin: false }, kit.NO_PROBLEM),
  );

  p.post('/login/users/new', async (ctx) => {
    const body = kit.formBody(ctx);
    const values: NewValues = {
      username: (body.username ?? '').trim(),
      displayName: body.displayName ?? '',
      email: (body.email ?? '').trim(),
      isAdmin: kit.ticked(body.isAdmin),
    };
    try {
      const input = parseInput(NewUserInput, { ...values, password: body.password ?? '' }, 'body');
      const user = await appliance.users.create(ctx.actor, input);
      return kit.redirect(ctx.reply, '/login/users', `Created user ${user.username}.`);
    } catch (e) {
      return newPage(ctx, values, kit.formErrors(e));
    }
  });

  p.get('/login/users/:username', (ctx) => {
    const user = appliance.users.get((ctx.req.params as { username: string }).username);
    return editPage(ctx, user, editValues(user), kit.NO_PROBLEM);
  });

  p.post('/login/users/:username', async (ctx) => {
    const user = appliance.users.get((ctx.req.params as { username: string }).username);
    const body = kit.formBody(ctx);
    const values: EditValues = {
      displayName: body.displayName ?? '',
      email: (body.email ?? '').trim(),
      isAdmin: kit.ticked(body.isAdmin),
      disabled: kit.ticked(body.disabled),
    };
    try {
      const patch = parseInput(
        UserPatch,
        { ...values, ...(body.password ? { password: body.password } : {}) },
        'body',
      );
      await appliance.users.update(ctx.actor, user.username, patch);
      return kit.redirect(ctx.reply, '/login/users', `Saved user ${user.username}.`);
    } catch (e) {
      return editPage(ctx, user, values, kit.formErrors(e));
    }
  });

  p.post('/login/users/:username/delete', (ctx) => {
    const user = appliance.users.get((ctx.req.params as { username: string }).username);
    try {
      appliance.users.delete(ctx.actor, user.username);
      return kit.redirect(ctx.reply, '/login/users', `Deleted user ${user.username}.`);
    } catch (e) {
      return editPage(ctx, user, editValues(user), kit.formErrors(e));
    }
  });
}
