import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomicSync } from '../shared/fs.js';
import { destroyNetwork, listNamespaces } from './netns.js';
import { stopGroups } from './spawn.js';
import { readState } from './state.js';

/**
 * Every netns lab of this machine, one file per lab: network namespaces are the machine's, not
 * a directory's, so whoever starts a lab must be able to find the ones nobody will stop. /run
 * is emptied at boot, like the namespaces themselves.
 */
export const LAB_REGISTRY = '/run/gatehouse/netns-labs';

/** Set to a pid: the lab belongs to that process (a test), and dies with it. */
export const OWNER_ENV = 'GATEHOUSE_LAB_OWNER';

/** A process, told apart from a later one that reuses its pid by its start time. */
export interface ProcessRef {
  pid: number;
  start: string;
}

export interface LabRecord {
  id: string;
  prefix: string;
  dir: string;
  /** The `lab up` that creates the lab: a lab still `starting` without it is orphaned. */
  up: ProcessRef;
  /** The process the lab belongs to ($GATEHOUSE_LAB_OWNER); none for a lab an administrator keeps. */
  owner?: ProcessRef;
}

/** The start time of PID (field 22 of /proc/PID/stat), or undefined when none runs. */
function startOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

export function processRef(pid: number): ProcessRef | undefined {
  const start = startOf(pid);
  return start === undefined ? undefined : { pid, start };
}

const alive = (p: ProcessRef) => startOf(p.pid) === p.start;
const recordFile = (id: string) => path.join(LAB_REGISTRY, `${id}.json`);

/** Record a lab before its first namespace exists (the owner from $GATEHOUSE_LAB_OWNER). */
export function registerLab(id: string, prefix: string, dir: string): LabRecord {
  const ownerPid = Number(process.env[OWNER_ENV]);
  const owner = Number.isInteger(ownerPid) && ownerPid > 0 ? processRef(ownerPid) : undefined;
  const record: LabRecord = { id, prefix, dir, up: processRef(process.pid)!, owner };
  mkdirSync(LAB_REGISTRY, { recursive: true, mode: 0o700 });
  writeFileAtomicSync(recordFile(id), JSON.stringify(record) + '\n', 0o600);
  return record;
}

export function unregisterLab(id: string): void {
  rmSync(recordFile(id), { force: true });
}

function readRecords(): LabRecord[] {
  if (!existsSync(LAB_REGISTRY)) return [];
  return readdirSync(LAB_REGISTRY)
    .filter((f) => f.endsWith('.json'))
    .flatMap((f) => {
      try {
        return [JSON.parse(readFileSync(path.join(LAB_REGISTRY, f), 'utf8')) as LabRecord];
      } catch {
        return [];
      }
    });
}

const stateOf = (dir: string) => {
  try {
    return readState(dir);
  } catch {
    return undefined;
  }
};

/** Why a recorded lab is nobody's any more, or undefined while someone may still stop it. */
function orphaned(r: LabRecord): string | undefined {
  if (r.owner && !alive(r.owner)) return `its owner (pid ${r.owner.pid}) is gone`;
  const state = stateOf(r.dir);
  if (state?.network?.id !== r.id) return `${r.dir}/lab.json no longer describes it`;
  if (state.state === 'starting' && !alive(r.up))
    return `its lab up (pid ${r.up.pid}) died while starting it`;
  if (state.state === 'failed' || state.state === 'stopped') return `it is ${state.state}`;
  return undefined;
}

/**
 * Namespaces that carry a lab prefix but no record were left by code that kept none (or a
 * record was lost): removed once they are old enough that no lab up can still be making them.
 */
const UNRECORDED_AFTER_MS = 30 * 60_000;

function unrecordedPrefixes(present: string[], records: LabRecord[]): string[] {
  const prefixes = new Set<string>();
  for (const ns of present) {
    const prefix = /^gh-[0-9a-f]{6}-/.exec(ns)?.[0];
    if (!prefix || records.some((r) => r.prefix === prefix)) continue;
    const age = Date.now() - statSync(path.join('/run/netns', ns)).mtimeMs;
    if (age > UNRECORDED_AFTER_MS) prefixes.add(prefix);
  }
  return [...prefixes];
}

/**
 * Remove every netns lab nobody will stop (its owner died, its `lab up` died half-way, its
 * directory is gone) and unrecorded lab namespaces older than half an hour: each lab's
 * processes (from lab.json), what runs in its namespaces, the namespaces and /etc/netns dirs.
 * Labs whose owner lives, and labs an administrator started and keeps, are left alone.
 * Returns what was removed and why.
 */
export async function sweepOrphanLabs(): Promise<{ prefix: string; why: string }[]> {
  const removed: { prefix: string; why: string }[] = [];
  const records = readRecords();
  for (const r of records) {
    const why = orphaned(r);
    if (!why) continue;
    const state = stateOf(r.dir);
    const net = state?.network;
    // Its processes by group first (they all run inside its namespaces, which destroyNetwork
    // empties too, but a group is what lab.json knows).
    await stopGroups(net?.id === r.id ? state!.processes : [], 2_000).catch(() => undefined);
    await destroyNetwork({
      prefix: r.prefix,
      namespaces: net?.id === r.id ? net.namespaces : [],
      etcDirs: net?.id === r.id ? net.etcDirs : [],
    });
    unregisterLab(r.id);
    removed.push({ prefix: r.prefix, why });
  }
  const present = await listNamespaces();
  for (const prefix of unrecordedPrefixes(present, records)) {
    await destroyNetwork({ prefix, namespaces: [], etcDirs: [] });
    removed.push({ prefix, why: 'no record, older than 30 min' });
  }
  return removed;
}
