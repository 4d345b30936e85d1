import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Command, Option } from 'commander';
import { fieldError } from '../shared/errors.js';
import { run } from './errors.js';
import { parseListen, serveCommand } from './serve.js';
import { logRotationCommand } from './log-rotation.js';
import { metricsTokenCommand } from './metrics-token.js';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function readPasswordFile(file: string, field: string): string {
  try {
    const first = readFileSync(file, 'utf8').split(/\r?\n/)[0] ?? '';
    if (!first) throw fieldError(field, `${file} is empty; put the password on its first line`);
    return first;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT')
      throw fieldError(field, `${file} does not exist`);
    throw e;
  }
}

function readKeyFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    throw fieldError('release-key', `${file} cannot be read; give the path of a .pub file`);
  }
}

export function applianceCommand(): Command {
  const cmd = new Command('appliance').description(
    'create and run an appliance (one per data directory)',
  );

  cmd
    .command('init')
    .description(
      'create a new appliance data directory: TLS certificate, keys, database and the two admin accounts',
    )
    .requiredOption('--data-dir <dir>', 'new (or empty) directory for the appliance')
    .requiredOption('--name <name>', 'appliance name, e.g. appliance-a')
    .option(
      '--hostname <host>',
      'site hostname clients use (repeatable; goes into the certificate)',
      collect,
      [],
    )
    .option(
      '--address <ip>',
      'a unique IP address of this appliance (repeatable; goes into the certificate)',
      collect,
      [],
    )
    .option('--admin-user <name>', '/appliance administrator username', 'admin')
    .option(
      '--admin-password-file <file>',
      '/appliance administrator password: first line of this file',
    )
    .addOption(
      new Option(
        '--admin-password <password>',
        '/appliance administrator password (visible to other local users; prefer the file)',
      ).env('GATEHOUSE_ADMIN_PASSWORD'),
    )
    .option('--login-user <name>', 'first /login user (a site administrator)', 'admin')
    .option('--login-password-file <file>', 'first /login user password: first line of this file')
    .addOption(
      new Option(
        '--login-password <password>',
        'first /login user password (visible to other local users; prefer the file)',
      ).env('GATEHOUSE_LOGIN_PASSWORD'),
    )
    .option(
      '--inter-appliance-key <key>',
      'start with this Inter-Appliance key (default: a new random key)',
    )
    .option(
      '--release-key <file>',
      'public key (PEM) of a software release signer; only packages it signed can be installed (repeatable)',
      collect,
      [],
    )
    .addHelpText(
      'after',
      '\nPasswords not given are generated and printed once. Example:\n  gatehouse appliance init --data-dir ./a --name appliance-a --hostname support.example.com --address 127.0.0.2',
    )
    .action(
      run(async (o) => {
        if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(o.name)) {
          throw fieldError(
            'name',
            "must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit",
          );
        }
        const { initAppliance } = await import('../appliance/init.js');
        const result = await initAppliance({
          dataDir: path.resolve(o.dataDir),
          name: o.name,
          hostnames: o.hostname,
          addresses: o.address,
          applianceAdmin: {
            username: o.adminUser,
            password: o.adminPasswordFile
              ? readPasswordFile(o.adminPasswordFile, 'admin-password-file')
              : o.adminPassword || undefined,
          },
          loginAdmin: {
            username: o.loginUser,
            password: o.loginPasswordFile
              ? readPasswordFile(o.loginPasswordFile, 'login-password-file')
              : o.loginPassword || undefined,
          },
          interApplianceKey: o.interApplianceKey,
          releaseKeys: (o.releaseKey as string[]).map((file) => ({
            pem: readKeyFile(file),
            source: file,
          })),
        });
        process.stdout.write(
          [
            `Created appliance "${result.identity.name}" in ${path.resolve(o.dataDir)}`,
            `TLS certificate SHA-256 fingerprint: ${result.certificateFingerprint}`,
            `Site CA SHA-256 fingerprint (clients pin it with --site-ca): ${result.siteCaFingerprint}`,
            ...result.generatedPasswords.map(
              (g) =>
                `Generated /${g.area} password for "${g.username}" (shown once, store it now): ${g.password}`,
            ),
            `Start it with: gatehouse appliance start --data-dir ${o.dataDir} --listen 127.0.0.1:8443`,
            '',
          ].join('\n'),
        );
      }),
    );

  const dataDirHelp = 'the appliance data directory made by `appliance init`';
  cmd
    .command('unlock')
    .description(
      'lift the sign-in backoff of accounts and addresses at once (works while the appliance runs)',
    )
    .requiredOption('--data-dir <dir>', dataDirHelp)
    .addOption(
      new Option('--area <area>', 'only accounts of this area (default: both)').choices([
        'appliance',
        'login',
      ]),
    )
    .option('--user <name>', 'only this account (default: every account)')
    .action(
      run(async (o: { dataDir: string; area?: 'appliance' | 'login'; user?: string }) => {
        const { unlockDataDir } = await import('../appliance/auth/unlock-data-dir.js');
        const lifted = unlockDataDir(path.resolve(o.dataDir), { area: o.area, username: o.user });
        process.stdout.write(
          `Lifted the sign-in backoff of ${lifted.join(' and ')}, and of every address.\n`,
        );
      }),
    );

  cmd.addCommand(
    serveCommand({
      name: 'start',
      description:
        'run an appliance over HTTPS until SIGTERM: a supervisor runs the installed software, checks a newly installed version and rolls it back if it fails',
      dataDirHelp,
      examplePort: 8443,
      serve: async (o) => (await import('../appliance/supervisor.js')).superviseAppliance(o),
    }),
  );
  cmd.addCommand(
    serveCommand({
      name: 'run',
      description:
        'serve an appliance in this process without a supervisor (what `start` runs; software updates need `start`)',
      dataDirHelp,
      examplePort: 8443,
      serve: async (o) => (await import('../appliance/daemon.js')).runAppliance(o),
    }),
  );
  cmd.addCommand(metricsTokenCommand());
  cmd.addCommand(logRotationCommand());
  cmd
    .command('install-service')
    .description(
      'write a hardened systemd unit that runs this appliance (own user, least capabilities, read-only system but the data directory)',
    )
    .requiredOption('--data-dir <dir>', dataDirHelp)
    .requiredOption('--listen <host:port>', 'HTTPS listen address, e.g. 0.0.0.0:443', parseListen)
    .option('--user <name>', 'the system user it runs as (create it first)', 'gatehouse')
    .option('--shared-ip', 'allow the shared-IP traffic switch (CAP_NET_ADMIN, CAP_NET_RAW)', false)
    .option('--output <file>', 'write the unit here (default: print it)')
    .addHelpText(
      'after',
      '\nExample:\n  gatehouse appliance install-service --data-dir /var/lib/gatehouse --listen 0.0.0.0:443 \\\n    --output /etc/systemd/system/gatehouse.service',
    )
    .action(
      run(
        async (o: {
          dataDir: string;
          listen: { host: string; port: number };
          user: string;
          sharedIp: boolean;
          output?: string;
        }) => {
          const { serviceUnit } = await import('../appliance/service-unit.js');
          const { CODE_ROOT } = await import('../shared/version.js');
          const unit = serviceUnit({
            dataDir: path.resolve(o.dataDir),
            listen: o.listen,
            user: o.user,
            sharedIp: o.sharedIp,
            node: process.execPath,
            entry: path.join(CODE_ROOT, 'bin', 'gatehouse.js'),
          });
          if (!o.output) return void process.stdout.write(unit);
          writeFileSync(o.output, unit, { mode: 0o644 });
          process.stdout.write(
            `Wrote ${o.output}. Then: systemctl daemon-reload && systemctl enable --now ${path.basename(o.output)}\n`,
          );
        },
      ),
    );

  return cmd;
}
