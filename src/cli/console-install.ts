import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import type { RepresentativeConsole } from '../clients/console.js';
import { collect, releaseKeysFrom } from './options.js';

/**
 * `console install`, `console uninstall-old` and `console download-build`: the console
 * installation that follows the site's version (S12, S13; src/clients/console-installation.ts).
 */
export function addInstallationCommands(
  cmd: Command,
  run: <A extends unknown[]>(fn: (...args: A) => Promise<void>) => (...args: A) => Promise<void>,
  signedIn: (profile?: string) => Promise<RepresentativeConsole>,
): void {
  cmd
    .command('install')
    .description(
      'install the console into DIR from a signed console build (or from this code tree): it then follows the site, upgrading itself when the site runs another version',
    )
    .requiredOption('--dir <dir>', 'the installation directory')
    .option(
      '--package <file>',
      'a console build: the signed product package (default: this code tree)',
    )
    .requiredOption(
      '--release-key <file>',
      'a release public key (.pub) console builds must be signed by (repeat for more)',
      collect,
    )
    .action(
      run(async (o: { dir: string; package?: string; releaseKey: string[] }) => {
        const keys = await releaseKeysFrom(o.releaseKey);
        const { installConsole, launcherOf } = await import('../clients/console-installation.js');
        const inst = await installConsole({ dir: o.dir, keys, packageFile: o.package });
        process.stdout.write(
          `Installed console ${inst.current} in ${inst.dir} (trusting ${keys.length} release key(s)). Run ${launcherOf(inst.dir)}.\n`,
        );
      }),
    );

  cmd
    .command('uninstall-old')
    .description("remove the installation's earlier versions (kept after each upgrade)")
    .requiredOption('--dir <dir>', 'the installation directory')
    .action(
      run(async (o: { dir: string }) => {
        const { uninstallOld, openInstallation } =
          await import('../clients/console-installation.js');
        const removed = await uninstallOld(o.dir);
        const { current, dir } = openInstallation(o.dir);
        process.stdout.write(
          removed.length
            ? `Removed ${removed.join(', ')} from ${dir}; ${current} stays.\n`
            : `Nothing to remove from ${dir}: only ${current} is installed.\n`,
        );
      }),
    );

  cmd
    .command('download-build')
    .description("download the site's console build (the signed product package of its version)")
    .requiredOption('--out <file>', 'where to write the package')
    .option('--profile <file>', 'the console sign-in (see `console sign-in`)')
    .action(
      run(async (o: { out: string; profile?: string }) => {
        const rep = await signedIn(o.profile);
        const partial = `${path.resolve(o.out)}.partial`;
        try {
          const version = await rep.api.downloadConsoleBuild(rep.signIn.ticket, partial);
          await fsp.rename(partial, o.out);
          process.stdout.write(`Downloaded the console build ${version ?? ''} to ${o.out}.\n`);
        } finally {
          await fsp.rm(partial, { force: true });
          await rep.close();
        }
      }),
    );
}
