import type { Command } from 'commander';
import { collect, releaseKeysFrom } from './options.js';
import { run } from './errors.js';

/**
 * `jump-client install` and `jump-client uninstall`: a Jump Client installation from the
 * site's installer, which upgrades itself in the site's waves (S13;
 * src/clients/jump-client-installation.ts).
 */
export function addJumpClientInstallCommands(cmd: Command): void {
  cmd
    .command('install')
    .description(
      "install a Jump Client into DIR from the site's Jump Client installer, or replace an installation in place with a newer one (same name and identity)",
    )
    .requiredOption('--dir <dir>', 'the installation directory')
    .requiredOption(
      '--installer <file>',
      'the Jump Client installer (.ghjc) from /appliance > Updates',
    )
    .requiredOption(
      '--release-key <file>',
      'a release public key (.pub) its builds must be signed by (repeat for more)',
      collect,
    )
    .option('--name <name>', "this Jump Client's name (a new installation; kept when replacing)")
    .option('--group <group>', 'the Jump Client group (default: kept, else default)')
    .option('--allow <host:port>', 'a local target sessions may open (repeat for more)', collect)
    .option('--region <region>', 'prefer traffic nodes of this region')
    .option('--site <host:port>', "where to reach the site (default: the installer's)")
    .action(
      run(
        async (o: {
          dir: string;
          installer: string;
          releaseKey: string[];
          name?: string;
          group?: string;
          allow?: string[];
          region?: string;
          site?: string;
        }) => {
          const keys = await releaseKeysFrom(o.releaseKey);
          const { installJumpClient, jumpClientLauncher } =
            await import('../clients/jump-client-installation.js');
          const r = await installJumpClient({ ...o, keys });
          process.stdout.write(
            (r.replaced && r.replaced !== r.version
              ? `Replaced Jump Client ${r.config.name} ${r.replaced} with ${r.version} in ${r.dir} (its identity kept; a running Jump Client runs ${r.version} once restarted).`
              : `Installed Jump Client ${r.config.name} ${r.version} in ${r.dir}, for ${r.config.site}.`) +
              ` Run ${jumpClientLauncher(r.dir)}; the first start enrols it with $GATEHOUSE_JUMP_CLIENT_TOKEN.\n`,
          );
        },
      ),
    );

  cmd
    .command('uninstall')
    .description(
      'remove a Jump Client installation with the installer of the version it runs (the installation keeps a copy in DIR/installers)',
    )
    .requiredOption('--dir <dir>', 'the installation directory')
    .requiredOption('--installer <file>', 'the installer of the installed version')
    .action(
      run(async (o: { dir: string; installer: string }) => {
        const { uninstallJumpClient } = await import('../clients/jump-client-installation.js');
        const inst = await uninstallJumpClient(o.dir, o.installer);
        process.stdout.write(
          `Removed Jump Client ${inst.name} ${inst.current} from ${o.dir}. Revoke its installation on /login > Jump Clients.\n`,
        );
      }),
    );
}
