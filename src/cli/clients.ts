import { mkdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { GatehouseError, fieldError } from '../shared/errors.js';
import { writeFileAtomicSync } from '../shared/fs.js';
import { PRODUCT_VERSION } from '../shared/version.js';
import { parseListen } from './serve.js';
import { addInstallationCommands } from './console-install.js';
import { reportAndExit, run } from './errors.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function fingerprintOption(value: string): string {
  if (!/^([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$/.test(value))
    throw new InvalidArgumentError(
      'expected the SHA-256 fingerprint AB:CD:… (32 pairs) that the appliance prints at start',
    );
  return value.toUpperCase();
}

export function secretFrom(flag: string, file: string | undefined, envName: string): string {
  if (file) {
    try {
      return readFileSync(file, 'utf8').trim();
    } catch (e) {
      throw fieldError(flag, `${file} cannot be read (${(e as NodeJS.ErrnoException).code})`);
    }
  }
  const env = process.env[envName];
  if (env) return env;
  throw fieldError(flag, `is required: give ${flag} FILE or set ${envName}`);
}

export function jumpClientCommand(): Command {
  return new Command('jump-client')
    .description(
      'run a Jump Client on this (remote) computer: keeps an outbound TLS connection to the site and opens sessions only to the targets it allows',
    )
    .requiredOption('--site <host:port>', 'the site hostname (or address) and TLS port')
    .requiredOption(
      '--fingerprint <sha256>',
      "the site certificate's SHA-256 fingerprint",
      fingerprintOption,
    )
    .requiredOption('--name <name>', "this Jump Client's name, unique on the site")
    .option('--group <group>', 'the Jump Client group', 'default')
    .requiredOption(
      '--allow <host:port>',
      'a local target sessions may open (repeat for more)',
      collect,
    )
    .option(
      '--token-file <file>',
      'file holding the enrolment token that enrols this installation the first time (else $GATEHOUSE_JUMP_CLIENT_TOKEN)',
    )
    .option(
      '--key-file <file>',
      "an upgraded installation: file holding the site's legacy Jump Client key (else $GATEHOUSE_JUMP_CLIENT_KEY), accepted once, while the site's upgrade window is open",
    )
    .option(
      '--identity <file>',
      "where this installation's key pair and enrolment are kept (default $GATEHOUSE_JUMP_CLIENT_IDENTITY or ~/.config/gatehouse/jump-clients/NAME.json)",
    )
    .option('--region <region>', 'prefer traffic nodes of this region')
    .addHelpText(
      'after',
      `
The first start generates the installation's key pair (kept in --identity, mode 600) and enrols
it with an enrolment token an administrator created on /login > Jump Clients (or with
\`gatehouse jump-clients token create\`); later starts need no token. Example:
  GATEHOUSE_JUMP_CLIENT_TOKEN=gjt1_… gatehouse jump-client --site support.example.com:443 \\
    --fingerprint AB:CD:… --name web-01 --group servers --allow 127.0.0.1:22 --allow 127.0.0.1:3389`,
    )
    .action(
      async (o: {
        site: string;
        fingerprint: string;
        name: string;
        group: string;
        allow: string[];
        tokenFile?: string;
        keyFile?: string;
        identity?: string;
        region?: string;
      }) => {
        try {
          const identity =
            o.identity ??
            process.env.GATEHOUSE_JUMP_CLIENT_IDENTITY ??
            path.join(os.homedir(), '.config', 'gatehouse', 'jump-clients', `${o.name}.json`);
          await runJumpClient(
            o,
            {
              name: o.name,
              group: o.group,
              token: await enrolmentCredential(o, identity),
              identity,
            },
            `Jump Client ${o.name} ${PRODUCT_VERSION}: connecting to ${o.site}; allows ${o.allow.join(', ')}`,
          );
        } catch (e) {
          reportAndExit(e);
        }
      },
    );
}

/**
 * What enrols the installation: a token, or an upgraded installation's legacy key. Needed only
 * until it is enrolled (its identity file names its installation).
 */
async function enrolmentCredential(
  o: { name: string; tokenFile?: string; keyFile?: string },
  identity: string,
): Promise<string> {
  const { InstallationIdentity } = await import('../clients/installation-identity.js');
  if (o.tokenFile || process.env.GATEHOUSE_JUMP_CLIENT_TOKEN)
    return secretFrom('--token-file', o.tokenFile, 'GATEHOUSE_JUMP_CLIENT_TOKEN');
  if (o.keyFile || process.env.GATEHOUSE_JUMP_CLIENT_KEY)
    return secretFrom('--key-file', o.keyFile, 'GATEHOUSE_JUMP_CLIENT_KEY');
  if (InstallationIdentity.open(o.name, identity).installation) return '';
  throw fieldError(
    '--token-file',
    `is required to enrol this installation (${identity} is not enrolled yet): give --token-file FILE or set GATEHOUSE_JUMP_CLIENT_TOKEN, with a token from /login > Jump Clients`,
  );
}

/**
 * Run a Jump Client (or a customer client) until SIGTERM or SIGINT, logging each step; `--allow`
 * is checked first. A client the site refused for good exits with the site's error.
 */
async function runJumpClient(
  o: { site: string; fingerprint: string; allow: string[]; region?: string },
  kind: { name: string; group: string; token: string; identity: string } | { sessionKey: string },
  banner: string,
): Promise<void> {
  const { parseSite } = await import('../clients/tunnel.js');
  const { TargetAddress } = await import('../sessions/protocol.js');
  for (const a of o.allow)
    if (!TargetAddress.safeParse(a).success)
      throw fieldError('--allow', `"${a}" must be host:port, e.g. 127.0.0.1:22`);
  const site = { ...parseSite(o.site, '--site'), fingerprint: o.fingerprint };
  const { JumpClient } = await import('../clients/jump-client.js');
  const client = new JumpClient({
    site,
    ...kind,
    allow: o.allow,
    region: o.region,
    log: (line) => process.stdout.write(`${new Date().toISOString()} ${line}\n`),
    onRefused: (e) => reportAndExit(e),
  });
  process.stdout.write(banner + '\n');
  client.start();
  const stop = () => void client.stop().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

export function customerClientCommand(): Command {
  return new Command('customer-client')
    .description(
      "join a representative's session from this computer with the session key they gave you; they can then open sessions to the targets you allow, until you stop it (Ctrl-C)",
    )
    .requiredOption('--site <host:port>', 'the site hostname (or address) and TLS port')
    .requiredOption(
      '--fingerprint <sha256>',
      "the site certificate's SHA-256 fingerprint",
      fingerprintOption,
    )
    .option(
      '--key <digits>',
      'the session key your representative gave you (else $GATEHOUSE_SESSION_KEY)',
    )
    .requiredOption(
      '--allow <host:port>',
      'a local target the representative may open (repeat for more)',
      collect,
    )
    .option('--region <region>', 'prefer traffic nodes of this region')
    .addHelpText(
      'after',
      `
Your representative runs \`gatehouse console session-key\` and reads you the key; it works once,
for 20 minutes. Example:
  gatehouse customer-client --site support.example.com:443 --fingerprint AB:CD:… \\
    --key 12345678 --allow 127.0.0.1:3389`,
    )
    .action(
      async (o: {
        site: string;
        fingerprint: string;
        key?: string;
        allow: string[];
        region?: string;
      }) => {
        try {
          const sessionKey = (o.key ?? process.env.GATEHOUSE_SESSION_KEY ?? '').trim();
          if (!/^[\d\s-]{1,32}$/.test(sessionKey))
            throw fieldError(
              '--key',
              sessionKey
                ? 'must be the digits of the session key your representative gave you, e.g. 12345678'
                : 'is required: give --key DIGITS (your representative has it) or set $GATEHOUSE_SESSION_KEY',
            );
          await runJumpClient(
            o,
            { sessionKey },
            `Customer client ${PRODUCT_VERSION}: joining ${o.site}; your representative may open ${o.allow.join(', ')}. Ctrl-C leaves.`,
          );
        } catch (e) {
          reportAndExit(e);
        }
      },
    );
}

interface Profile {
  site: string;
  fingerprint: string;
  /** The site's other certificates (failover peer, traffic nodes), learnt at sign-in. */
  alsoTrust?: string[];
  username: string;
  ticket: string;
  expiresAt: string;
  siteVersion: string;
}

const defaultProfile = () =>
  process.env.GATEHOUSE_CONSOLE_PROFILE ??
  path.join(os.homedir(), '.config', 'gatehouse', 'console.json');

function readProfile(file: string): Profile {
  let profile: Profile;
  try {
    profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  } catch {
    throw new GatehouseError(
      'CONSOLE_NOT_SIGNED_IN',
      400,
      `No console sign-in at ${file}. Run \`gatehouse console sign-in --site HOST:PORT --fingerprint FP --user NAME\` first.`,
    );
  }
  if (Date.parse(profile.expiresAt) < Date.now())
    throw new GatehouseError(
      'CONSOLE_SIGN_IN_EXPIRED',
      401,
      'The console sign-in has expired. Run `gatehouse console sign-in` again.',
    );
  return profile;
}

async function consoleOf(file: string) {
  const profile = readProfile(file);
  const { parseSite } = await import('../clients/tunnel.js');
  const { RepresentativeConsole } = await import('../clients/console.js');
  return new RepresentativeConsole({
    site: {
      ...parseSite(profile.site),
      fingerprint: profile.fingerprint,
      alsoTrust: profile.alsoTrust ?? [],
    },
    ticket: profile.ticket,
    expiresAt: profile.expiresAt,
    siteInfo: { name: '', appliance: '', productVersion: profile.siteVersion },
    relay: null,
  });
}

export function consoleCommand(): Command {
  const cmd = new Command('console').description(
    'the representative console: sign in to a site, list Jump Clients, forward local ports through sessions, replay recordings',
  );
  const profileOption = [
    '--profile <file>',
    'where the sign-in is kept (default $GATEHOUSE_CONSOLE_PROFILE or ~/.config/gatehouse/console.json)',
  ] as const;

  cmd
    .command('sign-in')
    .description(
      'sign in with a site user; the console ticket is kept in the profile file (mode 600)',
    )
    .requiredOption('--site <host:port>', 'the site hostname (or address) and TLS port')
    .requiredOption(
      '--fingerprint <sha256>',
      "the site certificate's SHA-256 fingerprint",
      fingerprintOption,
    )
    .requiredOption('--user <name>', 'the site user')
    .option('--password-file <file>', 'file holding the password (else $GATEHOUSE_PASSWORD)')
    .option(...profileOption)
    .action(
      run(
        async (o: {
          site: string;
          fingerprint: string;
          user: string;
          passwordFile?: string;
          profile?: string;
        }) => {
          const { parseSite } = await import('../clients/tunnel.js');
          const { RepresentativeConsole } = await import('../clients/console.js');
          const rep = await RepresentativeConsole.signIn(
            { ...parseSite(o.site, '--site'), fingerprint: o.fingerprint },
            o.user,
            secretFrom('--password-file', o.passwordFile, 'GATEHOUSE_PASSWORD'),
          );
          const { followSite, restartFromCurrent } = await import('../clients/console-upgrade.js');
          const say = (line: string) => process.stdout.write(line + '\n');
          let followed;
          try {
            followed = await followSite(
              rep.api,
              rep.signIn.ticket,
              rep.signIn.siteInfo.productVersion,
              say,
            );
          } finally {
            await rep.close();
          }
          // The new version signs in again (and keeps the sign-in).
          if (followed === 'upgraded') return restartFromCurrent();
          const file = o.profile ?? defaultProfile();
          mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
          const profile: Profile = {
            site: o.site,
            fingerprint: o.fingerprint,
            username: o.user,
            ticket: rep.signIn.ticket,
            expiresAt: rep.signIn.expiresAt,
            siteVersion: rep.signIn.siteInfo.productVersion,
          };
          writeFileAtomicSync(file, JSON.stringify(profile, null, 2), 0o600);
          process.stdout.write(
            `Signed in to ${rep.signIn.siteInfo.name} (${rep.signIn.siteInfo.appliance}, ${rep.signIn.siteInfo.productVersion}) as ${o.user} until ${rep.signIn.expiresAt}, with console ${PRODUCT_VERSION}.\n`,
          );
        },
      ),
    );

  cmd
    .command('about')
    .description("Help > About: this console's build, and the site's when signed in")
    .option(...profileOption)
    .option('--json', 'print JSON')
    .action(
      run(async (o: { profile?: string; json?: boolean }) => {
        let site: { site: string; version: string } | undefined;
        try {
          const p = readProfile(o.profile ?? defaultProfile());
          site = { site: p.site, version: p.siteVersion };
        } catch {
          site = undefined;
        }
        const { runningInstallation } = await import('../clients/console-installation.js');
        const installation = runningInstallation()?.dir ?? null;
        const about = {
          console: PRODUCT_VERSION,
          node: process.version,
          installation,
          site: site ?? null,
        };
        if (o.json) return void process.stdout.write(JSON.stringify(about) + '\n');
        process.stdout.write(
          `Gatehouse representative console ${PRODUCT_VERSION} (Node.js ${process.version})\n` +
            (installation
              ? `Installed in ${installation}; it follows the site's version.\n`
              : 'Not an installation (run from a code tree); see `gatehouse console install`.\n') +
            (site ? `Site ${site.site} runs ${site.version}\n` : 'Not signed in to a site.\n'),
        );
      }),
    );

  cmd
    .command('jump-clients')
    .description('list the Jump Clients connected to the site')
    .option(...profileOption)
    .option('--json', 'print JSON')
    .action(
      run(async (o: { profile?: string; json?: boolean }) => {
        const rep = await consoleOf(o.profile ?? defaultProfile());
        try {
          const list = await rep.jumpClients();
          if (o.json) return void process.stdout.write(JSON.stringify(list) + '\n');
          if (!list.length) return void process.stdout.write('No Jump Client is connected.\n');
          for (const j of list)
            process.stdout.write(
              `${j.name}\t${j.kind === 'customer-client' ? 'your customer' : `group ${j.group}`}\t${j.version}\ton ${j.node}\tsessions ${j.sessions}\tallows ${(j.targets ?? []).join(', ')}\n`,
            );
        } finally {
          await rep.close();
        }
      }),
    );

  cmd
    .command('session-key')
    .description(
      'a session key for a customer: they join with `gatehouse customer-client --key KEY`, then it is listed among your Jump Clients',
    )
    .option(...profileOption)
    .option('--json', 'print JSON')
    .action(
      run(async (o: { profile?: string; json?: boolean }) => {
        const file = o.profile ?? defaultProfile();
        const profile = readProfile(file);
        const rep = await consoleOf(file);
        try {
          const k = await rep.sessionKey();
          if (o.json) return void process.stdout.write(JSON.stringify(k) + '\n');
          process.stdout.write(
            `Session key ${k.key}, valid once until ${k.expiresAt}. Your customer runs:\n` +
              `  gatehouse customer-client --site ${profile.site} --fingerprint ${profile.fingerprint} --key ${k.key} --allow 127.0.0.1:PORT\n` +
              `Once joined it is ${k.customerClient}: gatehouse console connect --jump-client ${k.customerClient} --target 127.0.0.1:PORT --listen 127.0.0.1:0\n`,
          );
        } finally {
          await rep.close();
        }
      }),
    );

  cmd
    .command('connect')
    .description(
      "forward a local port through the site to a Jump Client's target; each local connection is one recorded session",
    )
    .requiredOption('--jump-client <name>', 'the Jump Client')
    .requiredOption('--target <host:port>', 'the target, as the Jump Client allows it')
    .requiredOption(
      '--listen <host:port>',
      'the local address to listen on, e.g. 127.0.0.1:2222',
      parseListen,
    )
    .option(...profileOption)
    .action(
      run(
        async (o: {
          jumpClient: string;
          target: string;
          listen: { host: string; port: number };
          profile?: string;
        }) => {
          const rep = await consoleOf(o.profile ?? defaultProfile());
          const log = (line: string) =>
            process.stdout.write(`${new Date().toISOString()} ${line}\n`);
          const { followSite, restartFromCurrent } = await import('../clients/console-upgrade.js');
          try {
            const { siteVersion } = await rep.api.consoleBuilds(rep.signIn.ticket);
            if ((await followSite(rep.api, rep.signIn.ticket, siteVersion, log)) === 'upgraded') {
              await rep.close();
              return restartFromCurrent();
            }
          } catch (e) {
            await rep.close();
            throw e;
          }
          await rep.connectPresence(log);
          const server = await rep.forward(o.jumpClient, o.target, o.listen, log);
          const a = server.address() as { address: string; port: number };
          log(`listening on ${a.address}:${a.port} → ${o.jumpClient} → ${o.target}`);
          const stop = () => {
            server.close();
            void rep.close().then(() => process.exit(0));
          };
          process.on('SIGTERM', stop);
          process.on('SIGINT', stop);
        },
      ),
    );

  cmd
    .command('replay')
    .description(
      'play a session recording back: a timeline of both directions, or one direction raw',
    )
    .option('--session <id>', 'download the recording of this session from the site')
    .option('--file <file>', 'a recording file')
    .option(
      '--raw <direction>',
      'write only the bytes of one direction (to-target|from-target) to stdout',
    )
    .option(...profileOption)
    .action(
      run(async (o: { session?: string; file?: string; raw?: string; profile?: string }) => {
        if (!!o.session === !!o.file)
          throw fieldError('--session', 'give either --session ID or --file FILE');
        if (o.raw && o.raw !== 'to-target' && o.raw !== 'from-target')
          throw fieldError('--raw', 'must be to-target or from-target');
        let data: Buffer;
        if (o.file) data = readFileSync(o.file);
        else {
          const rep = await consoleOf(o.profile ?? defaultProfile());
          try {
            data = await rep.api.recording(rep.signIn.ticket, o.session!);
          } finally {
            await rep.close();
          }
        }
        const { parseRecording } = await import('../sessions/recording.js');
        const { replayText } = await import('../clients/replay.js');
        const rec = parseRecording(data);
        if (o.raw) {
          for (const f of rec.frames) if (f.direction === o.raw) process.stdout.write(f.data);
          return;
        }
        process.stdout.write(replayText(rec));
      }),
    );
  addInstallationCommands(cmd, run, (profile) => consoleOf(profile ?? defaultProfile()));
  return cmd;
}
