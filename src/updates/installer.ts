import { promises as fsp, statfsSync, statSync, type ReadStream } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { GatehouseError, conflict } from '../shared/errors.js';
import { fsyncPath } from '../shared/fs.js';
import type { Actor } from '../shared/actor.js';
import type { InspectedPackage, PackageKind } from './package.js';
import { DEFAULT_TRIAL_DEADLINE_MS, SystemDir, type SlotName } from './slots.js';
import { checkDiskSpace, checkInstallOrder } from './install-order.js';
import { StagingArea } from './staging.js';
import { SlotFiles } from './slot-files.js';
import {
  PHASES,
  type InstallHost,
  type InstallPhase,
  type InstallProgress,
  type StagedPackage,
} from './installer-types.js';
import { updatesErrors } from './error-codes.js';

export type * from './installer-types.js';

/**
 * Installs update packages into the inactive A/B slot and switches to it atomically. The
 * running slot is never written to; the only step that changes what runs is the atomic
 * write of boot.json, so an interruption anywhere leaves exactly the old software or the new.
 *
 * This class runs an install; its parts live beside it: staging (staging.ts), the install-order
 * and disk rules (install-order.ts, pure) and the slot, backup and clean-up files (slot-files.ts).
 */
export class UpdateInstaller {
  readonly sys: SystemDir;
  progress: InstallProgress | undefined;
  private readonly staging: StagingArea;
  private readonly slots: SlotFiles;

  constructor(private readonly host: InstallHost) {
    this.sys = new SystemDir(host.dataDir);
    this.sys.ensure();
    this.staging = new StagingArea(this.sys, host);
    this.slots = new SlotFiles(this.sys, host);
  }

  // Staging: staging.ts.
  staged(): StagedPackage[] {
    return this.staging.staged();
  }

  stagedFile(id: string): string {
    return this.staging.stagedFile(id);
  }

  get(id: string): StagedPackage {
    return this.staging.get(id);
  }

  stageUpload(body: Readable, source: StagedPackage['source'] = 'upload'): Promise<StagedPackage> {
    return this.staging.stageUpload(body, source);
  }

  stageFile(file: string, source: StagedPackage['source'], move = false): Promise<StagedPackage> {
    return this.staging.stageFile(file, source, move);
  }

  stagedIntact(id: string): Promise<boolean> {
    return this.staging.stagedIntact(id);
  }

  async removeStaged(id: string): Promise<void> {
    this.get(id);
    if (this.progress && this.progress.phase !== 'failed' && this.progress.id === id)
      throw conflict(
        updatesErrors.UPDATE_IN_PROGRESS,
        'This package is being installed; it can be removed when the install has finished.',
      );
    await this.staging.drop(id);
  }

  /** Every reason not to install, checked before anything is written (install-order.ts). */
  private check(pkg: InspectedPackage, opts: { force: boolean; expectKind?: PackageKind }): void {
    checkInstallOrder(pkg.manifest, this.host.running, opts);
    const store = path.join(this.host.dataDir, 'store');
    const fs = statfsSync(this.host.dataDir);
    checkDiskSpace(pkg.manifest, {
      payload: pkg.manifest.entries.reduce((n, e) => n + e.size, 0),
      database:
        fileSize(path.join(store, 'gatehouse.db')) + fileSize(path.join(store, 'gatehouse.db-wal')),
      free: fs.bavail * fs.bsize,
      reserveMiB: this.host.reserveMiB(),
      where: this.host.dataDir,
    });
  }

  /**
   * Check, then install in the background. Returns once the checks have passed (the refusal
   * reasons are thrown synchronously to the caller); progress is in `this.progress`.
   */
  async install(
    id: string,
    actor: Actor,
    opts: { force?: boolean; expectKind?: PackageKind } = {},
  ): Promise<InstallProgress> {
    if (this.progress && this.progress.phase !== 'failed')
      throw conflict(
        updatesErrors.UPDATE_IN_PROGRESS,
        `An install of ${this.progress.kind} ${this.progress.version} is already running (${this.progress.phase}). Wait for it to finish.`,
      );
    const staged = this.get(id);
    const progress: InstallProgress = {
      id,
      kind: staged.kind,
      version: staged.version,
      phase: 'checking',
      step: 1,
      steps: PHASES.length,
      message: 'verifying the package signature and checking install order and disk space',
      startedAt: new Date().toISOString(),
    };
    this.progress = progress;
    let pkg: InspectedPackage;
    try {
      pkg = await this.staging.verify(this.stagedFile(id), staged);
      this.check(pkg, { force: !!opts.force, expectKind: opts.expectKind });
    } catch (e) {
      this.progress = undefined;
      const err = (await this.staging.damaged(e, staged)) as GatehouseError;
      this.host.events.record(
        actor,
        'update.refused',
        `${staged.kind} ${staged.version}`,
        { code: err.code, reason: err.message },
        'denied',
      );
      throw err;
    }
    this.host.events.record(actor, 'update.install-started', `${staged.kind} ${staged.version}`, {
      from: { product: this.host.running.product, base: this.host.running.base },
      force: !!opts.force,
    });
    this.host.installStarting?.(actor);
    void this.run(pkg, progress, actor).catch(async (failure: unknown) => {
      const e = await this.staging.damaged(failure, staged).catch(() => failure);
      const err =
        e instanceof GatehouseError
          ? e
          : updatesErrors.UPDATE_FAILED(
              `The install failed: ${(e as Error).message}. Nothing was switched; the appliance keeps running ${this.host.running.product}.`,
            );
      progress.phase = 'failed';
      progress.error = { code: err.code, message: err.message };
      progress.message = err.message;
      this.host.releaseWrites();
      this.sys.appendHistory({
        event: 'failed',
        kind: pkg.manifest.kind,
        reason: err.message,
        actor: actor.name,
      });
      this.host.events.record(
        actor,
        'update.failed',
        `${pkg.manifest.kind} ${pkg.manifest.version}`,
        { reason: err.message },
        'failed',
      );
    });
    return progress;
  }

  private async run(pkg: InspectedPackage, progress: InstallProgress, actor: Actor): Promise<void> {
    let phaseStarted = Date.now();
    progress.timings = {};
    const phase = (p: InstallPhase, message: string) => {
      progress.timings![progress.phase] = Date.now() - phaseStarted;
      phaseStarted = Date.now();
      progress.phase = p;
      progress.step = PHASES.indexOf(p) + 1;
      progress.message = message;
    };
    const { kind, version } = pkg.manifest;
    const running = this.host.running;
    const from = { product: running.product, base: running.base };
    const to =
      kind === 'product'
        ? { product: version, base: running.base }
        : { product: running.product, base: version };
    this.sys.appendHistory({ event: 'install-started', kind, from, to, actor: actor.name });

    // Unpacking touches no site data, so changes go on meanwhile.
    phase('unpacking', `unpacking ${kind} ${version} into the inactive slot`);
    const boot = this.sys.readBoot();
    const target: 'a' | 'b' = boot.active === 'a' ? 'b' : 'a';
    await this.slots.prepareSlot(pkg, target);

    phase('waiting-for-writes', 'pausing changes: new writes wait until the update is done');
    await this.host.holdWrites('installing');

    phase('backing-up', 'saving a backup of the site data (downloadable below)');
    const backup = await this.host.createBackup(actor);
    const backupName = `before-${kind}-${version}-${new Date().toISOString().replace(/[:.]/g, '-')}.ghbak`;
    await fsp.rename(backup.file, path.join(this.sys.backups, backupName));
    await backup.cleanup();
    await this.slots.pruneBackups(3);
    progress.backup = backupName;

    phase('snapshotting', 'taking a database snapshot for rollback');
    const tmp = `${this.sys.snapshot}.tmp`;
    await fsp.rm(tmp, { force: true });
    this.host.db.prepare('VACUUM INTO ?').run(tmp);
    await fsp.rename(tmp, this.sys.snapshot);
    await fsyncPath(this.sys.root);

    phase('switching', `switching to slot ${target}`);
    this.sys.appendHistory({
      event: 'switched',
      kind,
      from,
      to,
      backup: backupName,
      actor: actor.name,
      timings: progress.timings,
    });
    this.host.events.record(actor, 'update.switched', `${kind} ${version}`, {
      slot: target,
      backup: backupName,
    });
    this.sys.writeBoot({
      format: 1,
      active: target,
      previous: boot.active,
      trial: {
        startedAt: new Date().toISOString(),
        deadlineMs: DEFAULT_TRIAL_DEADLINE_MS,
        kind,
        from,
        to,
        snapshot: true,
      },
    });

    phase(
      'restarting',
      kind === 'base'
        ? 'restarting the whole appliance on the new base'
        : 'restarting on the new software',
    );
    this.host.requestRestart(kind);
  }

  // Pre-update backups and clean-up: slot-files.ts.
  backups(): { name: string; size: number; createdAt: string }[] {
    return this.slots.backups();
  }

  openBackup(actor: Actor, name: string): ReadStream {
    return this.slots.openBackup(actor, name);
  }

  backupFile(name: string): string {
    return this.slots.backupFile(name);
  }

  /** After a start: half-written slots, unused bases and uploads cut off by the stop. */
  async cleanUp(): Promise<void> {
    await this.slots.cleanUp();
    await this.staging.dropLeftoverUploads();
  }

  releaseKeyIds(): string[] {
    return this.host.releaseKeys().map((k) => k.keyId);
  }

  activeSlot(): SlotName {
    return this.sys.readBoot().active;
  }
}

function fileSize(f: string): number {
  try {
    return statSync(f).size;
  } catch {
    return 0;
  }
}
