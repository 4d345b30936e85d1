import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { fieldError } from '../shared/errors.js';
import { serveCommand } from './serve.js';
import { enrolmentCommands } from './update-server-enrolment.js';
import { DATA_DIR, DATA_DIR_HELP, withStore } from './update-server-store.js';
import { run } from './errors.js';
import { cliErrors } from './error-codes.js';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function readFileFor(flag: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw fieldError(
      flag,
      code === 'ENOENT' ? `${file} does not exist` : `${file} cannot be read (${code})`,
    );
  }
}

export function updateServerCommand(): Command {
  const cmd = new Command('update-server').description(
    'run the update service: publish signed packages, answer appliances, turn download keys into downloads',
  );

  cmd
    .command('init')
    .description(
      'create an update server data directory: TLS certificate, release keys, database, operator password',
    )
    .requiredOption(DATA_DIR, 'new (or empty) directory for the update server')
    .option(
      '--release-key <file>',
      'release public key (.pub, PEM) whose packages this server publishes (repeatable; at least one)',
      collect,
      [],
    )
    .option(
      '--admin-password-file <file>',
      'operator password for /admin: first line of this file (default: generated and printed once)',
    )
    .option(
      '--hostname <host>',
      'name appliances use to reach this server (repeatable; goes into the certificate)',
      collect,
      [],
    )
    .option(
      '--address <ip>',
      'IP address appliances use to reach this server (repeatable; goes into the certificate)',
      collect,
      [],
    )
    .addHelpText(
      'after',
      '\nExample:\n  gatehouse update-server init --data-dir ./updates --release-key release.pub --hostname updates.example.com --address 127.0.0.1',
    )
    .action(
      run(async (o) => {
        const { parseReleaseKey } = await import('../updates/release-keys.js');
        const { initUpdateServer } = await import('../updates/server/init.js');
        if (o.releaseKey.length === 0)
          throw fieldError(
            'release-key',
            'is required: give the .pub file of the release key that signs the packages',
          );
        const releaseKeys = (o.releaseKey as string[]).map((f) =>
          parseReleaseKey(readFileFor('release-key', f), f),
        );
        let adminPassword: string | undefined;
        if (o.adminPasswordFile) {
          adminPassword =
            readFileFor('admin-password-file', o.adminPasswordFile).split(/\r?\n/)[0] ?? '';
          if (!adminPassword)
            throw fieldError(
              'admin-password-file',
              `${o.adminPasswordFile} is empty; put the password on its first line`,
            );
        }
        const dataDir = path.resolve(o.dataDir);
        const result = await initUpdateServer({
          dataDir,
          releaseKeys,
          adminPassword,
          hostnames: o.hostname,
          addresses: o.address,
        });
        process.stdout.write(
          [
            `Created update server in ${dataDir}`,
            `TLS certificate SHA-256 fingerprint: ${result.fingerprint}`,
            `Accepts packages signed by release key(s): ${result.releaseKeyIds.join(', ')}`,
            ...(result.generatedPassword
              ? [
                  `Generated operator password for /admin (shown once, store it now): ${result.generatedPassword}`,
                ]
              : []),
            `Start it with: gatehouse update-server start --data-dir ${o.dataDir} --listen 127.0.0.1:8444`,
            '',
          ].join('\n'),
        );
      }),
    );

  cmd.addCommand(
    serveCommand({
      name: 'start',
      description:
        'serve the update server over HTTPS until SIGTERM (in-flight downloads finish first)',
      dataDirHelp: DATA_DIR_HELP,
      examplePort: 8444,
      serve: async (o) => (await import('../updates/server/daemon.js')).startUpdateServer(o),
    }),
  );

  cmd
    .command('publish')
    .description(
      'verify a package (signature, every entry) and offer it to appliances; works while the server runs',
    )
    .argument('<file>', 'the .ghpkg package file')
    .requiredOption(DATA_DIR, DATA_DIR_HELP)
    .action(
      run(async (file: string, o) => {
        const { publishPackage } = await import('../updates/server/publish.js');
        await withStore(o.dataDir, async ({ dir, store }) => {
          const {
            package: p,
            added,
            repaired,
          } = await publishPackage(dir, store, path.resolve(file));
          const verb = added
            ? 'Published'
            : repaired
              ? 'Repaired (the stored copy was damaged; replaced by this file)'
              : 'Already published';
          process.stdout.write(
            `${verb}: ${p.kind} ${p.version}${p.requires.base ? ` (requires base ${p.requires.base})` : ''}, ${p.size} bytes, sha256 ${p.sha256}\n`,
          );
        });
      }),
    );

  cmd
    .command('list')
    .description('list published packages, the appliances met and their downloads')
    .requiredOption(DATA_DIR, DATA_DIR_HELP)
    .option('--json', 'print JSON instead of text')
    .action(
      run(async (o) => {
        const { PackageIntegrity, REPAIR_ADVICE } = await import('../updates/server/integrity.js');
        await withStore(o.dataDir, async ({ dir, store }) => {
          const stored = await new PackageIntegrity(dir).checkAll(store.packages());
          const packages = stored.map((s) => ({
            ...s.package,
            state: s.state,
            problem: s.problem,
          }));
          const appliances = store.appliances();
          const downloads = store.downloads();
          const pending = store.enrolment.pendingKeys().map(({ publicKey: _, ...p }) => p);
          const tokens = store.enrolment.tokens();
          if (o.json) {
            process.stdout.write(
              JSON.stringify({ packages, appliances, pending, tokens, downloads }, null, 2) + '\n',
            );
            return;
          }
          const iso = (ms: number) => new Date(ms).toISOString();
          const lines = ['Packages:'];
          if (packages.length === 0) lines.push('  (none published)');
          for (const p of packages)
            lines.push(
              `  ${p.kind.padEnd(7)} ${p.version.padEnd(9)} ${String(p.size).padStart(11)} B  ${p.sha256}${p.requires.base ? `  requires base ${p.requires.base}` : ''}${p.state === 'ok' ? '' : `  ${p.state.toUpperCase()}: ${p.problem}`}`,
            );
          if (packages.some((p) => p.state !== 'ok')) lines.push(`  To repair: ${REPAIR_ADVICE}`);
          lines.push('Appliances:');
          if (appliances.length === 0) lines.push('  (none enrolled)');
          for (const a of appliances)
            lines.push(
              `  ${a.name}  key ${a.keyId}  enrolled by ${a.enrolledVia === 'before-proof' ? 'nothing (before proof was required): review, then confirm or revoke' : a.enrolledVia}  product ${a.product}  base ${a.base}  last seen ${iso(a.lastSeenAt)}`,
            );
          lines.push('Waiting for approval:');
          if (pending.length === 0) lines.push('  (none)');
          for (const p of pending)
            lines.push(
              `  ${p.name}  key ${p.keyId}  from ${p.address}  last asked ${iso(p.lastSeenAt)}${store.appliance(p.name) ? '  (name enrolled with another key: approve with --rekey)' : ''}`,
            );
          lines.push('Downloads:');
          if (downloads.length === 0) lines.push('  (none recorded)');
          for (const d of downloads)
            lines.push(`  ${d.appliance}  ${d.kind} ${d.version}  via ${d.via}  at ${iso(d.at)}`);
          process.stdout.write(lines.join('\n') + '\n');
        });
      }),
    );

  cmd
    .command('verify')
    .description(
      'check that every stored package still has the bytes that were published; names the damaged ones',
    )
    .requiredOption(DATA_DIR, DATA_DIR_HELP)
    .action(
      run(async (o: { dataDir: string }) => {
        const { PackageIntegrity, describeDamage, REPAIR_ADVICE } =
          await import('../updates/server/integrity.js');
        await withStore(o.dataDir, async ({ dir, store }) => {
          const stored = await new PackageIntegrity(dir).checkAll(store.packages());
          const damaged = describeDamage(stored);
          if (damaged.length > 0)
            throw cliErrors.UPDATE_SERVER_PACKAGES_DAMAGED(
              `${damaged.length} of ${stored.length} stored package(s) are not as published:\n  ${damaged.join('\n  ')}\nTo repair: ${REPAIR_ADVICE}.`,
            );
          process.stdout.write(`All ${stored.length} stored package(s) are as published.\n`);
        });
      }),
    );

  cmd
    .command('reset')
    .description('make downloaded packages available to an appliance again (all, or one version)')
    .requiredOption(DATA_DIR, DATA_DIR_HELP)
    .requiredOption('--appliance <name>', 'the appliance name, as `list` shows it')
    .option(
      '--version <version>',
      'only the package(s) of this version (default: every download of the appliance)',
    )
    .action(
      run(async (o) => {
        const { resetDownloads } = await import('../updates/server/operator.js');
        await withStore(o.dataDir, ({ store }) => {
          const { reset } = resetDownloads(store, { appliance: o.appliance, version: o.version });
          process.stdout.write(
            `Reset ${reset} download record(s) of ${o.appliance}: ${reset ? 'available to it again' : 'nothing was downloaded'}.\n`,
          );
        });
      }),
    );

  cmd
    .command('forget')
    .description(
      'forget an appliance and its downloads, e.g. after it was re-installed with a new identity key',
    )
    .requiredOption(DATA_DIR, DATA_DIR_HELP)
    .requiredOption('--appliance <name>', 'the appliance name, as `list` shows it')
    .action(
      run(async (o) => {
        const { forgetAppliance } = await import('../updates/server/operator.js');
        await withStore(o.dataDir, ({ store }) => {
          forgetAppliance(store, o.appliance);
          process.stdout.write(
            `Forgot ${o.appliance}: it must be enrolled again (registration token or approval).\n`,
          );
        });
      }),
    );

  enrolmentCommands(cmd);
  return cmd;
}
