import { readFileSync } from 'node:fs';
import { GatehouseError, isGatehouseError } from '../shared/errors.js';
import { compareVersions } from '../shared/version.js';
import { until } from '../shared/until.js';
import { actingPrimary, type Deployment } from './deployment.js';
import type { PlannedPackage } from './plan-types.js';
import type { ExecContext } from './exec-context.js';
import { orchestratorErrors } from './error-codes.js';

/** Steps that move packages: stage, distribute to the cluster, install (one or many at once). */

const INSTALL_DEADLINE_MS = 180_000;

async function stagedIds(d: Deployment, name: string): Promise<Set<string>> {
  const s = await d.call<{ staged: { id: string }[] }>(name, 'GET', '/api/appliance/updates');
  return new Set(s.staged.map((p) => p.id));
}

export async function stage(ctx: ExecContext, name: string, pkgs: PlannedPackage[]) {
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
        throw orchestratorErrors.UPGRADE_PACKAGE_CHANGED(
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
      throw orchestratorErrors.UPGRADE_DISTRIBUTE_FAILED(
        `${p.kind} ${p.version} did not reach ${name} from ${primary} (${mine.error}).`,
      );
    ctx.log(`  ${name}: ${p.kind} ${p.version} distributed to it again from ${primary}`);
    return { staged: [`${p.kind} ${p.version}`] };
  }
  return stage(ctx, name, [p]);
}

/** Install each package in order unless the appliance already runs it; wait until it serves it. */
export async function install(ctx: ExecContext, name: string, pkgs: PlannedPackage[]) {
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
          fatal = orchestratorErrors.UPGRADE_INSTALL_FAILED(
            `${name}: the install of ${p.kind} ${p.version} failed before switching (${s.install.error?.message ?? 'no reason given'}); ${name} still runs ${v}.`,
          );
        else if (
          !s.install &&
          s.lastResult &&
          !s.lastResult.ok &&
          Date.parse(s.lastResult.at ?? '') >= since
        )
          fatal = orchestratorErrors.UPGRADE_INSTALL_ROLLED_BACK(
            `${name}: ${p.kind} ${p.version} did not pass its health check and was rolled back (${s.lastResult.reason ?? 'no reason given'}); ${name} runs ${v} again.`,
          );
        return !!fatal;
      },
      INSTALL_DEADLINE_MS,
      `${name} to run ${p.kind} ${p.version}`,
      250,
    ).catch((e: unknown) => {
      throw orchestratorErrors.UPGRADE_INSTALL_TIMEOUT((e as Error).message);
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
export async function installMany(ctx: ExecContext, names: string[], pkgs: PlannedPackage[]) {
  const results = await Promise.allSettled(names.map((n) => install(ctx, n, pkgs)));
  const failed = results.flatMap((r, i) =>
    r.status === 'rejected' ? [{ name: names[i]!, error: r.reason as Error }] : [],
  );
  if (failed.length) {
    const first = failed[0]!.error;
    const done = names.filter((_, i) => results[i]!.status === 'fulfilled');
    const message = `${failed.map((f) => f.error.message).join(' ')}${done.length ? ` ${done.join(', ')} installed.` : ''}`;
    // The first node's refusal keeps its code and status; anything else is an install failure.
    throw isGatehouseError(first)
      ? new GatehouseError(first.code, first.status, message)
      : orchestratorErrors.UPGRADE_INSTALL_FAILED(message);
  }
  return Object.fromEntries(
    names.map((n, i) => [
      n,
      (results[i] as PromiseFulfilledResult<{ installed: string[] }>).value.installed,
    ]),
  );
}

/** Distribute to Cluster from the primary node: every package must reach every node. */
export async function distribute(ctx: ExecContext, primary: string) {
  const results = [];
  for (const p of ctx.plan.packages) {
    const r = await ctx.deployment.call<{
      results: { node: string; ok: boolean; error?: string }[];
    }>(primary, 'POST', `/api/appliance/updates/${p.id}/distribute`);
    const failed = r.results.filter((x) => !x.ok);
    if (failed.length)
      throw orchestratorErrors.UPGRADE_DISTRIBUTE_FAILED(
        `${p.kind} ${p.version} did not reach ${failed.map((f) => `${f.node} (${f.error})`).join(', ')}.`,
      );
    results.push(...r.results);
  }
  return { nodes: results.length };
}
