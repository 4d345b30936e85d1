import { existsSync, mkdirSync, readFileSync, appendFileSync } from 'node:fs';
import path from 'node:path';

import { fsyncPathSync, writeFileAtomicSync } from '../shared/fs.js';
import { updatesErrors } from './error-codes.js';

/**
 * The software an appliance runs lives in its data directory, beside its data, as two A/B
 * slots (RAUC-style). A slot is a product code tree (package.json, bin, dist/src) whose
 * node_modules is a link to a base layer (its runtime). `factory` is the code tree the
 * appliance was first started from; it is never written to.
 *
 *   system/boot.json         which slot runs; a trial in progress; a rollback in progress
 *   system/slots/a, b        product trees, node_modules -> a base layer
 *   system/bases/<version>   base layers (node_modules with its version marker)
 *   system/staging           packages downloaded or uploaded, waiting to be installed
 *   system/backups           backups saved before each install (downloadable)
 *   system/pre-update.db     database snapshot the previous slot returns to if the trial fails
 *   system/history.jsonl     every install, commit and rollback, one JSON line each
 */
/** Default time a newly installed slot has to answer /health as ready before it is rolled back. */
export const DEFAULT_TRIAL_DEADLINE_MS = 60_000;

export type SlotName = 'factory' | 'a' | 'b';
const SLOTS: readonly SlotName[] = ['factory', 'a', 'b'];

export interface BootState {
  format: 1;
  active: SlotName;
  previous?: SlotName;
  /** The active slot is on trial: it must pass the health check by the deadline. */
  trial?: {
    startedAt: string;
    deadlineMs: number;
    kind: 'base' | 'product';
    from: { product: string; base: string };
    to: { product: string; base: string };
    snapshot: boolean;
  };
  /** The trial failed: return to `previous`, restoring the snapshot. Idempotent. */
  rollback?: { reason: string };
}

/**
 * Check a boot state read from disk. Hand-written rather than zod: the supervisor reads it at
 * every start, before the worker, and must start fast.
 */
export function parseBootState(raw: unknown, file: string): BootState {
  const b = raw as Partial<BootState> | null;
  const slotOk = (v: unknown) => SLOTS.includes(v as SlotName);
  const trialOk =
    b?.trial === undefined ||
    (typeof b.trial.startedAt === 'string' &&
      Number.isInteger(b.trial.deadlineMs) &&
      b.trial.deadlineMs > 0 &&
      (b.trial.kind === 'base' || b.trial.kind === 'product') &&
      typeof b.trial.from?.product === 'string' &&
      typeof b.trial.to?.product === 'string' &&
      typeof b.trial.snapshot === 'boolean');
  if (
    !b ||
    b.format !== 1 ||
    !slotOk(b.active) ||
    (b.previous !== undefined && !slotOk(b.previous)) ||
    !trialOk ||
    (b.rollback !== undefined && typeof b.rollback.reason !== 'string')
  ) {
    throw updatesErrors.BOOT_STATE_DAMAGED(
      `${file} is damaged, so the appliance cannot tell which software slot to run. It is written atomically, so this means it was edited by hand: restore it, or write {"format":1,"active":"factory"} to run the software the appliance was first started with.`,
    );
  }
  return b as BootState;
}

export interface HistoryEntry {
  at: string;
  event: 'install-started' | 'switched' | 'committed' | 'rolled-back' | 'refused' | 'failed';
  kind?: 'base' | 'product';
  from?: { product: string; base: string };
  to?: { product: string; base: string };
  reason?: string;
  backup?: string;
  actor?: string;
  /** Milliseconds per install phase, up to the switch. */
  timings?: Record<string, number>;
}

/** The outcome of the last install, shown on the Updates page until the next one. */
export interface LastResult {
  ok: boolean;
  at?: string;
  kind?: 'base' | 'product';
  reason?: string;
  /** What the install tried to reach, and what the appliance runs now. */
  attempted?: { product: string; base: string };
  runs?: { product: string; base: string };
  /** Already written to the appliance's event log. */
  recorded?: boolean;
}

export class SystemDir {
  constructor(readonly dataDir: string) {}
  get root() {
    return path.join(this.dataDir, 'system');
  }
  get bootFile() {
    return path.join(this.root, 'boot.json');
  }
  slot(name: 'a' | 'b') {
    return path.join(this.root, 'slots', name);
  }
  get bases() {
    return path.join(this.root, 'bases');
  }
  base(version: string) {
    return path.join(this.bases, version);
  }
  get staging() {
    return path.join(this.root, 'staging');
  }
  get backups() {
    return path.join(this.root, 'backups');
  }
  get snapshot() {
    return path.join(this.root, 'pre-update.db');
  }
  get lastResultFile() {
    return path.join(this.root, 'last-result.json');
  }
  get historyFile() {
    return path.join(this.root, 'history.jsonl');
  }

  ensure(): void {
    for (const d of ['slots', 'bases', 'staging', 'backups']) {
      mkdirSync(path.join(this.root, d), { recursive: true, mode: 0o700 });
    }
  }

  readBoot(): BootState {
    if (!existsSync(this.bootFile)) return { format: 1, active: 'factory' };
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(this.bootFile, 'utf8'));
    } catch {
      raw = null;
    }
    return parseBootState(raw, this.bootFile);
  }

  /** The one atomic step of every switch: a crash leaves the old boot state or the new. */
  writeBoot(state: BootState): void {
    this.ensure();
    writeFileAtomicSync(
      this.bootFile,
      JSON.stringify(parseBootState(state, this.bootFile), null, 2) + '\n',
      0o600,
    );
  }

  /** The code tree a slot runs from (`factory` is the tree the supervisor itself runs from). */
  treeOf(slot: SlotName, factoryTree: string): string {
    return slot === 'factory' ? factoryTree : this.slot(slot);
  }

  writeLastResult(result: LastResult): void {
    this.ensure();
    writeFileAtomicSync(
      this.lastResultFile,
      JSON.stringify({ at: new Date().toISOString(), ...result }) + '\n',
    );
  }

  lastResult(): LastResult | undefined {
    if (!existsSync(this.lastResultFile)) return undefined;
    return JSON.parse(readFileSync(this.lastResultFile, 'utf8')) as LastResult;
  }

  appendHistory(entry: Omit<HistoryEntry, 'at'>): void {
    this.ensure();
    appendFileSync(
      this.historyFile,
      JSON.stringify({ at: new Date().toISOString(), ...entry }) + '\n',
      {
        mode: 0o600,
      },
    );
    fsyncPathSync(this.historyFile);
  }

  /** Newest first. A line torn by a crash mid-append is skipped. */
  history(limit = 100): HistoryEntry[] {
    if (!existsSync(this.historyFile)) return [];
    const out: HistoryEntry[] = [];
    for (const line of readFileSync(this.historyFile, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      try {
        out.push(JSON.parse(line) as HistoryEntry);
      } catch {
        // torn last line of a crashed append
      }
    }
    return out.reverse().slice(0, limit);
  }
}

/** Versions a code tree runs: its package.json, and the base marker of its node_modules. */
export function treeVersions(tree: string): { product: string; base: string } {
  const pkg = JSON.parse(readFileSync(path.join(tree, 'package.json'), 'utf8')) as {
    version: string;
    gatehouse?: { baseVersion?: string };
  };
  let base = pkg.gatehouse?.baseVersion ?? '0.0.0';
  const marker = path.join(tree, 'node_modules', '.gatehouse-base.json');
  if (existsSync(marker))
    base = (JSON.parse(readFileSync(marker, 'utf8')) as { version: string }).version;
  return { product: pkg.version, base };
}
