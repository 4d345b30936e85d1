import { existsSync, promises as fsp, readFileSync, readdirSync, statfsSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';

import { fsyncPath } from '../shared/fs.js';
import { fileDigest } from '../shared/signed-bundle.js';
import { BASE_MARKER, checkPayload, verifyPackage, type InspectedPackage } from './package.js';
import type { SystemDir } from './slots.js';
import { damagedStaged, isStagedDamage } from './staged-damage.js';
import { contentKind, installOrder, mib } from './install-order.js';
import type { InstallHost, StagedPackage } from './installer-types.js';
import { updatesErrors } from './error-codes.js';
import { sharedErrors } from '../shared/error-codes.js';

/**
 * Staging (system/staging): packages uploaded, downloaded or pushed by the cluster, each
 * verified before it is kept under its sha256, with its manifest beside it as JSON.
 */
export class StagingArea {
  /** Upload files being received now: clean-up after a start must leave them alone. */
  private readonly receiving = new Set<string>();

  constructor(
    private readonly sys: SystemDir,
    private readonly host: InstallHost,
  ) {}

  staged(): StagedPackage[] {
    const out: StagedPackage[] = [];
    for (const f of readdirSync(this.sys.staging)) {
      if (!f.endsWith('.json')) continue;
      const meta = JSON.parse(
        readFileSync(path.join(this.sys.staging, f), 'utf8'),
      ) as StagedPackage;
      if (existsSync(this.stagedFile(meta.id))) out.push(meta);
    }
    return installOrder(out);
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
  async stageUpload(body: Readable, source: StagedPackage['source']): Promise<StagedPackage> {
    const part = path.join(this.sys.staging, `upload-${randomBytes(6).toString('hex')}.part`);
    this.receiving.add(part);
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
            throw updatesErrors.PACKAGE_TOO_LARGE(
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
        throw updatesErrors.PACKAGE_EMPTY(
          'file: the uploaded file is empty. Choose the package file (.ghpkg) you downloaded from the update server.',
          { fields: [{ field: 'file', message: 'is empty' }] },
        );
      return await this.stageFile(part, source, true);
    } finally {
      await fsp.rm(part, { force: true });
      this.receiving.delete(part);
    }
  }

  /**
   * Remove what uploads cut off by a stop or a crash left behind. It runs while the appliance
   * already serves (right after the restart that ends an install or a rollback), so an upload
   * that began since then is not a leftover: removing its file failed it with a 500.
   */
  async dropLeftoverUploads(): Promise<void> {
    for (const f of readdirSync(this.sys.staging)) {
      const file = path.join(this.sys.staging, f);
      if (f.startsWith('upload-') && f.endsWith('.part') && !this.receiving.has(file))
        await fsp.rm(file, { force: true });
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
    await fsyncPath(this.sys.staging);
    return meta;
  }

  /** Whether a staged file still has its bytes (its id is its sha256); a damaged one is removed. */
  async stagedIntact(id: string): Promise<boolean> {
    const staged = this.staged().find((p) => p.id === id);
    if (!staged) return false;
    const { sha256 } = await fileDigest(this.stagedFile(id));
    if (sha256 === id) return true;
    await this.drop(id);
    return false;
  }

  /** A staged package that failed verification can never install: it goes at once. */
  async damaged(e: unknown, staged: StagedPackage): Promise<unknown> {
    if (!isStagedDamage(e)) return e;
    await this.drop(staged.id);
    return damagedStaged(e, `${staged.kind} ${staged.version}`, this.host.restageAdvice?.());
  }

  async drop(id: string): Promise<void> {
    await fsp.rm(this.stagedFile(id), { force: true });
    await fsp.rm(path.join(this.sys.staging, `${id}.json`), { force: true });
    await fsyncPath(this.sys.staging);
  }

  /**
   * `staged`: the package was fully checked when it was staged; its signature is checked again
   * (the file could have changed on disk) and unpacking checks every entry before writing it.
   */
  async verify(file: string, staged?: StagedPackage): Promise<InspectedPackage> {
    const keys = this.host.releaseKeys();
    if (keys.length === 0)
      throw updatesErrors.UPDATE_NO_RELEASE_KEY(
        'This appliance trusts no release key, so it cannot install any package. Release keys are fixed when the appliance is created (`gatehouse appliance init --release-key FILE`).',
      );
    const pkg = await verifyPackage(file, keys, staged);
    if (!staged) await checkPayload(pkg);
    const looksLike = contentKind(new Set(pkg.manifest.entries.map((e) => e.name)), BASE_MARKER);
    if (looksLike !== pkg.manifest.kind)
      throw updatesErrors.PACKAGE_WRONG_KIND(
        `The package says it is a ${pkg.manifest.kind} package but its contents are ${looksLike === 'neither' ? 'neither a product nor a base' : `a ${looksLike}`}. It was built wrongly; ask for a corrected package.`,
      );
    return pkg;
  }
}

const notStaged = (id: string) =>
  sharedErrors.NOT_FOUND(
    `id: no staged package ${id}. Upload the package or download it from the update server first.`,
  );
