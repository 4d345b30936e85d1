import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

import { writeFileAtomicSync } from '../shared/fs.js';
import { procStat } from '../shared/liveness.js';
import type { LabNetwork } from './network-plan.js';
import type { LabOptions, PlannedRole, SwitchMethod, Topology } from './plan.js';
import { labErrors } from './error-codes.js';

/** One process the lab started: its own process group (pgid = pid), its log file. */
export interface LabProcess {
  name: string;
  kind: 'appliance' | 'update-server' | 'nat-forwarder' | 'agent' | 'dns-server' | 'delayer';
  pid: number;
  pgid: number;
  log: string;
}

export interface LabAppliance {
  name: string;
  role: PlannedRole;
  region?: string;
  host: string;
  port: number;
  fingerprint: string;
  dataDir: string;
  urls: { appliance: string; login: string };
}

/** DIR/lab.json: everything `lab status`, `lab down`, the agent and the orchestrator need. */
export interface LabState {
  version: 1;
  dir: string;
  topology: Topology;
  createdAt: string;
  state: 'starting' | 'running' | 'stopped' | 'failed';
  options: { trafficNodes: number; regions: number; jumpClients: number };
  /** Every option of `lab up`, so a netns lab can go on starting inside its admin namespace. */
  labOptions?: LabOptions;
  /** netns mode: the namespaces, links and addresses, recorded before they are created. */
  network?: LabNetwork;
  site: {
    hostname: string;
    /** Where clients connect (shared address, forwarder, or the primary). */
    host: string;
    port: number;
    switch: SwitchMethod;
    sharedAddress?: string;
    hostsFile?: string;
  };
  /** Paths relative to DIR; files are mode 600. */
  credentials: {
    appliance: { username: string; passwordFile: string };
    login: { username: string; passwordFile: string };
    representative: { username: string; passwordFile: string };
    updateServer: { username: string; passwordFile: string };
  };
  interApplianceKeyFile: string;
  jumpClientTokenFile?: string;
  releaseKey: { privateKey: string; publicKey: string };
  updateServer?: { url: string; fingerprint: string; dataDir: string };
  natForwarder?: { listen: string; control: string; fingerprint: string; dataDir: string };
  appliances: LabAppliance[];
  processes: LabProcess[];
  agent?: { statsFile: string; sessionRate: number; longSessions: number };
  inventory: string;
}

export const stateFile = (dir: string) => path.join(dir, 'lab.json');
export const statsFile = (dir: string) => path.join(dir, 'agent-stats.json');

export function readState(dir: string): LabState | undefined {
  const file = stateFile(dir);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as LabState;
  } catch (e) {
    throw labErrors.LAB_STATE_UNREADABLE(
      `${file} cannot be read (${(e as Error).message}). Stop its processes by hand (their pids are in the file) and remove the directory.`,
    );
  }
}

export function requireState(dir: string): LabState {
  const s = readState(dir);
  if (!s)
    throw labErrors.LAB_NOT_FOUND(
      `--dir ${dir}: no lab is there (no lab.json). Start one with \`gatehouse lab up --dir ${dir}\`.`,
      { fields: [{ field: '--dir', message: 'holds no lab' }] },
    );
  return s;
}

export function writeState(s: LabState): void {
  writeFileAtomicSync(stateFile(s.dir), JSON.stringify(s, null, 2) + '\n', 0o644);
}

/**
 * Whether any process of the group still runs. Zombies do not count: where nothing reaps
 * orphans (a container's init), a stopped process stays a zombie that `kill(-pgid, 0)` finds.
 */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  if (!existsSync('/proc/self/stat')) return true;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    // Undefined: the process ended while we looked.
    const s = procStat(entry);
    if (s && s.pgrp === pgid && s.state !== 'Z' && s.state !== 'X') return true;
  }
  return false;
}

export const labUrl = (host: string, port: number) =>
  `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
