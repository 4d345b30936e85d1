import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { fieldError, isGatehouseError, validationError } from '../shared/errors.js';
import { run } from './errors.js';

/** Which flag sets each field of a traffic switch configuration: errors name the flag. */
const FLAGS: Record<string, string> = {
  provider: '--method',
  hostname: '--hostname',
  file: '--hosts-file',
  server: '--server',
  port: '--server',
  zone: '--zone',
  ttl: '--ttl',
  tsig: '--tsig-key-file',
  'tsig.name': '--tsig-key-file',
  'tsig.algorithm': '--tsig-key-file',
  'tsig.secret': '--tsig-key-file',
  argv: 'COMMAND (after --)',
  currentArgv: 'COMMAND (after --)',
  timeoutMs: '--timeout',
  control: '--control',
  fingerprint: '--fingerprint',
  token: '--control-token-file',
  address: '--shared-address',
  prefixLength: '--prefix-length',
  device: '--device',
  localName: '--local-name',
};
const TARGET_FLAGS: Record<string, string> = {
  name: '--to-name',
  address: '--to-address',
  port: '--to-port',
};

function integer(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('expected a whole number');
  return Number(value);
}

function splitServer(value: string): { server: string; port?: number } {
  const m = /^(\[[^\]]+\]|[^:\s]+)(?::(\d{1,5}))?$/.exec(value) ?? /^([0-9a-f:]+)$/i.exec(value);
  if (!m) throw fieldError('--server', 'expected HOST or HOST:PORT, e.g. 192.0.2.53:53');
  return { server: m[1]!.replace(/^\[|\]$/g, ''), ...(m[2] ? { port: Number(m[2]) } : {}) };
}

function readFileFor(flag: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw fieldError(flag, `${file} cannot be read (${(e as NodeJS.ErrnoException).code})`);
  }
}

/** A BIND key file as tsig-keygen writes it: key "name" { algorithm hmac-sha256; secret "…"; }; */
export function parseBindKeyFile(text: string, file: string) {
  const m = /key\s+"?([^"\s{]+)"?\s*\{([^}]*)\}/.exec(text);
  const algorithm = m && /algorithm\s+"?([\w-]+)"?\s*;/.exec(m[2]!)?.[1];
  const secret = m && /secret\s+"([^"]+)"\s*;/.exec(m[2]!)?.[1];
  if (!m || !algorithm || !secret)
    throw fieldError(
      '--tsig-key-file',
      `${file} is not a BIND key file; make one with: tsig-keygen -a hmac-sha256 NAME > ${file}`,
    );
  return { name: m[1]!, algorithm: algorithm.toLowerCase(), secret };
}

type Opts = Record<string, string | number | undefined>;

function configFrom(o: Opts, command: string[], show: boolean): Record<string, unknown> {
  const timeout = o.timeout === undefined ? {} : { timeoutMs: o.timeout };
  switch (o.method) {
    case 'hosts-file':
      return { provider: 'hosts-file', file: o.hostsFile, hostname: o.hostname };
    case 'rfc2136':
      return {
        provider: 'rfc2136',
        ...(o.server ? splitServer(String(o.server)) : {}),
        zone: o.zone,
        hostname: o.hostname,
        ...(o.ttl === undefined ? {} : { ttl: o.ttl }),
        tsig: o.tsigKeyFile
          ? parseBindKeyFile(
              readFileFor('--tsig-key-file', String(o.tsigKeyFile)),
              String(o.tsigKeyFile),
            )
          : undefined,
        ...timeout,
      };
    case 'command':
      // To show, the command is the one that prints the current address.
      return {
        provider: 'command',
        argv: command,
        ...(show ? { currentArgv: command } : {}),
        ...timeout,
      };
    case 'nat-forwarder':
      return {
        provider: 'nat-forwarder',
        control: o.control,
        fingerprint: o.fingerprint,
        token: o.controlTokenFile
          ? readFileFor('--control-token-file', String(o.controlTokenFile)).split('\n')[0]
          : o.controlToken,
        ...timeout,
      };
    case 'shared-ip':
      return {
        provider: 'shared-ip',
        address: o.sharedAddress,
        prefixLength: o.prefixLength,
        device: o.device,
        localName: o.localName,
      };
    default:
      throw fieldError(
        '--method',
        'must be one of shared-ip, hosts-file, rfc2136, command, nat-forwarder',
      );
  }
}

/** Re-label validation errors of a configuration with the flags that set the fields. */
function withFlags<T>(labels: Record<string, string>, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (isGatehouseError(e) && e.code === 'VALIDATION_FAILED' && e.fields.length) {
      // Several fields can come from one flag: say each flag's first problem once.
      const byFlag = new Map<string, string>();
      for (const f of e.fields)
        if (!byFlag.has(labels[f.field] ?? f.field))
          byFlag.set(labels[f.field] ?? f.field, f.message);
      throw validationError([...byFlag].map(([field, message]) => ({ field, message })));
    }
    throw e;
  }
}

function methodOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('--method <method>', 'how traffic moves')
        .choices(['hosts-file', 'rfc2136', 'command', 'nat-forwarder', 'shared-ip'])
        .makeOptionMandatory(),
    )
    .option('--hostname <name>', 'site hostname (hosts-file, rfc2136)')
    .option('--hosts-file <file>', 'hosts-format file to edit (hosts-file)', '/etc/hosts')
    .option('--server <host[:port]>', "the zone's primary DNS server, port 53 by default (rfc2136)")
    .option('--zone <zone>', 'the zone that contains the hostname (rfc2136)')
    .option('--ttl <seconds>', 'TTL of the new record, 60 by default (rfc2136)', integer)
    .option('--tsig-key-file <file>', 'TSIG key in BIND format, as tsig-keygen writes it (rfc2136)')
    .option('--control <host:port>', 'control API of the NAT forwarder (nat-forwarder)')
    .option('--fingerprint <sha256>', "the NAT forwarder's certificate fingerprint (nat-forwarder)")
    .option(
      '--control-token-file <file>',
      "file whose first line is the forwarder's control token (nat-forwarder)",
    )
    .addOption(
      new Option('--control-token <token>', 'the control token (prefer the file)')
        .env('GATEHOUSE_NAT_CONTROL_TOKEN')
        .hideHelp(),
    )
    .option('--shared-address <ip>', 'the shared address (shared-ip)')
    .option('--prefix-length <n>', 'prefix length of the shared address (shared-ip)', integer)
    .option('--device <dev>', 'network device of the shared address (shared-ip)')
    .option('--local-name <name>', 'the name of this appliance (shared-ip)')
    .option('--timeout <ms>', 'give up after this many milliseconds', integer);
}

async function provider(o: Opts, command: string[], show = false) {
  const { parseTrafficSwitchConfig, providerFor } = await import('../traffic/switch.js');
  const config = withFlags(FLAGS, () => parseTrafficSwitchConfig(configFrom(o, command, show)));
  return providerFor(config);
}

const EXAMPLES = `
Examples:
  gatehouse traffic point --method hosts-file --hosts-file /etc/hosts --hostname support.example.com \\
      --to-name appliance-b --to-address 192.0.2.11
  gatehouse traffic point --method rfc2136 --server 192.0.2.53 --zone example.com \\
      --hostname support.example.com --tsig-key-file gatehouse.key --to-name appliance-b --to-address 192.0.2.11
  gatehouse traffic point --method command --to-name appliance-b --to-address 192.0.2.11 --to-port 443 \\
      -- /usr/local/sbin/firewall-nat --rule support
      (the command gets GATEHOUSE_TARGET_NAME, GATEHOUSE_TARGET_ADDRESS and GATEHOUSE_TARGET_PORT)
  gatehouse traffic point --method nat-forwarder --control 127.0.0.1:9443 --fingerprint AB:CD:… \\
      --control-token-file ./fwd/control-token --to-name appliance-b --to-address 127.0.0.1 --to-port 8444
  gatehouse traffic point --method shared-ip --shared-address 192.0.2.10 --prefix-length 24 --device eth0 \\
      --local-name appliance-b --to-name appliance-b --to-address 192.0.2.11
`;

export function trafficCommand(): Command {
  const cmd = new Command('traffic').description(
    "move the site's traffic to an appliance: shared IP, DNS swing (hosts file or RFC 2136) or NAT swing (command or NAT forwarder)",
  );

  methodOptions(cmd.command('point'))
    .description('point the site at an appliance')
    .requiredOption('--to-name <name>', 'name of the appliance that gets the traffic')
    .requiredOption('--to-address <ip>', 'its unique IP address')
    .option('--to-port <port>', 'its port, for NAT (default 443 for the NAT forwarder)', integer)
    .argument('[command...]', 'program and arguments to run (command method), after --')
    .addHelpText('after', EXAMPLES)
    .action(
      run(async (command: string[], o: Opts) => {
        const { parseTrafficTarget } = await import('../traffic/switch.js');
        const target = withFlags(TARGET_FLAGS, () =>
          parseTrafficTarget({
            name: o.toName,
            address: o.toAddress,
            ...(o.toPort === undefined ? {} : { port: o.toPort }),
          }),
        );
        const p = await provider(o, command);
        await p.pointAt(target);
        const port = target.port === undefined ? '' : ` port ${target.port}`;
        process.stdout.write(
          `Traffic now goes to ${target.name} (${target.address}${port}): ${p.describe()}\n`,
        );
      }),
    );

  methodOptions(cmd.command('show'))
    .description("show where the site's traffic goes now")
    .argument('[command...]', 'program that prints the current address (command method), after --')
    .addHelpText(
      'after',
      '\nExample:\n  gatehouse traffic show --method rfc2136 --server 192.0.2.53 --zone example.com --hostname support.example.com --tsig-key-file gatehouse.key',
    )
    .action(
      run(async (command: string[], o: Opts) => {
        const p = await provider(o, command, true);
        const now = await p.current();
        process.stdout.write(
          `${p.describe()}\n${now ? `Traffic goes to ${now.address}` : 'No target is set (or this method cannot tell)'}\n`,
        );
      }),
    );

  return cmd;
}
