import { createWriteStream, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { GatehouseError, isGatehouseError } from '../shared/errors.js';
import { compareVersions } from '../shared/version.js';
import { writeFileAtomicSync } from '../shared/fs.js';
import { until } from '../shared/until.js';
import type { Endpoint } from '../clients/tunnel.js';
import { RepresentativeConsole } from '../clients/console.js';
import { IntegrationClient } from '../clients/integration.js';
import { inspectPackage } from '../updates/package.js';
import { actingPrimary, type Deployment } from './deployment.js';
import { credentialsOf } from './inventory.js';
import { compareIntegrity, finalRoles, type Snapshot } from './integrity-check.js';
import { waitDrained } from './drain.js';
import type { Action, Plan, PlannedPackage } from './plan-types.js';
import { verifySession } from './prober.js';
import { siteEndpoint } from './site.js';

export interface ExecContext {
  deployment: Deployment;
  plan: Plan;
  /** Where backups, integrity snapshots and probe data of this run are kept. */
  workDir: string;
  echo: string;
  log: (line: string) => void;
  /** This step already ran into its drain deadline once (a resume). */
  waitedBefore?: boolean;
}

const INSTALL_DEADLINE_MS = 180_000;

/** Every appliance the plan touches. */
export const inScope = (plan: Plan) => [
  ...new Set([
    plan.topology.primary,
    ...(plan.topology.backup ? [plan.topology.backup] : []),
    ...plan.topology.trafficNodes.map((n) => n.name),
  ]),
];

async function stagedIds(d: Deployment, name: string): Promise<Set<string>> {
  const s = await d.call<{ staged: { id: string }[] }>(name, 'GET', '/api/appliance/updates');
  return new Set(s.staged.map((p) => p.id));
}

async function stage(ctx: ExecContext, name: string, pkgs: PlannedPackage[]) {
  const have = await stagedIds(ctx.deployment, name);
  const staged: string[] = [];
  for (const p of pkgs) {
    if (have.has(p.id)) continue;
    if (p.file) {
      const res = await ctx.deployment.call<{ id: string }>(
        name,
        'POST',
        '/api/appliance/updates/upload',
        undefined,
        { raw: readFileSync(p.file) },
      );
      if (res.id !== p.id)
        throw new GatehouseError(
          'UPGRADE_PACKAGE_CHANGED',
          409,
          `${p.file} changed since the plan was made (sha256 ${res.id}, planned ${p.id}). Plan again.`,
        );
    } else {
      await ctx.deployment.call(name, 'POST', '/api/appliance/updates/check', {});
      await ctx.deployment.call(
        name,
        'POST',
        `/api/appliance/updates/available/${p.serverId ?? p.id}/download`,
        {},
      );
    }
    staged.push(`${p.kind} ${p.version}`);
  }
  return { staged };
}

/**
 * Stage a package that is missing (e.g. a damaged copy the appliance removed): a traffic node
 * gets it the runbook's way, by Distribute to Cluster from the primary node that holds it.
 */
async function restage(ctx: ExecContext, name: string, p: PlannedPackage) {
  const d = ctx.deployment;
  const primary = ctx.plan.topology.trafficNodes.some((n) => n.name === name)
    ? await actingPrimary(d, ctx.plan)
    : undefined;
  if (primary && (await stagedIds(d, primary)).has(p.id)) {
    const r = await d.call<{ results: { node: string; ok: boolean; error?: string }[] }>(
      primary,
      'POST',
      `/api/appliance/updates/${p.id}/distribute`,
    );
    const mine = r.results.find((x) => x.node === name);
    if (mine && !mine.ok)
      throw new GatehouseError(
        'UPGRADE_DISTRIBUTE_FAILED',
        502,
        `${p.kind} ${p.version} did not reach ${name} from ${primary} (${mine.error}).`,
      );
    ctx.log(`  ${name}: ${p.kind} ${p.version} distributed to it again from ${primary}`);
    return { staged: [`${p.kind} ${p.version}`] };
  }
  return stage(ctx, name, [p]);
}

/** Install each package in order unless the appliance already runs it; wait until it serves it. */
async function install(ctx: ExecContext, name: string, pkgs: PlannedPackage[]) {
  const d = ctx.deployment;
  const installed: string[] = [];
  for (const p of pkgs) {
    // A resumed run may find the appliance restarting from the install it started.
    const h = (await until(
      async () => {
        const r = await d.health(name);
        return r.status === 200 || r.update ? r : false;
      },
      INSTALL_DEADLINE_MS,
      `${name} to answer`,
      250,
    )) as Awaited<ReturnType<typeof d.health>>;
    const running = p.kind === 'base' ? h.baseVersion : h.productVersion;
    if (compareVersions(running, p.version) >= 0 && !h.update) continue;
    if (!(await stagedIds(d, name)).has(p.id)) await restage(ctx, name, p);
    const since = Date.now() - 1_000;
    if (!h.update) await d.call(name, 'POST', `/api/appliance/updates/staged/${p.id}/install`, {});
    ctx.log(`  ${name}: installing ${p.kind} ${p.version}…`);
    // `until` retries on errors: a definite failure is kept here and ends the wait.
    let fatal: GatehouseError | undefined;
    await until(
      async () => {
        const now = await d.health(name).catch(() => undefined);
        if (!now || now.status !== 200 || now.update) return false;
        const v = p.kind === 'base' ? now.baseVersion : now.productVersion;
        if (v === p.version) return true;
        // Running, not installing, still the old version: the install failed or was rolled back.
        const s = await d.call<{
          install: { phase: string; error?: { message: string } } | null;
          lastResult: { ok: boolean; at?: string; reason?: string } | null;
        }>(name, 'GET', '/api/appliance/updates');
        if (s.install?.phase === 'failed')
          fatal = new GatehouseError(
            'UPGRADE_INSTALL_FAILED',
            502,
            `${name}: the install of ${p.kind} ${p.version} failed before switching (${s.install.error?.message ?? 'no reason given'}); ${name} still runs ${v}.`,
          );
        else if (
          !s.install &&
          s.lastResult &&
          !s.lastResult.ok &&
          Date.parse(s.lastResult.at ?? '') >= since
        )
          fatal = new GatehouseError(
            'UPGRADE_INSTALL_ROLLED_BACK',
            502,
            `${name}: ${p.kind} ${p.version} did not pass its health check and was rolled back (${s.lastResult.reason ?? 'no reason given'}); ${name} runs ${v} again.`,
          );
        return !!fatal;
      },
      INSTALL_DEADLINE_MS,
      `${name} to run ${p.kind} ${p.version}`,
      250,
    ).catch((e: unknown) => {
      throw new GatehouseError('UPGRADE_INSTALL_TIMEOUT', 504, (e as Error).message);
    });
    if (fatal) throw fatal;
    installed.push(`${p.kind} ${p.version}`);
  }
  return { installed };
}

/**
 * Install on several appliances at once. Each install is idempotent on its own, so a resumed
 * step redoes only what is missing; the step fails after every install has ended, naming each
 * appliance that did not make it.
 */
async function installMany(ctx: ExecContext, names: string[], pkgs: PlannedPackage[]) {
  const results = await Promise.allSettled(names.map((n) => install(ctx, n, pkgs)));
  const failed = results.flatMap((r, i) =>
    r.status === 'rejected' ? [{ name: names[i]!, error: r.reason as Error }] : [],
  );
  if (failed.length) {
    const first = failed[0]!.error;
    const done = names.filter((_, i) => results[i]!.status === 'fulfilled');
    throw new GatehouseError(
      isGatehouseError(first) ? first.code : 'UPGRADE_INSTALL_FAILED',
      isGatehouseError(first) ? first.status : 502,
      `${failed.map((f) => f.error.message).join(' ')}${done.length ? ` ${done.join(', ')} installed.` : ''}`,
    );
  }
  return Object.fromEntries(
    names.map((n, i) => [
      n,
      (results[i] as PromiseFulfilledResult<{ installed: string[] }>).value.installed,
    ]),
  );
}

async function verify(ctx: ExecContext, a: Extract<Action, { type: 'verify' }>) {
  const d = ctx.deployment;
  const target = ctx.plan.target.product;
  for (const name of a.appliances) {
    const h = await d.health(name);
    if (h.status !== 200 || !h.ready)
      throw new GatehouseError(
        'VERIFY_UNHEALTHY',
        502,
        `${name} is not healthy (HTTP ${h.status}).`,
      );
    if (target && h.productVersion !== target)
      throw new GatehouseError(
        'VERIFY_WRONG_VERSION',
        502,
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
      throw new GatehouseError(
        'VERIFY_NO_CONSOLE_BUILD',
        502,
        `The site runs ${builds.siteVersion} but holds no console build of it: consoles cannot follow it (S12). Upload the product package of ${builds.siteVersion} to the site's Updates page.`,
      );
    mkdirSync(ctx.workDir, { recursive: true });
    await rep.api.downloadConsoleBuild(rep.signIn.ticket, file);
    const pkg = await inspectPackage(file).catch((e: Error) => {
      throw new GatehouseError(
        'VERIFY_CONSOLE_BUILD_DAMAGED',
        502,
        `The console build the site hands out is not a valid package (${e.message}): consoles cannot follow it (S12).`,
      );
    });
    // A base-only upgrade keeps the product, and so the console build, of the site.
    const expected = target ?? builds.siteVersion;
    if (pkg.manifest.version !== expected || pkg.sha256 !== current.sha256)
      throw new GatehouseError(
        'VERIFY_CONSOLE_BUILD_WRONG',
        502,
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

async function integrity(ctx: ExecContext, phase: 'before' | 'after') {
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
    throw new GatehouseError(
      'UPGRADE_DATA_LOST',
      500,
      `Integrity check failed: ${[...result.lost, ...result.mismatched].join('; ')}. The backups taken before the upgrade are in ${ctx.workDir}/backups.`,
    );
  return result;
}

/** Carry out one step. Each is idempotent: it looks at the appliance first and does only what is missing. */
export async function execute(ctx: ExecContext, action: Action): Promise<unknown> {
  const d = ctx.deployment;
  const pkgs = ctx.plan.packages;
  switch (action.type) {
    case 'integrity':
      return integrity(ctx, action.phase);
    case 'backup': {
      const dir = path.join(ctx.workDir, 'backups');
      mkdirSync(dir, { recursive: true });
      const file = path.join(
        dir,
        `${action.appliance}-${new Date().toISOString().replace(/[:.]/g, '-')}.ghbackup`,
      );
      const body = await d.call<Readable>(
        action.appliance,
        'GET',
        '/api/appliance/backup',
        undefined,
        { stream: true },
      );
      await pipeline(body, createWriteStream(file, { mode: 0o600 }));
      return { file };
    }
    case 'sync': {
      const f = await d.call<{ relationship: unknown }>(
        action.primary,
        'GET',
        '/api/login/failover',
      );
      if (!f.relationship)
        throw new GatehouseError(
          'UPGRADE_NOT_PAIRED',
          409,
          `${action.primary} has no failover relationship to sync.`,
        );
      return d.call(action.primary, 'POST', '/api/login/failover/sync');
    }
    case 'break': {
      const f = await d.call<{ relationship: unknown }>(
        action.primary,
        'GET',
        '/api/login/failover',
      );
      if (!f.relationship) return { alreadyBroken: true };
      return d.call(action.primary, 'POST', '/api/login/failover/break');
    }
    case 'stage':
      return stage(ctx, action.appliance, pkgs);
    case 'distribute': {
      const results = [];
      for (const p of pkgs) {
        const r = await d.call<{ results: { node: string; ok: boolean; error?: string }[] }>(
          action.primary,
          'POST',
          `/api/appliance/updates/${p.id}/distribute`,
        );
        const failed = r.results.filter((x) => !x.ok);
        if (failed.length)
          throw new GatehouseError(
            'UPGRADE_DISTRIBUTE_FAILED',
            502,
            `${p.kind} ${p.version} did not reach ${failed.map((f) => `${f.node} (${f.error})`).join(', ')}.`,
          );
        results.push(...r.results);
      }
      return { nodes: results.length };
    }
    case 'install':
      return install(ctx, action.appliance, pkgs);
    case 'install-many':
      return installMany(ctx, action.appliances, pkgs);
    case 'set-accepting':
      await Promise.all(
        action.nodes.map((n) =>
          d.call(action.primary, 'PATCH', `/api/login/cluster/nodes/${encodeURIComponent(n)}`, {
            accepting: action.accepting,
          }),
        ),
      );
      return { nodes: action.nodes, accepting: action.accepting };
    case 'wait-drained':
      return waitDrained(ctx, action.nodes, !!ctx.waitedBefore);
    case 'become-backup': {
      if ((await d.health(action.appliance)).role === 'backup') return { already: true };
      return d.call(action.appliance, 'POST', '/api/login/failover/become-backup', { force: true });
    }
    case 'become-primary': {
      if ((await d.health(action.appliance)).role === 'primary') return { already: true };
      return d.call(action.appliance, 'POST', '/api/login/failover/become-primary', {
        force: true,
      });
    }
    case 'backup-operations':
      return d.call(action.appliance, 'PUT', '/api/login/failover/backup-operations', {
        enabled: action.enabled,
      });
    case 'switch-traffic':
      return switchTraffic(ctx, action.from, action.to);
    case 'cluster-sync': {
      const r = await d.call<{ results: { node: string; ok: boolean; error?: string }[] }>(
        action.primary,
        'POST',
        '/api/login/cluster/sync',
      );
      const failed = r.results.filter((x) => !x.ok);
      if (failed.length)
        throw new GatehouseError(
          'UPGRADE_CLUSTER_SYNC_FAILED',
          502,
          `Cluster Sync Now failed for ${failed.map((f) => `${f.node}: ${f.error}`).join('; ')}.`,
        );
      return r;
    }
    case 'establish': {
      const f = await d.call<{ relationship: { role: string; peer: { name: string } } | null }>(
        action.primary,
        'GET',
        '/api/login/failover',
      );
      if (f.relationship?.role === 'primary' && f.relationship.peer.name === action.backup)
        return { already: true };
      const b = d.address(action.backup);
      const p = d.address(action.primary);
      return d.call(action.primary, 'POST', '/api/login/failover/establish', {
        backupHost: b.host,
        backupPort: b.port,
        reverseHost: p.host,
        reversePort: p.port,
        firstSyncAfterSeconds: 60,
      });
    }
    case 'verify':
      return verify(ctx, action);
    case 'pause':
      return { paused: true };
  }
}

/** S19: the site's traffic to another appliance: the shared IP (off on one, on on the other) or Point Here. */
async function switchTraffic(ctx: ExecContext, from: string, to: string) {
  const d = ctx.deployment;
  if (d.inventory.trafficSwitch.method !== 'shared-ip') {
    const pointed = await d.call(to, 'POST', '/api/appliance/traffic/point-here', {});
    // The name now leads to `to`, but clients connected to `from` stay there until they
    // reconnect (a shared IP moves them by itself): ask them to, through the site.
    const sent = await d
      .call<{ asked: number }>(from, 'POST', '/api/login/status/clients/reconnect', {})
      .catch((e: Error) => ({ asked: 0, error: e.message }));
    return { pointed, clientsSentFrom: { [from]: sent } };
  }
  type Status = { addresses: { address: string; kind: string; enabled: boolean }[] };
  const shared = (s: Status) => s.addresses.filter((a) => a.kind === 'shared');
  const [sf, st] = await Promise.all([
    d.call<Status>(from, 'GET', '/api/appliance/status'),
    d.call<Status>(to, 'GET', '/api/appliance/status'),
  ]);
  const addresses = [...new Set([...shared(sf), ...shared(st)].map((a) => a.address))];
  if (!addresses.length)
    throw new GatehouseError(
      'UPGRADE_NO_SHARED_IP',
      409,
      `Neither ${from} nor ${to} has a shared address; the inventory's traffic switch is shared-ip. Configure it under /appliance > Networking, or change trafficSwitch.method.`,
    );
  for (const a of shared(sf).filter((x) => x.enabled))
    await d.call(
      from,
      'PATCH',
      `/api/appliance/network/addresses/${encodeURIComponent(a.address)}`,
      { enabled: false },
    );
  for (const a of addresses)
    await d.call(to, 'PATCH', `/api/appliance/network/addresses/${encodeURIComponent(a)}`, {
      enabled: true,
    });
  return { moved: addresses, from, to };
}
