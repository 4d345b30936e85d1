import { createWriteStream, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';

import { writeFileAtomicSync } from '../shared/fs.js';
import type { Endpoint } from '../clients/tunnel.js';
import { RepresentativeConsole } from '../clients/console.js';
import { IntegrationClient } from '../clients/integration.js';
import { inspectPackage } from '../updates/package.js';
import { credentialsOf } from './inventory.js';
import { compareIntegrity, finalRoles, type Snapshot } from './integrity-check.js';
import type { Action } from './plan-types.js';
import { verifySession } from './prober.js';
import { siteEndpoint } from './site.js';
import { inScope, type ExecContext } from './exec-context.js';
import { orchestratorErrors } from './error-codes.js';

/** Steps that check and keep the site's data: backups, integrity snapshots, verification. */

/** A backup of one appliance, kept in the run's work directory. */
export async function backup(ctx: ExecContext, appliance: string) {
  const dir = path.join(ctx.workDir, 'backups');
  mkdirSync(dir, { recursive: true });
  const file = path.join(
    dir,
    `${appliance}-${new Date().toISOString().replace(/[:.]/g, '-')}.ghbackup`,
  );
  const body = await ctx.deployment.call<Readable>(
    appliance,
    'GET',
    '/api/appliance/backup',
    undefined,
    { stream: true },
  );
  await pipeline(body, createWriteStream(file, { mode: 0o600 }));
  return { file };
}

export async function verify(ctx: ExecContext, a: Extract<Action, { type: 'verify' }>) {
  const d = ctx.deployment;
  const target = ctx.plan.target.product;
  for (const name of a.appliances) {
    const h = await d.health(name);
    if (h.status !== 200 || !h.ready)
      throw orchestratorErrors.VERIFY_UNHEALTHY(`${name} is not healthy (HTTP ${h.status}).`);
    if (target && h.productVersion !== target)
      throw orchestratorErrors.VERIFY_WRONG_VERSION(
        `${name} runs ${h.productVersion}, not ${target}.`,
      );
  }
  const creds = credentialsOf(d.inventory, d.entry(a.via)).login;
  const name = `orchestrator-verify-${Date.now()}`;
  // The probe's Jump Client enrols its own key, once, for this name only.
  const jumpToken = (
    await d.call<{ token: string }>(a.via, 'POST', '/api/login/jump-clients/tokens', {
      uses: 1,
      expiresInHours: 1,
      name,
    })
  ).token;
  const direct = d.entry(a.via);
  const endpoint: Endpoint = a.site
    ? siteEndpoint(d.inventory)
    : { ...d.address(a.via), fingerprint: direct.fingerprint, alsoTrust: [] };
  const session = await verifySession(endpoint, { ...creds, jumpToken }, ctx.echo, name);
  if (!a.site) return { versions: target, session };
  // Consoles follow the site (S12): download its console build through the site, as a console
  // of the old build does, and check it is a whole package of the version the site runs. (Each
  // console checks the signature against its own release keys before installing it.)
  const rep = await RepresentativeConsole.signIn(endpoint, creds.username, creds.password);
  const file = path.join(ctx.workDir, `console-build-${Date.now()}.ghpkg`);
  try {
    const builds = await rep.api.consoleBuilds(rep.signIn.ticket);
    const current = builds.builds.find((b) => b.current);
    if (!current)
      throw orchestratorErrors.VERIFY_NO_CONSOLE_BUILD(
        `The site runs ${builds.siteVersion} but holds no console build of it: consoles cannot follow it (S12). Upload the product package of ${builds.siteVersion} to the site's Updates page.`,
      );
    mkdirSync(ctx.workDir, { recursive: true });
    await rep.api.downloadConsoleBuild(rep.signIn.ticket, file);
    const pkg = await inspectPackage(file).catch((e: Error) => {
      throw orchestratorErrors.VERIFY_CONSOLE_BUILD_DAMAGED(
        `The console build the site hands out is not a valid package (${e.message}): consoles cannot follow it (S12).`,
      );
    });
    // A base-only upgrade keeps the product, and so the console build, of the site.
    const expected = target ?? builds.siteVersion;
    if (pkg.manifest.version !== expected || pkg.sha256 !== current.sha256)
      throw orchestratorErrors.VERIFY_CONSOLE_BUILD_WRONG(
        `The site hands out console build ${pkg.manifest.version} (sha256 ${pkg.sha256}), not ${expected} as listed (sha256 ${current.sha256}): consoles would not follow it (S12).`,
      );
  } finally {
    rmSync(file, { force: true });
    await rep.close();
  }
  // The Integration Client keeps extracting data through the site after a switch (S20).
  const exported = await new IntegrationClient({
    site: endpoint,
    ...creds,
    dir: path.join(ctx.workDir, 'integration-export'),
  }).export();
  return {
    versions: target,
    session,
    consoleBuild: target ?? 'unchanged',
    integrationExport: { sessions: exported.sessions, events: exported.events },
  };
}

export async function integrity(ctx: ExecContext, phase: 'before' | 'after') {
  const d = ctx.deployment;
  const names = inScope(ctx.plan);
  const snaps: Record<string, Snapshot> = Object.fromEntries(
    await Promise.all(
      names.map(
        async (n) =>
          [n, await d.call<Snapshot>(n, 'GET', '/api/login/integrity?ids=true')] as const,
      ),
    ),
  );
  mkdirSync(ctx.workDir, { recursive: true });
  writeFileSync(path.join(ctx.workDir, `integrity-${phase}.json`), JSON.stringify(snaps));
  if (phase === 'before') return { appliances: names.length };
  const before = JSON.parse(
    readFileSync(path.join(ctx.workDir, 'integrity-before.json'), 'utf8'),
  ) as Record<string, Snapshot>;
  const { finalPrimary, copies } = finalRoles(ctx.plan);
  const result = compareIntegrity(before, snaps, finalPrimary, copies, ctx.plan.topology.primary);
  // Kept apart from the journal too, so the report shows a failed comparison in full.
  writeFileAtomicSync(
    path.join(ctx.workDir, 'integrity-result.json'),
    JSON.stringify(result),
    0o644,
  );
  if (result.lost.length || result.mismatched.length)
    throw orchestratorErrors.UPGRADE_DATA_LOST(
      `Integrity check failed: ${[...result.lost, ...result.mismatched].join('; ')}. The backups taken before the upgrade are in ${ctx.workDir}/backups.`,
    );
  return result;
}
