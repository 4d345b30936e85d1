import { appendFileSync, closeSync, existsSync, fsyncSync, openSync, readFileSync } from 'node:fs';

import { drainTitle } from './drain.js';
import type { NodeState } from './node-states.js';
import type { Plan } from './plan-types.js';
import { orchestratorErrors } from './error-codes.js';

export type JournalEntry =
  | { type: 'plan'; at: string; plan: Plan }
  | {
      type: 'step';
      at: string;
      id: string;
      status: 'started' | 'done' | 'failed' | 'skipped';
      detail?: unknown;
      error?: { code: string; message: string };
    }
  | { type: 'paused'; at: string; step: string }
  | { type: 'continued'; at: string }
  | { type: 'run'; at: string; pid: number; command: string }
  | { type: 'finished'; at: string }
  /** The traffic nodes as a failed run left them (after setting the healthy ones accepting). */
  | { type: 'nodes'; at: string; nodes: NodeState[] }
  /** An operator's choice made on resume, in force from then on (e.g. after a drain deadline). */
  | { type: 'options'; at: string; onDrainTimeout: 'abort' | 'proceed' }
  /** A window to start at `runAt` by the process `pid`, which waits for it (`--at`). */
  | { type: 'scheduled'; at: string; id: string; command: 'continue'; runAt: string; pid: number }
  | { type: 'schedule-cancelled'; at: string; id: string };

/**
 * The orchestrator's journal: one JSON line per event, each made durable before the next
 * action, so that `upgrade resume` knows exactly which steps are done after the orchestrator
 * itself was killed. A step started but not done is run again (every step is idempotent).
 */
export class Journal {
  constructor(readonly file: string) {}

  get exists(): boolean {
    return existsSync(this.file);
  }

  append(entry: JournalEntry): void {
    const fd = openSync(this.file, 'a', 0o600);
    try {
      appendFileSync(fd, JSON.stringify(entry) + '\n');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  read(): JournalEntry[] {
    if (!this.exists)
      throw orchestratorErrors.UPGRADE_NO_JOURNAL(
        `No upgrade journal at ${this.file}. Start one with \`gatehouse upgrade run\`.`,
      );
    const lines = readFileSync(this.file, 'utf8').split('\n');
    const entries: JournalEntry[] = [];
    for (const [i, line] of lines.entries()) {
      if (!line.trim()) continue;
      try {
        entries.push(JSON.parse(line) as JournalEntry);
      } catch {
        // Only the last line can be cut short by a kill mid-write; it never completed.
        if (i < lines.length - 2)
          throw orchestratorErrors.UPGRADE_JOURNAL_DAMAGED(
            `${this.file} line ${i + 1} is damaged; the journal cannot be trusted. Inspect it before resuming.`,
          );
      }
    }
    return entries;
  }

  /** The plan, with the options chosen since on resume. */
  plan(): Plan {
    const entries = this.read();
    const first = entries.find((e) => e.type === 'plan');
    if (!first || first.type !== 'plan')
      throw orchestratorErrors.UPGRADE_JOURNAL_DAMAGED(`${this.file} holds no plan.`);
    let options = first.plan.options;
    for (const e of entries)
      if (e.type === 'options') options = { ...options, onDrainTimeout: e.onDrainTimeout };
    // A step's line says what it will do with the options now in force.
    const steps = first.plan.steps.map((st) =>
      st.action.type === 'wait-drained'
        ? { ...st, title: drainTitle(st.action.nodes, options) }
        : st,
    );
    return { ...first.plan, options, steps };
  }

  /** Where a run stands: the steps done, whether it waits at the interim pause, whether it finished. */
  state() {
    const entries = this.read();
    const done = new Set<string>();
    let paused: string | undefined;
    let finished = false;
    let failed: { id: string; error?: { code: string; message: string } } | undefined;
    for (const e of entries) {
      if (e.type === 'step' && (e.status === 'done' || e.status === 'skipped')) done.add(e.id);
      if (e.type === 'step' && e.status === 'failed') failed = { id: e.id, error: e.error };
      if (e.type === 'step' && e.status === 'done' && failed?.id === e.id) failed = undefined;
      if (e.type === 'paused') paused = e.step;
      if (e.type === 'continued') {
        if (paused) done.add(paused);
        paused = undefined;
      }
      if (e.type === 'finished') finished = true;
    }
    return { entries, done, paused, finished, failed };
  }
}
