import { AutomaticUpdates, InstallSafety, UpdateServerConfig } from '../update-settings.js';
import { KeyBody as DownloadKeyBody } from './api.js';
import { parseInput } from '../../shared/http/operations.js';
import * as kit from '../../shared/web/kit.js';
import { readUpload } from '../../shared/web/multipart.js';
import { updatesPage, type UpdatesForm } from './pages-view.js';
import { sendClientInstaller } from './client-installers.js';
import type { UpdatesSite } from './site.js';
import { updatesErrors } from '../error-codes.js';

type PageContext = kit.PageContext<UpdatesSite>;

const PAGE = '/appliance/updates';

/** A number field: blank is missing (zod says "is required"), anything else is parsed. */
const numberOf = (s: string | undefined) => (s?.trim() ? Number(s) : undefined);

const idOf = (ctx: PageContext) => (ctx.req.params as { id: string }).id;

/** Run a form's action; on a refusal, show the page again with the error where it belongs. */
async function act(
  ctx: PageContext,
  form: UpdatesForm,
  action: () => Promise<string> | string,
  opts: { id?: string; values?: Record<string, string | undefined> } = {},
) {
  try {
    return kit.redirect(ctx.reply, PAGE, await action());
  } catch (e) {
    return updatesPage(ctx, {
      failed: { form, problem: kit.formErrors(e), id: opts.id },
      values: opts.values,
    });
  }
}

const installing = (p: { kind: string; version: string }) =>
  `Installing ${p.kind} ${p.version}: the appliance restarts on the new software and checks itself; this page follows the install.`;

/**
 * /appliance > Updates (S8, S10, S11, S13): the same domain calls as the Updates API, as forms.
 * Every route needs the /appliance session; every form its CSRF token.
 */
export function registerUpdatesPages(p: kit.Pages<UpdatesSite>, appliance: UpdatesSite): void {
  p.get(PAGE, (ctx) => updatesPage(ctx));

  // S8: Check for updates, Available Updates, Install This Update.
  p.post(`${PAGE}/check`, (ctx) =>
    act(ctx, 'check', async () => {
      const found = await appliance.updateService.check(ctx.actor);
      return found.length === 0
        ? 'This appliance is up to date: the update server has nothing newer for it.'
        : `The update server offers ${found.length} update${found.length === 1 ? '' : 's'}, listed in install order.`;
    }),
  );
  p.post(`${PAGE}/available/:id/install`, (ctx) =>
    act(
      ctx,
      'available',
      async () =>
        installing(await appliance.updateService.installAvailable(ctx.actor, idOf(ctx), false)),
      { id: idOf(ctx) },
    ),
  );
  // S11: once downloaded, the package leaves Available Updates for Downloaded packages.
  p.post(`${PAGE}/available/:id/download`, (ctx) =>
    act(
      ctx,
      'available',
      async () => {
        const s = await appliance.updateService.download(ctx.actor, idOf(ctx));
        return `Downloaded ${s.kind} ${s.version}; it is under Downloaded packages.`;
      },
      { id: idOf(ctx) },
    ),
  );

  // S10: Manual Installation, streamed to staging and verified before it is kept.
  p.upload(`${PAGE}/upload`, async (ctx, parts) => {
    const form = await readUpload(parts, 'file', (file) =>
      appliance.updates.stageUpload(file.content),
    );
    if (form.result) {
      const s = form.result;
      appliance.events.record(ctx.actor, 'updates.uploaded', `${s.kind} ${s.version}`, {
        sha256: s.sha256,
      });
      return kit.redirect(
        ctx.reply,
        PAGE,
        `Uploaded ${s.kind} ${s.version}; it is under Downloaded packages. Install it with Update Software.`,
      );
    }
    const problem = form.chosen
      ? kit.formErrors(form.error)
      : {
          fields: {},
          message: 'file: choose the package file (.ghpkg) to upload',
          status: 400,
        };
    // Errors of the file itself (corrupt, truncated, foreign signer) belong beside its field.
    problem.fields = { file: problem.fields.file ?? problem.message };
    return updatesPage(ctx, { failed: { form: 'upload', problem } });
  });
  p.post(`${PAGE}/staged/:id/install`, (ctx) =>
    act(
      ctx,
      'staged',
      async () =>
        installing(
          await appliance.updates.install(idOf(ctx), ctx.actor, {
            force: kit.ticked(kit.formBody(ctx).force),
          }),
        ),
      { id: idOf(ctx) },
    ),
  );
  // S22, S30: only a cluster's primary node has traffic nodes to distribute to.
  p.post(`${PAGE}/staged/:id/distribute`, (ctx) =>
    act(
      ctx,
      'staged',
      async () => {
        const s = appliance.updates.get(idOf(ctx));
        const { results } = await appliance.cluster.distribute(ctx.actor, s.id);
        const failed = results.filter((r) => !r.ok);
        if (failed.length)
          throw updatesErrors.DISTRIBUTE_FAILED(
            `${s.kind} ${s.version} reached ${results.length - failed.length} of ${results.length} traffic nodes; ${failed.map((f) => `${f.node}: ${f.error}`).join('; ')}. Retry once they are reachable.`,
          );
        return `Distributed ${s.kind} ${s.version} to ${results.length} traffic nodes; install it on each from its Updates page.`;
      },
      { id: idOf(ctx) },
    ),
  );
  p.post(`${PAGE}/staged/:id/remove`, (ctx) =>
    act(
      ctx,
      'staged',
      async () => {
        const s = appliance.updates.get(idOf(ctx));
        await appliance.updates.removeStaged(s.id);
        appliance.events.record(ctx.actor, 'updates.staged-removed', `${s.kind} ${s.version}`);
        return `Removed ${s.kind} ${s.version} from Downloaded packages.`;
      },
      { id: idOf(ctx) },
    ),
  );
  // S13: the console and Jump Client of a staged version, before the appliance runs it.
  p.get(`${PAGE}/staged/:id/installers/:client`, (ctx) =>
    sendClientInstaller(appliance, ctx.reply, {
      id: idOf(ctx),
      client: (ctx.req.params as { client: string }).client,
      actor: ctx.actor,
      requestHost: ctx.req.headers.host ?? '',
    }),
  );

  // S10: the key is shown once, on the answer to the form (never in a URL).
  p.post(`${PAGE}/download-key`, (ctx) => {
    const values = { ttlHours: kit.formBody(ctx).ttlHours };
    try {
      const { ttlHours } = parseInput(
        DownloadKeyBody,
        { ttlHours: numberOf(values.ttlHours) },
        'body',
      );
      return updatesPage(ctx, {
        key: appliance.updateService.downloadKey(ctx.actor, ttlHours),
        values: { ttlHours: String(ttlHours) },
      });
    } catch (e) {
      return updatesPage(ctx, { failed: { form: 'key', problem: kit.formErrors(e) }, values });
    }
  });

  p.get(`${PAGE}/backups/:name`, (ctx) => {
    const { name } = ctx.req.params as { name: string };
    const stream = appliance.updates.openBackup(ctx.actor, name);
    return ctx.reply
      .header('content-type', 'application/octet-stream')
      .header('content-disposition', `attachment; filename="${name}"`)
      .send(stream);
  });

  // Settings: the same schemas as the API, so the errors name the same fields.
  p.post(`${PAGE}/server`, (ctx) => {
    const { url, fingerprint, registrationToken } = kit.formBody(ctx);
    const values = {
      url: url?.trim(),
      fingerprint: fingerprint?.trim(),
      registrationToken: registrationToken?.trim() || undefined,
    };
    return act(
      ctx,
      'server',
      () => {
        appliance.updateSettings.setServer(
          ctx.actor,
          parseInput(UpdateServerConfig, values, 'body'),
        );
        return `Saved the update server ${values.url}.`;
      },
      // The token is not echoed back into the form.
      { values: { ...values, registrationToken: undefined } },
    );
  });
  p.post(`${PAGE}/automatic`, (ctx) => {
    const body = kit.formBody(ctx);
    const values = { enabled: body.enabled, dailyAt: body.dailyAt?.trim() };
    return act(
      ctx,
      'automatic',
      () => {
        const auto = parseInput(
          AutomaticUpdates,
          { enabled: kit.ticked(values.enabled), dailyAt: values.dailyAt || undefined },
          'body',
        );
        appliance.updateSettings.setAutomatic(ctx.actor, auto, appliance.standing);
        return auto.enabled
          ? `Automatic updates are on, daily at ${auto.dailyAt}.`
          : 'Automatic updates are off.';
      },
      { values },
    );
  });
  p.post(`${PAGE}/reserve`, (ctx) => {
    const values = { reserveMiB: kit.formBody(ctx).reserveMiB };
    return act(
      ctx,
      'reserve',
      () => {
        const { reserveMiB } = parseInput(
          InstallSafety,
          { reserveMiB: numberOf(values.reserveMiB) },
          'body',
        );
        appliance.updateSettings.setReserveMiB(ctx.actor, reserveMiB);
        return `Installs now keep ${reserveMiB} MiB free.`;
      },
      { values },
    );
  });
}
