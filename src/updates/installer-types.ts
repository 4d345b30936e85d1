import type { Actor } from '../shared/actor.js';
import type { EventLog } from '../site/events.js';
import type { Db } from '../store/db.js';
import type { PackageKind, ReleaseKey } from './package.js';

/** A package waiting in system/staging (downloaded or uploaded), verified when it arrived. */
export interface StagedPackage {
  id: string;
  kind: PackageKind;
  version: string;
  requires: { base?: string };
  releaseNotes: string;
  size: number;
  sha256: string;
  source: 'upload' | 'download' | 'cluster';
  stagedAt: string;
}

export type InstallPhase =
  | 'checking'
  | 'waiting-for-writes'
  | 'backing-up'
  | 'unpacking'
  | 'snapshotting'
  | 'switching'
  | 'restarting'
  | 'failed';

export interface InstallProgress {
  id: string;
  kind: PackageKind;
  version: string;
  phase: InstallPhase;
  step: number;
  steps: number;
  message: string;
  startedAt: string;
  backup?: string;
  error?: { code: string; message: string };
  /** Milliseconds each finished phase took. */
  timings?: Partial<Record<InstallPhase, number>>;
}

/** The phases of an install, in the order they run. */
export const PHASES: InstallPhase[] = [
  'checking',
  'unpacking',
  'waiting-for-writes',
  'backing-up',
  'snapshotting',
  'switching',
  'restarting',
];

/** The part of the running appliance the installer needs; given, not reached for. */
export interface InstallHost {
  dataDir: string;
  db: Db;
  events: EventLog;
  releaseKeys: () => ReleaseKey[];
  /** Versions and code tree of the running software. */
  running: { product: string; base: string; tree: string };
  /** Refuse new writes (503) and wait until writes in flight have finished. */
  holdWrites(reason: 'installing'): Promise<void>;
  releaseWrites(): void;
  createBackup(actor: Actor): Promise<{ file: string; cleanup: () => Promise<void> }>;
  /** Stop serving and exit with the code that tells the supervisor to restart or reboot. */
  requestRestart(kind: PackageKind): void;
  /** Minimum free space (MiB) an install must leave on the data disk. */
  reserveMiB(): number;
  /** Told once a package passed its checks and the install begins (a primary node stops its traffic nodes accepting, S23). */
  installStarting?(actor: Actor): void;
  /** How this appliance gets a staged package again once a damaged copy was removed. */
  restageAdvice?(): string;
}
