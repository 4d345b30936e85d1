import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { IntegrityResult } from './integrity-check.js';
import type { Journal, JournalEntry } from './journal.js';
import { describeNodes, type NodeState } from './node-states.js';
import { downtimeOf, type ProbeSample } from './prober.js';
import { renderTimeline, type Attempt } from './report-timeline.js';
import type { SessionStats } from './session-load.js';
import { describeSiteRecords, disagreement, type SiteClientRecords } from './site-records.js';
import { describeJumpClientRollouts, type JumpClientRollout } from './jump-client-rollout.js';

export interface UpgradeReport {
  strategy: string;
  target: { product?: string; base?: string };
  outcome: 'finished' | 'paused' | 'failed' | 'running';
  startedAt: string;
  endedAt: string;
  durationMs: number;
  predicted: { siteDowntimeMs: number; withoutFailoverMs: number; totalMs: number };
  downtime: {
    totalMs: number;
    outages: { from: number; to: number }[];
    /** Stretches when nothing probed the site (orchestrator killed, or the interim pause). */
    unmeasured: { from: number; to: number }[];
    probes: number;
    failedProbes: number;
  };
  sessions: SessionStats | null;
  /** What the site's own records say its clients went through in the run's window. */
  siteRecords: SiteClientRecords | null;
  /** Where the Jump Clients stand in their upgrade to the site's build (S13), per appliance. */
  jumpClientUpgrades?: JumpClientRollout[];
  /** Why the "nothing dropped" of the probes is not the truth, when the site's records disagree. */
  disagreement?: string;
  /** Sessions on traffic nodes that had not drained by the deadline, cut by their install. */
  cutSessions: { sessions: number; nodes: string[] };
  /** From breaking failover to restoring it, as it happened (interim period included). */
  withoutFailoverMs: number;
  steps: {
    id: string;
    title: string;
    s: string[];
    window: number;
    status: string;
    start?: number;
    end?: number;
    error?: string;
    /** Each try: a failed one, then its resume. */
    attempts: Attempt[];
  }[];
  integrity: IntegrityResult | null;
  /** The traffic nodes as the failed run left them; absent when the run did not stop on a failure. */
  nodes?: NodeState[];
  samples: { t: number; ok: boolean; who?: string }[];
}

const readLines = <T>(file: string): T[] =>
  existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => l.trim())
        .flatMap((l) => {
          try {
            return [JSON.parse(l) as T];
          } catch {
            return [];
          }
        })
    : [];

const readJson = <T>(file: string): T | null => {
  try {
    return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as T) : null;
  } catch {
    return null;
  }
};

/** A comparison that found losses fails its step; its result is kept beside the journal. */
function failedIntegrity(entries: JournalEntry[], workDir: string): IntegrityResult | null {
  const file = path.join(workDir, 'integrity-result.json');
  const failed = entries.some(
    (e) => e.type === 'step' && e.status === 'failed' && e.id.startsWith('integrity-'),
  );
  if (!failed || !existsSync(file)) return null;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as IntegrityResult;
  } catch {
    return null;
  }
}

/** The report of a run, from its journal, probe samples, session counts and integrity check. */
export function buildReport(journal: Journal, workDir: string): UpgradeReport {
  const plan = journal.plan();
  const { entries, finished, paused, failed } = journal.state();
  const times = entries.map((e) => Date.parse(e.at));
  const steps = plan.steps.map((s) => {
    const mine = entries.filter((e) => e.type === 'step' && e.id === s.id) as Extract<
      (typeof entries)[number],
      { type: 'step' }
    >[];
    const start = mine.find((e) => e.status === 'started');
    const last = mine.at(-1);
    return {
      id: s.id,
      title: s.title,
      s: s.s,
      window: s.window,
      status: entries.some((e) => e.type === 'paused' && e.step === s.id)
        ? 'paused'
        : (last?.status ?? 'pending'),
      start: start ? Date.parse(start.at) : undefined,
      end: last && last.status !== 'started' ? Date.parse(last.at) : undefined,
      error: last?.error?.message,
      attempts: attemptsOf(mine),
    };
  });
  const samples = readLines<ProbeSample>(path.join(workDir, 'probe.ndjson'));
  const down = downtimeOf(samples);
  const sessionsFile = path.join(workDir, 'sessions.json');
  const sessions = existsSync(sessionsFile)
    ? withSteps(JSON.parse(readFileSync(sessionsFile, 'utf8')) as SessionStats, steps)
    : null;
  const recordsFile = path.join(workDir, 'site-records.json');
  const siteRecords = existsSync(recordsFile)
    ? (JSON.parse(readFileSync(recordsFile, 'utf8')) as SiteClientRecords)
    : null;
  const integrityStep = [...entries]
    .reverse()
    .find(
      (e) =>
        e.type === 'step' &&
        e.status === 'done' &&
        e.id.startsWith('integrity-') &&
        (e.detail as IntegrityResult)?.lost,
    );
  // Failover is gone once the pair is broken, or in a cluster from the start of the install
  // on the backup primary node (as the plan predicts it).
  const brokeAt =
    steps.find((s) => s.id.startsWith('break-'))?.end ??
    (plan.strategy === 'cluster'
      ? steps.find(
          (s) => s.title.startsWith('Install') && s.title.endsWith(` on ${plan.topology.backup}`),
        )?.start
      : undefined);
  const restoredAt = [...steps]
    .reverse()
    .find(
      (s) => s.id.startsWith('establish-') || s.title.includes('enable backup operations again'),
    )?.end;
  return {
    strategy: plan.strategy,
    target: plan.target,
    outcome: finished ? 'finished' : paused ? 'paused' : failed ? 'failed' : 'running',
    startedAt: new Date(Math.min(...times)).toISOString(),
    endedAt: new Date(Math.max(...times)).toISOString(),
    durationMs: Math.max(...times) - Math.min(...times),
    predicted: plan.predicted,
    downtime: {
      ...down,
      probes: samples.length,
      failedProbes: samples.filter((s) => !s.ok).length,
    },
    sessions,
    siteRecords,
    jumpClientUpgrades:
      readJson<JumpClientRollout[]>(path.join(workDir, 'jump-client-upgrades.json')) ?? [],
    disagreement: disagreement(sessions, siteRecords),
    withoutFailoverMs:
      plan.topology.backup && brokeAt ? (restoredAt ?? Math.max(...times)) - brokeAt : 0,
    steps,
    integrity:
      integrityStep && integrityStep.type === 'step'
        ? (integrityStep.detail as IntegrityResult)
        : failedIntegrity(entries, workDir),
    nodes: failed ? lastNodes(entries) : undefined,
    cutSessions: cutSessions(entries),
    samples: samples.map((s) => ({ t: s.t, ok: s.ok, who: s.who })),
  };
}

/** Each failed session names the steps that ran while it did: where in the run it failed. */
function withSteps(
  sessions: SessionStats,
  steps: { title: string; attempts: Attempt[] }[],
): SessionStats {
  const during = (from: number, to: number) =>
    steps
      .filter((s) => s.attempts.some((a) => a.start <= to && (a.end ?? Infinity) >= from))
      .map((s) => s.title);
  return {
    ...sessions,
    failures: sessions.failures.map((f) => {
      const running = during(f.startedAt ?? f.t, f.t);
      return { ...f, steps: running.length ? running : ['between steps'] };
    }),
  };
}

/** A step's journal entries as attempts: each `started` opens one, its done or failed ends it. */
function attemptsOf(mine: Extract<JournalEntry, { type: 'step' }>[]): Attempt[] {
  const out: Attempt[] = [];
  for (const e of mine) {
    const at = Date.parse(e.at);
    if (e.status === 'started') out.push({ start: at, status: 'running' });
    else if (out.length && out.at(-1)!.end === undefined)
      Object.assign(out.at(-1)!, {
        end: at,
        status: e.status,
        ...(e.error ? { error: e.error.message } : {}),
      });
  }
  return out;
}

function cutSessions(entries: JournalEntry[]) {
  const out = { sessions: 0, nodes: [] as string[] };
  for (const e of entries) {
    if (e.type !== 'step' || e.status !== 'done') continue;
    const cut = (e.detail as { cut?: { sessions: number; nodes: string[] } } | undefined)?.cut;
    if (!cut) continue;
    out.sessions += cut.sessions;
    out.nodes.push(...cut.nodes.filter((n) => !out.nodes.includes(n)));
  }
  return out;
}

function lastNodes(entries: JournalEntry[]): NodeState[] | undefined {
  const last = [...entries].reverse().find((e) => e.type === 'nodes');
  return last?.type === 'nodes' ? last.nodes : undefined;
}

const secs = (ms: number) => `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;

export function renderText(r: UpgradeReport): string {
  const lines = [
    '',
    `Upgrade report — ${r.strategy} to ${[r.target.base && `base ${r.target.base}`, r.target.product && `product ${r.target.product}`].filter(Boolean).join(', ')}: ${r.outcome}`,
    `  duration                 ${secs(r.durationMs)} (predicted ${secs(r.predicted.totalMs)} of work)`,
    `  client-visible downtime  ${secs(r.downtime.totalMs)} in ${r.downtime.outages.length} outage(s), ${r.downtime.failedProbes} of ${r.downtime.probes} probes failed (predicted ${secs(r.predicted.siteDowntimeMs)})`,
  ];
  const notProbed = (r.downtime.unmeasured ?? []).reduce((n, g) => n + (g.to - g.from), 0);
  if (notProbed)
    lines.push(
      `  not probed               ${secs(notProbed)} in ${r.downtime.unmeasured.length} gap(s) while the orchestrator was not running (interim period, or killed and resumed)`,
    );
  if (r.sessions)
    lines.push(
      `  sessions                 ${r.sessions.dropped} dropped of ${r.sessions.longOpened} long sessions (longest pause ${r.sessions.longestPauseMs ?? 0} ms, in total ${r.sessions.totalPauseMs ?? 0} ms); ${r.sessions.newFailed} of ${r.sessions.newStarted} new sessions failed${r.disagreement ? ' — NOT the whole truth: see the site records' : ''}`,
    );
  if (r.siteRecords) lines.push(...describeSiteRecords(r.siteRecords));
  if (r.disagreement) lines.push(`  nothing dropped          FAILED: ${r.disagreement}`);
  lines.push(...describeJumpClientRollouts(r.jumpClientUpgrades ?? []));
  if (r.cutSessions?.sessions)
    lines.push(
      `  cut by the drain choice  ${r.cutSessions.sessions} session(s) on ${r.cutSessions.nodes.join(', ')} (--on-drain-timeout proceed)`,
    );
  for (const f of r.sessions?.failures.slice(0, 3) ?? []) {
    const where = [f.node && `relayed by ${f.node}`, f.steps && `during ${f.steps.join('; ')}`]
      .filter(Boolean)
      .join(', ');
    lines.push(
      `    ${new Date(f.t).toISOString().slice(11, 23)} ${f.what}: ${f.error}${where ? ` (${where})` : ''}`,
    );
  }
  if (r.nodes?.length)
    lines.push('  traffic nodes as left', ...describeNodes(r.nodes).map((l) => `    ${l}`));
  if (r.withoutFailoverMs) lines.push(`  without failover         ${secs(r.withoutFailoverMs)}`);
  if (r.integrity)
    lines.push(
      `  data integrity           ${r.integrity.lost.length || r.integrity.mismatched.length ? 'PROBLEMS: ' + [...r.integrity.lost, ...r.integrity.mismatched].join('; ') : `nothing lost; every copy equals ${r.integrity.primary}'s`}`,
      ...(r.integrity.removed?.length
        ? [
            `  removed since before     ${r.integrity.removed.join('; ')} (deleted in the interim? see the event log)`,
          ]
        : []),
      ...(r.integrity.notCompared?.length
        ? [`  not compared             ${r.integrity.notCompared.join('; ')}`]
        : []),
    );
  return lines.join('\n') + '\n';
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A self-contained HTML page: the figures, a timeline of steps and probes, integrity per appliance. */
export function renderHtml(r: UpgradeReport): string {
  const timeline = renderTimeline({
    t0: Date.parse(r.startedAt),
    t1: Date.parse(r.endedAt),
    steps: r.steps.map((s) => ({ title: s.title, attempts: s.attempts ?? [] })),
    outages: r.downtime.outages,
    clientEvents: r.siteRecords?.events ?? [],
  });
  const integrityRows = r.integrity
    ? Object.entries(r.integrity.counts)
        .map(
          ([name, t]) =>
            `<tr><td>${esc(name)}</td>${Object.entries(t)
              .map(([k, v]) => `<td>${esc(k)}: ${v.before} → ${v.after}</td>`)
              .join('')}</tr>`,
        )
        .join('')
    : '';
  return `<!doctype html><html lang="en"><meta charset="utf-8"><title>Gatehouse upgrade report</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}.bad{color:#c0392b}.ok{color:#1e8449}</style>
<h1>Upgrade report: ${esc(r.strategy)} → ${esc(r.target.product ?? '')}</h1>
<p>Outcome: <strong>${esc(r.outcome)}</strong>, ${esc(r.startedAt)} – ${esc(r.endedAt)}</p>
<table id="figures">
<tr><th>Duration</th><td>${secs(r.durationMs)}</td></tr>
<tr><th>Client-visible downtime</th><td id="downtime">${secs(r.downtime.totalMs)} (${r.downtime.outages.length} outages; ${r.downtime.failedProbes}/${r.downtime.probes} probes failed; predicted ${secs(r.predicted.siteDowntimeMs)}${r.downtime.unmeasured?.length ? `; not probed for ${secs(r.downtime.unmeasured.reduce((n, g) => n + (g.to - g.from), 0))} while the orchestrator was not running` : ''})</td></tr>
<tr><th>Sessions dropped</th><td id="sessions">${r.sessions ? `${r.sessions.dropped} of ${r.sessions.longOpened} long sessions (longest pause ${r.sessions.longestPauseMs ?? 0} ms, in total ${r.sessions.totalPauseMs ?? 0} ms); ${r.sessions.newFailed} of ${r.sessions.newStarted} new sessions failed` : 'not measured'}</td></tr>
<tr><th>Site records</th><td id="site-records" class="${r.disagreement ? 'bad' : 'ok'}">${
    r.siteRecords
      ? esc(
          describeSiteRecords(r.siteRecords)
            .map((l) => l.trim().replace(/^site records\s+/, ''))
            .join(' '),
        )
      : 'not read'
  }${r.disagreement ? ` — ${esc(r.disagreement)}` : ''}</td></tr>
<tr><th>Jump Client upgrades</th><td id="jump-client-upgrades" class="${(r.jumpClientUpgrades ?? []).some((u) => u.halt) ? 'bad' : 'ok'}">${
    r.jumpClientUpgrades?.length
      ? esc(
          describeJumpClientRollouts(r.jumpClientUpgrades)
            .map((l) => l.trim().replace(/^Jump Client upgrades\s+/, ''))
            .join('; '),
        )
      : 'no Jump Client to upgrade'
  }</td></tr>
<tr><th>Sessions cut by the drain choice</th><td id="cut">${r.cutSessions?.sessions ? `${r.cutSessions.sessions} on ${esc(r.cutSessions.nodes.join(', '))}` : 'none'}</td></tr>
<tr><th>Without failover</th><td>${secs(r.withoutFailoverMs)}</td></tr>
<tr><th>Data integrity</th><td id="integrity" class="${r.integrity && !r.integrity.lost.length && !r.integrity.mismatched.length ? 'ok' : 'bad'}">${r.integrity ? (r.integrity.lost.length || r.integrity.mismatched.length ? esc([...r.integrity.lost, ...r.integrity.mismatched].join('; ')) : `nothing lost; every copy equals ${esc(r.integrity.primary)}'s`) : 'not checked yet'}${r.integrity?.removed?.length ? ` — removed since before: ${esc(r.integrity.removed.join('; '))}` : ''}</td></tr>
</table>
<h2>Timeline</h2>
${timeline}
${
  r.nodes?.length
    ? `<h2>Traffic nodes as the run left them</h2><ul id="nodes">${describeNodes(r.nodes)
        .map((l) => `<li>${esc(l)}</li>`)
        .join('')}</ul>`
    : ''
}
<h2>Counts per appliance (before → after)</h2><table>${integrityRows}</table>
</html>`;
}
