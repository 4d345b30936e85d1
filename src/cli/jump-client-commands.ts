import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { fieldError } from '../shared/errors.js';
import { PRODUCT_VERSION } from '../shared/version.js';
import { reportAndExit } from './errors.js';
import { collect, pinOf, pinOptions, secretFrom, type PinFlags } from './options.js';
import { addJumpClientInstallCommands } from './jump-client-install.js';

/** A Jump Client that replaced itself exits so: its launcher runs the new version. */
const EXIT_UPGRADED_STATUS = 75;

/** `gatehouse jump-client` and `gatehouse customer-client`: the Jump Client and the customer client. */

export function jumpClientCommand(): Command {
  const cmd = new Command('jump-client')
    .description(
      'run a Jump Client on this (remote) computer: keeps an outbound TLS connection to the site and opens sessions only to the targets it allows',
    )
    // Required, but checked in the action: Commander would require them of the install
    // subcommands too.
    .option('--site <host:port>', 'the site hostname (or address) and TLS port (required)');
  pinOptions(cmd)
    .option('--name <name>', "this Jump Client's name, unique on the site (required)")
    .option('--group <group>', 'the Jump Client group', 'default')
    .option(
      '--allow <host:port>',
      'a local target sessions may open (repeat for more, required)',
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
    .option(
      '--installation <dir>',
      "the installation this runs from (its launcher passes it): it upgrades itself to the site's build in the site's waves",
    )
    .addHelpText(
      'after',
      `
The first start generates the installation's key pair (kept in --identity, mode 600) and enrols
it with an enrolment token an administrator created on /login > Jump Clients (or with
\`gatehouse jump-clients token create\`); later starts need no token. Example:
  GATEHOUSE_JUMP_CLIENT_TOKEN=gjt1_… gatehouse jump-client --site support.example.com:443 \\
    --site-ca AB:CD:… --name web-01 --group servers --allow 127.0.0.1:22 --allow 127.0.0.1:3389`,
    )
    .action(
      async (
        o: PinFlags & {
          site: string;
          name: string;
          group: string;
          allow: string[];
          tokenFile?: string;
          keyFile?: string;
          identity?: string;
          region?: string;
          installation?: string;
        },
      ) => {
        for (const flag of ['--site <host:port>', '--name <name>', '--allow <host:port>'])
          if (o[flag.slice(2, flag.indexOf(' ')) as 'site'] === undefined)
            cmd.error(`error: required option '${flag}' not specified`);
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
              ...(o.installation
                ? {
                    installation: {
                      dir: o.installation,
                      // The launcher runs the new DIR/current when this exits so.
                      onUpgraded: () => process.exit(EXIT_UPGRADED_STATUS),
                    },
                  }
                : {}),
            },
            `Jump Client ${o.name} ${PRODUCT_VERSION}: connecting to ${o.site}; allows ${o.allow.join(', ')}`,
          );
        } catch (e) {
          reportAndExit(e);
        }
      },
    );
  // `jump-client install --name …`: the subcommand's options are its own, not this command's.
  cmd.enablePositionalOptions();
  addJumpClientInstallCommands(cmd);
  return cmd;
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
  o: PinFlags & { site: string; allow: string[]; region?: string },
  kind:
    | {
        name: string;
        group: string;
        token: string;
        identity: string;
        installation?: { dir: string; onUpgraded: () => void };
      }
    | { sessionKey: string },
  banner: string,
): Promise<void> {
  const { parseSite } = await import('../clients/tunnel.js');
  const { TargetAddress } = await import('../sessions/protocol.js');
  for (const a of o.allow)
    if (!TargetAddress.safeParse(a).success)
      throw fieldError('--allow', `"${a}" must be host:port, e.g. 127.0.0.1:22`);
  const site = { ...parseSite(o.site, '--site'), ...pinOf(o) };
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
  const cmd = new Command('customer-client')
    .description(
      "join a representative's session from this computer with the session key they gave you; they can then open sessions to the targets you allow, until you stop it (Ctrl-C)",
    )
    .requiredOption('--site <host:port>', 'the site hostname (or address) and TLS port');
  return pinOptions(cmd)
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
  gatehouse customer-client --site support.example.com:443 --site-ca AB:CD:… \\
    --key 12345678 --allow 127.0.0.1:3389`,
    )
    .action(
      async (
        o: PinFlags & {
          site: string;
          key?: string;
          allow: string[];
          region?: string;
        },
      ) => {
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
