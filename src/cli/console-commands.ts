import { mkdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { fieldError } from '../shared/errors.js';
import { writeFileAtomicSync } from '../shared/fs.js';
import { PRODUCT_VERSION } from '../shared/version.js';
import { parseListen } from './serve.js';
import { addInstallationCommands } from './console-install.js';
import { run } from './errors.js';
import { pinOf, secretFrom, siteSignInOptions, type PinFlags } from './options.js';
import { cliErrors } from './error-codes.js';

/** `gatehouse console`: a representative's console (sign-in, Jump Clients, sessions, replay). */

interface Profile {
  site: string;
  fingerprint: string;
  /** The site's other certificates (failover peer, traffic nodes), learnt at sign-in. */
  alsoTrust?: string[];
  /** The site certificate authority (S20), given or learnt at sign-in. */
  siteCa?: string;
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
    throw cliErrors.CONSOLE_NOT_SIGNED_IN(
      `No console sign-in at ${file}. Run \`gatehouse console sign-in --site HOST:PORT --fingerprint FP --user NAME\` first.`,
    );
  }
  if (Date.parse(profile.expiresAt) < Date.now())
    throw cliErrors.CONSOLE_SIGN_IN_EXPIRED(
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
      ...(profile.siteCa ? { siteCa: profile.siteCa } : {}),
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

  const signIn = cmd
    .command('sign-in')
    .description(
      'sign in with a site user; the console ticket is kept in the profile file (mode 600)',
    );
  siteSignInOptions(signIn, 'the site user')
    .option(...profileOption)
    .action(
      run(
        async (
          o: PinFlags & {
            site: string;
            user: string;
            passwordFile?: string;
            profile?: string;
          },
        ) => {
          const { parseSite } = await import('../clients/tunnel.js');
          const { RepresentativeConsole } = await import('../clients/console.js');
          const rep = await RepresentativeConsole.signIn(
            { ...parseSite(o.site, '--site'), ...pinOf(o) },
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
            fingerprint: o.fingerprint ?? '',
            ...(rep.signIn.site.siteCa ? { siteCa: rep.signIn.site.siteCa } : {}),
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
