import {
  cpSync,
  createReadStream,
  existsSync,
  type ReadStream,
  promises as fsp,
  readdirSync,
  realpathSync,
  statSync,
} from 'node:fs';
import path from 'node:path';

import { fsyncPath } from '../shared/fs.js';
import type { Actor } from '../shared/actor.js';
import { extractPackage, type InspectedPackage } from './package.js';
import type { SystemDir } from './slots.js';
import type { InstallHost } from './installer-types.js';
import { sharedErrors } from '../shared/error-codes.js';

/**
 * The files an install writes besides staging: the inactive slot (and base layers), the
 * pre-update backups kept, and the clean-up of what a committed start no longer uses.
 */
export class SlotFiles {
  constructor(
    private readonly sys: SystemDir,
    private readonly host: InstallHost,
  ) {}

  /** Fill the inactive slot; the running slot is never touched. */
  async prepareSlot(pkg: InspectedPackage, target: 'a' | 'b'): Promise<void> {
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
    await fsyncPath(path.dirname(slotDir));
  }

  async pruneBackups(keep: number): Promise<void> {
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
      throw sharedErrors.NOT_FOUND(
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
  }
}
