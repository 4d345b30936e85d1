import {
  cpSync,
  createReadStream,
  existsSync,
  type ReadStream,
  promises as fsp,
  readFileSync,
  readdirSync,
  realpathSync,
  statfsSync,
  statSync,
} from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { GatehouseError, conflict } from '../shared/errors.js';
import { compareVersions } from '../shared/version.js';
import { fsyncDir } from '../shared/fs.js';
import type { Actor } from '../shared/actor.js';
import type { EventLog } from '../site/events.js';
import type { Db } from '../store/db.js';
import {
  BASE_MARKER,
  checkPayload,
  fileDigest,
  extractPackage,
  verifyPackage,
  type InspectedPackage,
  type PackageKind,
  type ReleaseKey,
} from './package.js';
import { DEFAULT_TRIAL_DEADLINE_MS, SystemDir, type SlotName } from './slots.js';
import { damagedStaged, isStagedDamage } from './staged-damage.js';

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

const PHASES: InstallPhase[] = [
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

const MiB = 1024 * 1024;

/**
 * Installs update packages into the inactive A/B slot and switches to it atomically. The
 * running slot is never written to; the only step that changes what runs is the atomic
 * write of boot.json, so an interruption anywhere leaves exactly the old software or the new.
 */
export class UpdateInstaller {
  readonly sys: SystemDir;
  progress: InstallProgress | undefined;

  constructor(private readonly host: InstallHost) {
    this.sys = new SystemDir(host.dataDir);
    this.sys.ensure();
  }

  // --- staging ------------------------------------------------------------------------------

  staged(): StagedPackage[] {
    const out: StagedPackage[] = [];
    for (const f of readdirSync(this.sys.staging)) {
      if (!f.endsWith('.json')) continue;
      const meta = JSON.parse(
        readFileSync(path.join(this.sys.staging, f), 'utf8'),
      ) as StagedPackage;
      if (existsSync(this.stagedFile(meta.id))) out.push(meta);
    }
    return out.sort((a, b) =>
      a.kind !== b.kind ? (a.kind === 'base' ? -1 : 1) : compareVersions(a.version, b.version),
    );
  }

  stagedFile(id: string): string {
    if (!/^[0-9a-f]{64}$/.test(id)) throw notStaged(id);
    return path.join(this.sys.staging, `${id}.ghpkg`);
  }

  get(id: string): StagedPackage {
    const meta = path.join(this.sys.staging, `${id}.json`);
    if (!/^[0-9a-f]{64}$/.test(id) || !existsSync(meta) || !existsSync(this.stagedFile(id)))
      throw notStaged(id);
    return JSON.parse(readFileSync(meta, 'utf8')) as StagedPackage;
  }

  /** Receive an upload into staging: verified before it is kept; refused uploads leave nothing. */
  async stageUpload(
    body: Readable,
    source: StagedPackage['source'] = 'upload',
  ): Promise<StagedPackage> {
    const part = path.join(this.sys.staging, `upload-${randomBytes(6).toString('hex')}.part`);
    try {
      const fh = await fsp.open(part, 'w', 0o600);
      let size = 0;
      // Half of the free space: the other half is needed to unpack it.
      const disk = statfsSync(this.sys.staging);
      const maxBytes = Math.floor((disk.bavail * disk.bsize) / 2);
      try {
        for await (const chunk of body) {
          size += (chunk as Buffer).length;
          if (size > maxBytes)
            throw new GatehouseError(
              'PACKAGE_TOO_LARGE',
              413,
              `file: the upload is larger than half of the free disk space (${mib(maxBytes)} MiB), which an install needs to unpack it. Free some space (e.g. remove staged packages) and try again.`,
              { fields: [{ field: 'file', message: 'is larger than the free disk space allows' }] },
            );
          await fh.write(chunk as Buffer);
        }
        await fh.sync();
      } finally {
        await fh.close();
      }
      if (size === 0)
        throw new GatehouseError(
          'PACKAGE_EMPTY',
          400,
          'file: the uploaded file is empty. Choose the package file (.ghpkg) you downloaded from the update server.',
          {
            fields: [{ field: 'file', message: 'is empty' }],
          },
        );
      return await this.stageFile(part, source, true);
    } finally {
      await fsp.rm(part, { force: true });
    }
  }

  /** Verify a package file and keep it in staging (moved when `move`, else copied). */
  async stageFile(
    file: string,
    source: StagedPackage['source'],
    move = false,
  ): Promise<StagedPackage> {
    const pkg = await this.verify(file);
    const meta: StagedPackage = {
      id: pkg.sha256,
      kind: pkg.manifest.kind,
      version: pkg.manifest.version,
      requires: pkg.manifest.requires,
      releaseNotes: pkg.manifest.releaseNotes,
      size: pkg.size,
      sha256: pkg.sha256,
      source,
      stagedAt: new Date().toISOString(),
    };
    const dest = this.stagedFile(meta.id);
    if (path.resolve(file) !== dest) {
      if (move) await fsp.rename(file, dest);
      else await fsp.copyFile(file, dest);
    }
    await fsp.writeFile(
      path.join(this.sys.staging, `${meta.id}.json`),
      JSON.stringify(meta, null, 2),
    );
    await fsyncDir(this.sys.staging);
    return meta;
  }

  async removeStaged(id: string): Promise<void> {
    this.get(id);
    if (this.progress && this.progress.phase !== 'failed' && this.progress.id === id)
      throw conflict(
        'UPDATE_IN_PROGRESS',
        'This package is being installed; it can be removed when the install has finished.',
      );
    await this.dropStaged(id);
  }

  /** Whether a staged file still has its bytes (its id is its sha256); a damaged one is removed. */
  async stagedIntact(id: string): Promise<boolean> {
    const staged = this.staged().find((p) => p.id === id);
    if (!staged) return false;
    const { sha256 } = await fileDigest(this.stagedFile(id));
    if (sha256 === id) return true;
    await this.dropStaged(id);
    return false;
  }

  /** A staged package that failed verification can never install: it goes at once. */
  private async damaged(e: unknown, staged: StagedPackage): Promise<unknown> {
    if (!isStagedDamage(e)) return e;
    await this.dropStaged(staged.id);
    return damagedStaged(e, `${staged.kind} ${staged.version}`, this.host.restageAdvice?.());
  }

  private async dropStaged(id: string): Promise<void> {
    await fsp.rm(this.stagedFile(id), { force: true });
    await fsp.rm(path.join(this.sys.staging, `${id}.json`), { force: true });
    await fsyncDir(this.sys.staging);
  }

  /**
   * `staged`: the package was fully checked when it was staged; its signature is checked again
   * (the file could have changed on disk) and unpacking checks every entry before writing it.
   */
  private async verify(file: string, staged?: StagedPackage): Promise<InspectedPackage> {
    const keys = this.host.releaseKeys();
    if (keys.length === 0)
      throw new GatehouseError(
        'UPDATE_NO_RELEASE_KEY',
        409,
        'This appliance trusts no release key, so it cannot install any package. Release keys are fixed when the appliance is created (`gatehouse appliance init --release-key FILE`).',
      );
    const pkg = await verifyPackage(file, keys, staged);
    if (!staged) await checkPayload(pkg);
    const names = new Set(pkg.manifest.entries.map((e) => e.name));
    const looksLike =
      names.has('bin/gatehouse.js') && names.has('dist/src/cli/main.js')
        ? 'product'
        : names.has(`node_modules/${BASE_MARKER}`)
          ? 'base'
          : 'neither';
    if (looksLike !== pkg.manifest.kind)
      throw new GatehouseError(
        'PACKAGE_WRONG_KIND',
        400,
        `The package says it is a ${pkg.manifest.kind} package but its contents are ${looksLike === 'neither' ? 'neither a product nor a base' : `a ${looksLike}`}. It was built wrongly; ask for a corrected package.`,
      );
    return pkg;
  }

  // --- checks -------------------------------------------------------------------------------

  /** Every reason not to install, checked before anything is written. */
  private check(pkg: InspectedPackage, opts: { force: boolean; expectKind?: PackageKind }): void {
    const { kind, version, requires } = pkg.manifest;
    const running = this.host.running;
    if (opts.expectKind && opts.expectKind !== kind)
      throw new GatehouseError(
        'PACKAGE_WRONG_KIND',
        400,
        `kind: this is a ${kind} package, not a ${opts.expectKind} package. Choose the ${opts.expectKind} package file, or install this one as a ${kind} update.`,
        { fields: [{ field: 'kind', message: `the package is a ${kind} package` }] },
      );
    const current = kind === 'product' ? running.product : running.base;
    const cmp = compareVersions(version, current);
    if (cmp === 0)
      throw conflict(
        'UPDATE_ALREADY_INSTALLED',
        `${kind} ${version} is already installed; there is nothing to do.`,
      );
    if (cmp < 0 && !opts.force)
      throw new GatehouseError(
        'UPDATE_DOWNGRADE',
        409,
        `${kind} ${version} is older than the installed ${current}. Downgrades are refused; choose force (API: "force": true) only if you mean to go back.`,
        { fields: [{ field: 'force', message: 'must be true to install an older version' }] },
      );
    if (kind === 'product' && requires.base && compareVersions(running.base, requires.base) < 0)
      throw new GatehouseError(
        'UPDATE_REQUIRES_BASE',
        409,
        `product ${version} needs base ${requires.base} or later; this appliance runs base ${running.base}. Install the base ${requires.base} update first (S9), then this one.`,
      );
    const payload = pkg.manifest.entries.reduce((n, e) => n + e.size, 0);
    const dbBytes =
      fileSize(path.join(this.host.dataDir, 'store', 'gatehouse.db')) +
      fileSize(path.join(this.host.dataDir, 'store', 'gatehouse.db-wal'));
    // unpacked payload + database snapshot + pre-update backup (at most the database and files) + reserve
    const need = payload + 2 * dbBytes + this.host.reserveMiB() * MiB;
    const fs = statfsSync(this.host.dataDir);
    const free = fs.bavail * fs.bsize;
    if (free < need)
      throw new GatehouseError(
        'UPDATE_DISK_FULL',
        507,
        `Not enough free disk space: installing ${kind} ${version} needs ${mib(need)} MiB (payload ${mib(payload)} MiB, database snapshot and backup ${mib(2 * dbBytes)} MiB, reserve ${this.host.reserveMiB()} MiB) but ${mib(free)} MiB are free on ${this.host.dataDir}. Free some space (e.g. delete old staged packages) and try again.`,
      );
  }

  // --- install ------------------------------------------------------------------------------

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
        'UPDATE_IN_PROGRESS',
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
      pkg = await this.verify(this.stagedFile(id), staged);
      this.check(pkg, { force: !!opts.force, expectKind: opts.expectKind });
    } catch (e) {
      this.progress = undefined;
      const err = (await this.damaged(e, staged)) as GatehouseError;
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
      const e = await this.damaged(failure, staged).catch(() => failure);
      const err =
        e instanceof GatehouseError
          ? e
          : new GatehouseError(
              'UPDATE_FAILED',
              500,
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
    await this.prepareSlot(pkg, target);

    phase('waiting-for-writes', 'pausing changes: new writes wait until the update is done');
    await this.host.holdWrites('installing');

    phase('backing-up', 'saving a backup of the site data (downloadable below)');
    const backup = await this.host.createBackup(actor);
    const backupName = `before-${kind}-${version}-${new Date().toISOString().replace(/[:.]/g, '-')}.ghbak`;
    await fsp.rename(backup.file, path.join(this.sys.backups, backupName));
    await backup.cleanup();
    await this.pruneBackups(3);
    progress.backup = backupName;

    phase('snapshotting', 'taking a database snapshot for rollback');
    const tmp = `${this.sys.snapshot}.tmp`;
    await fsp.rm(tmp, { force: true });
    this.host.db.prepare('VACUUM INTO ?').run(tmp);
    await fsp.rename(tmp, this.sys.snapshot);
    await fsyncDir(this.sys.root);

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

  /** Fill the inactive slot; the running slot is never touched. */
  private async prepareSlot(pkg: InspectedPackage, target: 'a' | 'b'): Promise<void> {
    const slotDir = this.sys.slot(target);
    const incoming = `${slotDir}.incoming`;
    await fsp.rm(incoming, { recursive: true, force: true });
    const runningModules = realpathSync(path.join(this.host.running.tree, 'node_modules'));
    let modules: string;
    if (pkg.manifest.kind === 'product') {
      await extractPackage(pkg, incoming);
      modules = runningModules;
    } else {
      const baseDir = this.sys.base(pkg.manifest.version);
      const baseIncoming = `${baseDir}.incoming`;
      await fsp.rm(baseIncoming, { recursive: true, force: true });
      await extractPackage(pkg, baseIncoming);
      // Never the running layer: installing the running base version is refused above.
      if (!runningModules.startsWith(baseDir + path.sep))
        await fsp.rm(baseDir, { recursive: true, force: true });
      await fsp.rename(baseIncoming, baseDir);
      modules = path.join(baseDir, 'node_modules');
      // The same product code, on the new runtime.
      await fsp.mkdir(incoming, { recursive: true });
      // A hundred small files: one synchronous copy is quicker than a hundred async hops.
      for (const part of ['package.json', 'bin', path.join('dist', 'src')]) {
        cpSync(path.join(this.host.running.tree, part), path.join(incoming, part), {
          recursive: true,
        });
      }
    }
    // Relative inside the data directory, so that the directory can be moved whole.
    const link = modules.startsWith(this.sys.root + path.sep)
      ? path.relative(slotDir, modules)
      : modules;
    await fsp.symlink(link, path.join(incoming, 'node_modules'), 'dir');
    await fsp.rm(slotDir, { recursive: true, force: true });
    await fsp.rename(incoming, slotDir);
    await fsyncDir(path.dirname(slotDir));
  }

  private async pruneBackups(keep: number): Promise<void> {
    const files = readdirSync(this.sys.backups)
      .filter((f) => f.endsWith('.ghbak'))
      .map((f) => ({ f, t: statSync(path.join(this.sys.backups, f)).mtimeMs }))
      .sort((a, b) => b.t - a.t);
    for (const { f } of files.slice(keep))
      await fsp.rm(path.join(this.sys.backups, f), { force: true });
  }

  backups(): { name: string; size: number; createdAt: string }[] {
    return readdirSync(this.sys.backups)
      .filter((f) => f.endsWith('.ghbak'))
      .map((name) => {
        const st = statSync(path.join(this.sys.backups, name));
        return { name, size: st.size, createdAt: st.mtime.toISOString() };
      })
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }

  /** A pre-update backup to download; the download is written to the event log. */
  openBackup(actor: Actor, name: string): ReadStream {
    const file = this.backupFile(name);
    this.host.events.record(actor, 'updates.backup-downloaded', name);
    return createReadStream(file);
  }

  backupFile(name: string): string {
    if (
      !/^before-[a-z]+-[0-9.]+-[0-9TZ-]+\.ghbak$/.test(name) ||
      !existsSync(path.join(this.sys.backups, name))
    )
      throw new GatehouseError(
        'NOT_FOUND',
        404,
        `name: no pre-update backup called ${name}. The Updates page lists the backups kept (the last three).`,
      );
    return path.join(this.sys.backups, name);
  }

  /**
   * After a clean start on committed software: drop half-written slots and base layers no
   * slot uses any more.
   */
  async cleanUp(): Promise<void> {
    const boot = this.sys.readBoot();
    if (boot.trial || boot.rollback) return;
    const used = new Set<string>();
    for (const s of ['a', 'b'] as const) {
      await fsp.rm(`${this.sys.slot(s)}.incoming`, { recursive: true, force: true });
      try {
        used.add(realpathSync(path.join(this.sys.slot(s), 'node_modules')));
      } catch {
        // empty slot
      }
    }
    for (const v of readdirSync(this.sys.bases)) {
      const dir = path.join(this.sys.bases, v);
      if (v.endsWith('.incoming') || !used.has(path.join(realpathSync(dir), 'node_modules')))
        await fsp.rm(dir, { recursive: true, force: true });
    }
    for (const f of readdirSync(this.sys.staging))
      if (f.endsWith('.part') && f.startsWith('upload-'))
        await fsp.rm(path.join(this.sys.staging, f), { force: true });
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

const mib = (n: number) => Math.ceil(n / MiB);

const notStaged = (id: string) =>
  new GatehouseError(
    'NOT_FOUND',
    404,
    `id: no staged package ${id}. Upload the package or download it from the update server first.`,
  );
