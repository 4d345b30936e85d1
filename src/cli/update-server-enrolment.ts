import { Command } from 'commander';
import { run } from './errors.js';
import { DATA_DIR, DATA_DIR_HELP, withStore } from './update-server-store.js';

const APPLIANCE = ['--appliance <name>', 'the appliance name, as `list` shows it'] as const;

/**
 * The operator's enrolment commands (issue 18, finding 4): registration tokens, approving a
 * waiting key by fingerprint, revoking a key, keeping a key enrolled before proof was required.
 * They work on the data directory, also while the server runs.
 */
export function enrolmentCommands(cmd: Command): void {
  const token = new Command('token').description(
    'registration tokens: one-use, expiring proof that enrols an appliance',
  );
  token
    .command('create')
    .description('create a registration token (printed once; enter it on the appliance)')
    .requiredOption(DATA_DIR, DATA_DIR_HELP)
    .option(
      '--appliance <name>',
      'the only appliance name it may enrol (default: any not enrolled)',
    )
    .option('--ttl-hours <hours>', 'how long it is valid (default 24, at most 720)')
    .option('--json', 'print JSON (token, id, expiresAt)')
    .action(
      run(async (o: { dataDir: string; appliance?: string; ttlHours?: string; json?: boolean }) => {
        const { createRegistrationToken } = await import('../updates/server/enrolment.js');
        await withStore(o.dataDir, ({ store }) => {
          const t = createRegistrationToken(store, {
            appliance: o.appliance,
            ttlHours: o.ttlHours === undefined ? undefined : Number(o.ttlHours),
          });
          const expiresAt = new Date(t.expiresAt).toISOString();
          process.stdout.write(
            o.json
              ? JSON.stringify({ token: t.token, id: t.id, expiresAt }) + '\n'
              : `Registration token ${t.id} for ${o.appliance ?? 'any appliance not enrolled'}, valid until ${expiresAt} (shown once):\n${t.token}\nEnter it with the update server settings on the appliance's Updates page.\n`,
          );
        });
      }),
    );
  cmd.addCommand(token);

  cmd
    .command('approve')
    .description(
      "enrol a waiting key by its fingerprint (compare it with the appliance's Updates page)",
    )
    .requiredOption(DATA_DIR, DATA_DIR_HELP)
    .requiredOption(
      '--key <fingerprint>',
      'identity key fingerprint (64 hex, or a unique prefix of 16+)',
    )
    .option('--rekey', 'replace the key of an appliance already enrolled (it was re-installed)')
    .action(
      run(async (o: { dataDir: string; key: string; rekey?: boolean }) => {
        const { approveKey } = await import('../updates/server/operator.js');
        await withStore(o.dataDir, ({ store }) => {
          const done = approveKey(store, { key: o.key, rekey: o.rekey });
          process.stdout.write(
            `${done.rekeyed ? 'Re-keyed' : 'Enrolled'} ${done.appliance} with identity key ${done.keyId}.\n`,
          );
        });
      }),
    );

  cmd
    .command('revoke')
    .description(
      "revoke an appliance's identity key: refused from now on; the name may enrol again",
    )
    .requiredOption(DATA_DIR, DATA_DIR_HELP)
    .requiredOption(...APPLIANCE)
    .action(
      run(async (o: { dataDir: string; appliance: string }) => {
        const { revokeAppliance } = await import('../updates/server/operator.js');
        await withStore(o.dataDir, ({ store }) => {
          const a = revokeAppliance(store, o.appliance);
          process.stdout.write(`Revoked identity key ${a.keyId} of ${a.name}.\n`);
        });
      }),
    );

  cmd
    .command('confirm')
    .description(
      'keep an appliance enrolled before proof was required, after checking its fingerprint',
    )
    .requiredOption(DATA_DIR, DATA_DIR_HELP)
    .requiredOption(...APPLIANCE)
    .action(
      run(async (o: { dataDir: string; appliance: string }) => {
        const { confirmAppliance } = await import('../updates/server/operator.js');
        await withStore(o.dataDir, ({ store }) => {
          const a = confirmAppliance(store, o.appliance);
          process.stdout.write(`Kept ${a.name} (identity key ${a.keyId}).\n`);
        });
      }),
    );
}
