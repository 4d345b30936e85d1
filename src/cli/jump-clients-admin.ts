import { Command, InvalidArgumentError } from 'commander';

import { fingerprintOption, secretFrom } from './clients.js';
import { run } from './errors.js';
import { sharedErrors } from '../shared/error-codes.js';

interface SiteFlags {
  site: string;
  fingerprint: string;
  user: string;
  passwordFile?: string;
  json?: boolean;
}

interface Installation {
  id: string;
  name: string;
  group: string;
  fingerprint: string;
  enrolledWith: string;
  enrolledAt: string;
  revokedAt: string | null;
}

/** Call the site's /login API as an administrator; the answer's body, or its error. */
async function asAdmin<T>(
  o: SiteFlags,
  method: string,
  path: string,
  json?: unknown,
): Promise<T | undefined> {
  const { parseSite } = await import('../clients/tunnel.js');
  const { ApplianceClient, toError } = await import('../clients/admin-client.js');
  const site = parseSite(o.site, '--site');
  const host = site.host.includes(':') ? `[${site.host}]` : site.host;
  const client = new ApplianceClient(`https://${host}:${site.port}`, {
    fingerprint: o.fingerprint,
  });
  try {
    await client.signIn(
      'login',
      o.user,
      secretFrom('--password-file', o.passwordFile, 'GATEHOUSE_PASSWORD'),
    );
    const res = await client.call<T>(method, path, json === undefined ? {} : { json });
    if (res.status >= 300) throw toError(res);
    return res.body;
  } finally {
    await client.close();
  }
}

const out = (o: { json?: boolean }, value: unknown, text: string) =>
  process.stdout.write(o.json ? JSON.stringify(value) + '\n' : text);

function siteOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--site <host:port>', 'the site hostname (or address) and TLS port')
    .requiredOption(
      '--fingerprint <sha256>',
      "the site certificate's SHA-256 fingerprint",
      fingerprintOption,
    )
    .requiredOption('--user <name>', 'a /login administrator')
    .option('--password-file <file>', 'file holding the password (else $GATEHOUSE_PASSWORD)')
    .option('--json', 'print JSON');
}

/** An installation by id, or the active one holding a name. */
async function installationOf(o: SiteFlags, idOrName: string): Promise<Installation> {
  const { installations } = (await asAdmin<{ installations: Installation[] }>(
    o,
    'GET',
    '/api/login/jump-clients/installations',
  ))!;
  const found =
    installations.find((i) => i.id === idOrName) ??
    installations.find((i) => i.name === idOrName && !i.revokedAt);
  if (!found)
    throw sharedErrors.NOT_FOUND(
      `No Jump Client installation "${idOrName}" (an id, or the name of an active one). List them with \`gatehouse jump-clients installations\`.`,
    );
  return found;
}

/**
 * `gatehouse jump-clients`: an administrator's enrolment tokens, installations and their
 * revocation, and the upgrade window of the legacy key, through the site's /login API.
 */
export function jumpClientsAdminCommand(): Command {
  const cmd = new Command('jump-clients').description(
    "administer the site's Jump Client installations: enrolment tokens, revocation, the legacy key's upgrade window",
  );
  const token = cmd.command('token').description('enrolment tokens');
  siteOptions(token.command('create'))
    .description('create an enrolment token (printed once)')
    .option('--uses <n>', 'how many installations it enrols', '1')
    .option('--hours <n>', 'how long it is valid', '24')
    .option('--name <name>', 'only a Jump Client of this name may enrol with it')
    .option('--group <group>', 'the group of the installations it enrols')
    .option('--rebind', 'replaces the installation holding --name (a reinstalled computer)')
    .action(
      run(
        async (
          o: SiteFlags & {
            uses: string;
            hours: string;
            name?: string;
            group?: string;
            rebind?: boolean;
          },
        ) => {
          const created = (await asAdmin<{ token: string; id: string; expiresAt: string }>(
            o,
            'POST',
            '/api/login/jump-clients/tokens',
            {
              uses: o.uses,
              expiresInHours: o.hours,
              ...(o.name ? { name: o.name } : {}),
              ...(o.group ? { group: o.group } : {}),
              rebind: o.rebind ?? false,
            },
          ))!;
          out(
            o,
            created,
            `${created.token}\n(token ${created.id}, valid until ${created.expiresAt}; shown once)\n`,
          );
        },
      ),
    );
  siteOptions(token.command('list'))
    .description('the tokens that can still enrol')
    .action(
      run(async (o: SiteFlags) => {
        const { tokens } = (await asAdmin<{
          tokens: { id: string; name: string | null; usesLeft: number; expiresAt: string }[];
        }>(o, 'GET', '/api/login/jump-clients/tokens'))!;
        out(
          o,
          tokens,
          tokens
            .map((t) => `${t.id}\t${t.name ?? 'any name'}\t${t.usesLeft} left\t${t.expiresAt}\n`)
            .join('') || 'No enrolment token.\n',
        );
      }),
    );
  siteOptions(token.command('delete').argument('<id>'))
    .description('delete a token before it is used up')
    .action(
      run(async (id: string, o: SiteFlags) => {
        await asAdmin(o, 'DELETE', `/api/login/jump-clients/tokens/${encodeURIComponent(id)}`);
        out(o, { deleted: id }, `Deleted enrolment token ${id}.\n`);
      }),
    );
  siteOptions(cmd.command('installations'))
    .description('every enrolled installation')
    .action(
      run(async (o: SiteFlags) => {
        const body = (await asAdmin<{ installations: Installation[]; legacyKeyEnrolment: boolean }>(
          o,
          'GET',
          '/api/login/jump-clients/installations',
        ))!;
        out(
          o,
          body,
          body.installations
            .map(
              (i) =>
                `${i.id}\t${i.name}\t${i.group}\t${i.fingerprint.slice(0, 16)}\t${i.revokedAt ? `revoked ${i.revokedAt}` : 'active'}\n`,
            )
            .join('') +
            `Upgrade window for the legacy key: ${body.legacyKeyEnrolment ? 'open' : 'closed'}\n`,
        );
      }),
    );
  siteOptions(cmd.command('revoke').argument('<installation>', 'its id, or its name'))
    .description('revoke one installation: every appliance refuses it and cuts its connection')
    .action(
      run(async (idOrName: string, o: SiteFlags) => {
        const i = await installationOf(o, idOrName);
        const revoked = (await asAdmin<Installation>(
          o,
          'POST',
          `/api/login/jump-clients/installations/${i.id}/revoke`,
        ))!;
        out(o, revoked, `Revoked the installation ${i.id} of "${i.name}".\n`);
      }),
    );
  siteOptions(
    cmd.command('legacy-key').argument('<state>', 'open or close', (v) => {
      if (v !== 'open' && v !== 'close') throw new InvalidArgumentError('must be open or close');
      return v;
    }),
  )
    .description('open or close the upgrade window in which the site-wide key enrols installations')
    .action(
      run(async (state: string, o: SiteFlags) => {
        const body = (await asAdmin<{ open: boolean }>(
          o,
          'PUT',
          '/api/login/jump-clients/legacy-key',
          { open: state === 'open' },
        ))!;
        out(o, body, `The upgrade window is ${body.open ? 'open' : 'closed'}.\n`);
      }),
    );
  return cmd;
}
