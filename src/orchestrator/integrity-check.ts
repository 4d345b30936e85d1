/** An appliance's integrity snapshot (GET /api/login/integrity?ids=true). */
export interface Snapshot {
  appliance: string;
  takenAt: string;
  tables: Record<string, { count: number; digest: string; ids?: string[] }>;
  recordings: { count: number; digest: string; sha256?: string[] };
}

export interface IntegrityResult {
  /** Where everything must be at the end. */
  primary: string;
  /** History rows and recordings that existed somewhere before and are missing on the primary. */
  lost: string[];
  /**
   * Users, settings and files the primary held before that the final primary no longer has:
   * an administrator may have deleted them in the interim period, so they are shown, not
   * failed on. Look them up in the event log.
   */
  removed: string[];
  /** What could not be compared (an appliance of an older version gave no keys for it). */
  notCompared: string[];
  /** Copies that should equal the primary's and do not. */
  mismatched: string[];
  counts: Record<string, Record<string, { before: number; after: number }>>;
}

const HISTORY = ['events', 'session_records'] as const;
const REPLACED = ['users', 'site_settings', 'files'] as const;

/**
 * Nothing lost: every log entry, session record and recording that any appliance held before
 * the upgrade is on the final primary after it (history merges by identity, S21), and every
 * copy of the site's users, settings and files equals the primary's (S16).
 */
export function compareIntegrity(
  before: Record<string, Snapshot>,
  after: Record<string, Snapshot>,
  primary: string,
  copies: { name: string; tables: string[] }[],
  /** The site's primary before the upgrade: the authority for users, settings and files. */
  primaryBefore: string = primary,
): IntegrityResult {
  const lost: string[] = [];
  const mismatched: string[] = [];
  const removed: string[] = [];
  const notCompared: string[] = [];
  const p = after[primary];
  if (!p)
    return {
      primary,
      lost: [`no snapshot of ${primary} after the upgrade`],
      mismatched,
      removed,
      notCompared,
      counts: {},
    };
  for (const [name, snap] of Object.entries(before)) {
    for (const table of HISTORY) {
      const have = new Set(p.tables[table]?.ids ?? []);
      const missing = (snap.tables[table]?.ids ?? []).filter((id) => !have.has(id));
      if (missing.length)
        lost.push(
          `${missing.length} ${table} rows of ${name} missing on ${primary} (e.g. ${missing[0]})`,
        );
    }
    const shas = new Set(p.recordings.sha256 ?? []);
    const missing = (snap.recordings.sha256 ?? []).filter((s) => !shas.has(s));
    if (missing.length) lost.push(`${missing.length} recordings of ${name} missing on ${primary}`);
  }
  // Users, settings and files are replaced, not merged: what the site's primary held before must
  // still be on the final primary (contents may change through the upgrade; keys may not go).
  const authority = before[primaryBefore];
  for (const table of REPLACED) {
    const wanted = authority?.tables[table]?.ids;
    const have = p.tables[table]?.ids;
    if (!wanted || !have) {
      notCompared.push(`${table} (no keys in the snapshot of ${wanted ? primary : primaryBefore})`);
      continue;
    }
    const now = new Set(have);
    const missing = wanted.filter((k) => !now.has(k));
    if (missing.length)
      removed.push(
        `${missing.length} ${table} of ${primaryBefore} no longer on ${primary} (e.g. ${missing[0]})`,
      );
  }
  for (const c of copies) {
    const snap = after[c.name];
    if (!snap) {
      mismatched.push(`no snapshot of ${c.name}`);
      continue;
    }
    for (const t of c.tables)
      if (snap.tables[t]?.digest !== p.tables[t]?.digest)
        mismatched.push(`${c.name}'s ${t} differ from ${primary}'s`);
  }
  const counts: IntegrityResult['counts'] = {};
  for (const name of new Set([...Object.keys(before), ...Object.keys(after)])) {
    counts[name] = {};
    for (const t of Object.keys(after[name]?.tables ?? before[name]?.tables ?? {}))
      counts[name]![t] = {
        before: before[name]?.tables[t]?.count ?? 0,
        after: after[name]?.tables[t]?.count ?? 0,
      };
    counts[name]!.recordings = {
      before: before[name]?.recordings.count ?? 0,
      after: after[name]?.recordings.count ?? 0,
    };
  }
  return { primary, lost, mismatched, removed, notCompared, counts };
}

/** Which appliance is primary when the plan has run, and which copies must equal it. */
export function finalRoles(plan: {
  strategy: string;
  topology: { primary: string; backup?: string; trafficNodes: { name: string }[] };
}) {
  const { primary: a, backup: b, trafficNodes } = plan.topology;
  const finalPrimary = b && plan.strategy !== 'synchronous' ? b : a;
  const copies: { name: string; tables: string[] }[] = [];
  if (b)
    copies.push({ name: finalPrimary === a ? b : a, tables: ['users', 'site_settings', 'files'] });
  for (const n of trafficNodes) copies.push({ name: n.name, tables: ['users', 'site_settings'] });
  return { finalPrimary, copies };
}
