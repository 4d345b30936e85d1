import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as dnsPromises } from 'node:dns';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { GATEHOUSE_BIN, freePort } from '../src/lab/processes.js';
import { exchange } from '../src/traffic/dns/transport.js';
import { CLASS, OPCODE, decodeMessage, encodeMessage, flagsOf } from '../src/traffic/dns/wire.js';
import { assignSharedAddress, releaseSharedAddress } from '../src/traffic/shared-ip.js';
import {
  parseTrafficSwitchConfig,
  providerFor,
  type TrafficSwitchConfigInput,
} from '../src/traffic/switch.js';
import type { GatehouseError } from '../src/shared/errors.js';
import { tempDir, until } from './support/appliance.js';

const execFileP = promisify(execFile);
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});

async function rejection(p: Promise<unknown>): Promise<{ code?: string; message: string }> {
  try {
    await p;
  } catch (e) {
    return e as { code?: string; message: string };
  }
  throw new Error('expected a rejection');
}

function gatehouse(args: string[]): Promise<{ code?: number; stdout: string; stderr: string }> {
  return execFileP(process.execPath, [GATEHOUSE_BIN, ...args]).catch(
    (e: { code: number; stdout: string; stderr: string }) => e,
  );
}

describe('hosts-file DNS swing', () => {
  it('points the hostname at the target and keeps every other line and comment', async () => {
    const file = path.join(tempDir(), 'hosts');
    writeFileSync(
      file,
      '# site test hosts\n127.0.0.1 localhost\n127.0.0.10 Support.Example.Test mirror # A\n\n::1 ip6-localhost\n',
    );
    const p = await providerFor({ provider: 'hosts-file', file, hostname: 'support.example.test' });
    await p.pointAt({ name: 'appliance-b', address: '127.0.0.11' });
    expect(readFileSync(file, 'utf8')).toBe(
      '# site test hosts\n127.0.0.1 localhost\n127.0.0.11 support.example.test\n127.0.0.10 mirror # A\n\n::1 ip6-localhost\n',
    );
    expect(await p.current()).toEqual({ address: '127.0.0.11' });
    await p.pointAt({ name: 'appliance-a', address: '127.0.0.10' });
    expect(await p.current()).toEqual({ address: '127.0.0.10' });
    expect(readFileSync(file, 'utf8').match(/support\.example\.test/g)).toHaveLength(1);
  });

  it('is driven from the CLI, and a bad flag is named', async () => {
    const file = path.join(tempDir(), 'hosts');
    const ok = await gatehouse([
      'traffic',
      'point',
      '--method',
      'hosts-file',
      '--hosts-file',
      file,
      '--hostname',
      'support.example.test',
      '--to-name',
      'appliance-b',
      '--to-address',
      '127.0.0.11',
    ]);
    expect(ok.stdout).toMatch(/Traffic now goes to appliance-b \(127\.0\.0\.11\)/);
    expect(readFileSync(file, 'utf8')).toBe('127.0.0.11 support.example.test\n');
    const bad = await gatehouse([
      'traffic',
      'point',
      '--method',
      'hosts-file',
      '--hosts-file',
      file,
      '--hostname',
      'not a name',
      '--to-name',
      'appliance-b',
      '--to-address',
      '127.0.0.11',
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--hostname: must be a DNS name/);
  });
});

describe('command NAT swing', () => {
  it('runs the command with the target in its environment', async () => {
    const dir = tempDir();
    const out = path.join(dir, 'out');
    const script = path.join(dir, 'swing.sh');
    writeFileSync(
      script,
      `#!/bin/sh\necho "$1 $GATEHOUSE_TARGET_NAME $GATEHOUSE_TARGET_ADDRESS $GATEHOUSE_TARGET_PORT" > "${out}"\n`,
    );
    chmodSync(script, 0o755);
    const p = await providerFor({ provider: 'command', argv: [script, 'rule with spaces'] });
    await p.pointAt({ name: 'appliance-b', address: '192.0.2.11', port: 8443 });
    expect(readFileSync(out, 'utf8')).toBe('rule with spaces appliance-b 192.0.2.11 8443\n');
  });

  it("fails clearly with the command's stderr, and stops a command that hangs", async () => {
    const failing = await providerFor({
      provider: 'command',
      argv: ['/bin/sh', '-c', 'echo "firewall said: rule support not found" >&2; exit 3'],
    });
    const e = await rejection(failing.pointAt({ name: 'b', address: '192.0.2.11' }));
    expect(e.code).toBe('TRAFFIC_COMMAND_FAILED');
    expect(e.message).toMatch(/exited with status 3.*rule support not found/s);

    const hanging = await providerFor({
      provider: 'command',
      argv: ['/bin/sleep', '30'],
      timeoutMs: 300,
    });
    const t = await rejection(hanging.pointAt({ name: 'b', address: '192.0.2.11' }));
    expect(t.code).toBe('TRAFFIC_COMMAND_TIMED_OUT');

    const missing = await providerFor({ provider: 'command', argv: ['/nonexistent/swing'] });
    expect((await rejection(missing.pointAt({ name: 'b', address: '192.0.2.11' }))).code).toBe(
      'TRAFFIC_COMMAND_NOT_RUNNABLE',
    );
  });
});

// ---- RFC 2136 against a real BIND ----

const ZONE = 'site.test';
const HOST = `gatehouse.${ZONE}`;
const secret = () => randomBytes(32).toString('base64');

async function startNamed() {
  const dir = tempDir('gh-named-');
  const port = await freePort();
  const keys = { switch: secret(), other: secret() };
  writeFileSync(
    path.join(dir, `${ZONE}.zone`),
    [
      '$TTL 300',
      `@ IN SOA ns.${ZONE}. hostmaster.${ZONE}. 1 3600 600 86400 60`,
      `@ IN NS ns.${ZONE}.`,
      'ns IN A 127.0.0.1',
      'gatehouse IN A 127.0.0.10',
      // Over 512 bytes of answer: UDP answers are truncated and the client must retry over TCP.
      ...Array.from({ length: 30 }, (_, i) => `big IN TXT "record ${i} ${'x'.repeat(40)}"`),
      '',
    ].join('\n'),
  );
  const conf = path.join(dir, 'named.conf');
  writeFileSync(
    conf,
    `options {
  directory "${dir}";
  listen-on port ${port} { 127.0.0.1; };
  listen-on-v6 { none; };
  pid-file "${dir}/named.pid";
  session-keyfile "${dir}/session.key";
  managed-keys-directory "${dir}";
  recursion no;
  dnssec-validation no;
};
controls { };
key "gatehouse-switch" { algorithm hmac-sha256; secret "${keys.switch}"; };
key "other-key" { algorithm hmac-sha256; secret "${keys.other}"; };
zone "${ZONE}" {
  type primary;
  file "${dir}/${ZONE}.zone";
  update-policy { grant gatehouse-switch name ${HOST}. A AAAA; };
};
`,
  );
  const child = spawn('/usr/sbin/named', ['-g', '-n', '1', '-c', conf], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const log: string[] = [];
  child.stderr.on('data', (d: Buffer) => log.push(d.toString()));
  await until(
    async () => {
      if (child.exitCode !== null) throw new Error(`named exited: ${log.join('')}`);
      return (await resolve(port, 'A')).length > 0;
    },
    15_000,
    'named to answer',
  );
  return { dir, port, keys };
}

/** A real DNS query through node's resolver (c-ares), a fresh one each time: no cache. */
async function resolve(port: number, type: 'A' | 'AAAA'): Promise<string[]> {
  const r = new dnsPromises.Resolver({ timeout: 1_000, tries: 1 });
  r.setServers([`127.0.0.1:${port}`]);
  try {
    return type === 'A' ? await r.resolve4(HOST) : await r.resolve6(HOST);
  } catch (e) {
    if ((e as { code?: string }).code === 'ENODATA') return [];
    throw e;
  }
}

describe('RFC 2136 DNS swing against a real BIND named', () => {
  let named: Awaited<ReturnType<typeof startNamed>>;
  const config = (over: Partial<Record<string, unknown>> = {}): TrafficSwitchConfigInput => ({
    provider: 'rfc2136',
    server: '127.0.0.1',
    port: named.port,
    zone: ZONE,
    hostname: HOST,
    ttl: 30,
    tsig: { name: 'gatehouse-switch', secret: named.keys.switch },
    timeoutMs: 3_000,
    ...over,
  });

  it('replaces the A record of the site hostname, signed with TSIG', async () => {
    named = await startNamed();
    expect(await resolve(named.port, 'A')).toEqual(['127.0.0.10']);
    const p = await providerFor(config());
    await p.pointAt({ name: 'appliance-b', address: '127.0.0.11' });
    expect(await resolve(named.port, 'A')).toEqual(['127.0.0.11']);
    expect(await p.current()).toEqual({ address: '127.0.0.11' });

    // An IPv6 target replaces the A record with an AAAA record.
    await p.pointAt({ name: 'appliance-c', address: '2001:db8::11' });
    expect(await resolve(named.port, 'A')).toEqual([]);
    expect(await resolve(named.port, 'AAAA')).toEqual(['2001:db8::11']);
    expect(await p.current()).toEqual({ address: '2001:db8::11' });
    await p.pointAt({ name: 'appliance-a', address: '127.0.0.10' });
    expect(await resolve(named.port, 'A')).toEqual(['127.0.0.10']);
  });

  it('a wrong TSIG secret is rejected with a clear error and the record stays', async () => {
    const p = await providerFor(config({ tsig: { name: 'gatehouse-switch', secret: secret() } }));
    const e = await rejection(p.pointAt({ name: 'appliance-b', address: '127.0.0.66' }));
    expect(e.code).toBe('TRAFFIC_DNS_TSIG_REJECTED');
    expect(e.message).toMatch(/BADSIG.*secret/);
    const unknown = await providerFor(config({ tsig: { name: 'no-such-key', secret: secret() } }));
    expect(
      (await rejection(unknown.pointAt({ name: 'b', address: '127.0.0.66' }))).message,
    ).toMatch(/BADKEY/);
    expect(await resolve(named.port, 'A')).toEqual(['127.0.0.10']);
  });

  it('a key the zone does not grant is REFUSED, and a zone the server lacks is NOTAUTH', async () => {
    const other = await providerFor(
      config({ tsig: { name: 'other-key', secret: named.keys.other } }),
    );
    const refused = await rejection(other.pointAt({ name: 'b', address: '127.0.0.66' }));
    expect(refused.code).toBe('TRAFFIC_DNS_REFUSED');
    expect(refused.message).toMatch(/update-policy/);
    const wrongZone = await providerFor(
      config({ zone: 'elsewhere.test', hostname: 'gatehouse.elsewhere.test' }),
    );
    expect((await rejection(wrongZone.pointAt({ name: 'b', address: '127.0.0.66' }))).code).toBe(
      'TRAFFIC_DNS_NOTAUTH',
    );
    expect(await resolve(named.port, 'A')).toEqual(['127.0.0.10']);
  });

  it('retries over TCP when the UDP answer is truncated', async () => {
    const query = encodeMessage({
      id: 4242,
      flags: flagsOf(OPCODE.QUERY),
      questions: [{ name: `big.${ZONE}`, type: 16 /* TXT */, class: CLASS.IN }],
      answers: [],
      authorities: [],
      additionals: [],
    });
    const server = { host: '127.0.0.1', port: named.port, timeoutMs: 3_000 };
    const answer = decodeMessage(await exchange(server, query));
    expect(answer.id).toBe(4242);
    expect(answer.flags & 0x0200).toBe(0);
    expect(answer.answers).toHaveLength(30);
  });

  it('is driven from the CLI with a BIND key file', async () => {
    const keyFile = path.join(named.dir, 'gatehouse.key');
    writeFileSync(
      keyFile,
      `key "gatehouse-switch" {\n\talgorithm hmac-sha256;\n\tsecret "${named.keys.switch}";\n};\n`,
    );
    const common = [
      '--method',
      'rfc2136',
      '--server',
      `127.0.0.1:${named.port}`,
      '--zone',
      ZONE,
      '--hostname',
      HOST,
      '--tsig-key-file',
      keyFile,
    ];
    const ok = await gatehouse([
      'traffic',
      'point',
      ...common,
      '--to-name',
      'appliance-b',
      '--to-address',
      '127.0.0.12',
    ]);
    expect(ok.stdout).toMatch(/Traffic now goes to appliance-b/);
    expect(await resolve(named.port, 'A')).toEqual(['127.0.0.12']);
    const show = await gatehouse(['traffic', 'show', ...common]);
    expect(show.stdout).toMatch(/Traffic goes to 127\.0\.0\.12/);
  });
});

// ---- RFC 2136 against a real PowerDNS ----

const pdnsutil = (dir: string, ...args: string[]) =>
  execFileP('pdnsutil', [`--config-dir=${dir}`, ...args]);

/** PowerDNS with the SQLite backend: one zone, one TSIG key allowed to update it. */
async function startPowerDns() {
  const dir = tempDir('gh-pdns-');
  const port = await freePort();
  const key = secret();
  const Database = (await import('better-sqlite3')).default;
  const db = new Database(path.join(dir, 'pdns.db'));
  db.exec(readFileSync('/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql', 'utf8'));
  db.close();
  writeFileSync(
    path.join(dir, 'pdns.conf'),
    [
      'launch=gsqlite3',
      `gsqlite3-database=${dir}/pdns.db`,
      'local-address=127.0.0.1',
      `local-port=${port}`,
      'dnsupdate=yes',
      'allow-dnsupdate-from=127.0.0.0/8',
      `socket-dir=${dir}`,
      'guardian=no',
      'daemon=no',
      'disable-syslog=yes',
      '',
    ].join('\n'),
  );
  writeFileSync(
    path.join(dir, 'zone'),
    `$ORIGIN ${ZONE}.\n@ 300 IN SOA ns.${ZONE}. hostmaster.${ZONE}. 1 3600 600 86400 60\n@ 300 IN NS ns.${ZONE}.\ngatehouse 300 IN A 127.0.0.10\n`,
  );
  await pdnsutil(dir, 'load-zone', ZONE, path.join(dir, 'zone'));
  await pdnsutil(dir, 'import-tsig-key', 'gatehouse-switch', 'hmac-sha256', key);
  await pdnsutil(dir, 'set-meta', ZONE, 'TSIG-ALLOW-DNSUPDATE', 'gatehouse-switch');
  const child = spawn('/usr/sbin/pdns_server', [`--config-dir=${dir}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const log: string[] = [];
  child.stderr.on('data', (d: Buffer) => log.push(d.toString()));
  child.stdout.on('data', (d: Buffer) => log.push(d.toString()));
  await until(
    async () => {
      if (child.exitCode !== null) throw new Error(`pdns_server exited: ${log.join('')}`);
      return (await resolve(port, 'A')).length > 0;
    },
    15_000,
    'PowerDNS to answer',
  );
  return { port, key };
}

describe('RFC 2136 DNS swing against a real PowerDNS', () => {
  it('replaces the record with a TSIG-signed update; a wrong secret changes nothing', async () => {
    const pdns = await startPowerDns();
    const config = {
      provider: 'rfc2136' as const,
      server: '127.0.0.1',
      port: pdns.port,
      zone: ZONE,
      hostname: HOST,
      tsig: { name: 'gatehouse-switch', secret: pdns.key },
      timeoutMs: 3_000,
    };
    const p = await providerFor(config);
    await p.pointAt({ name: 'appliance-b', address: '127.0.0.11' });
    expect(await resolve(pdns.port, 'A')).toEqual(['127.0.0.11']);
    await p.pointAt({ name: 'appliance-c', address: '2001:db8::11' });
    expect(await resolve(pdns.port, 'A')).toEqual([]);
    expect(await resolve(pdns.port, 'AAAA')).toEqual(['2001:db8::11']);
    expect(await p.current()).toEqual({ address: '2001:db8::11' });

    // PowerDNS answers a bad signature with a plain REFUSED (BIND says NOTAUTH/BADSIG).
    const wrong = await providerFor({
      ...config,
      tsig: { name: 'gatehouse-switch', secret: secret() },
    });
    const e = await rejection(wrong.pointAt({ name: 'appliance-b', address: '127.0.0.66' }));
    expect(e.code).toBe('TRAFFIC_DNS_REFUSED');
    expect(e.message).toMatch(/secret/);
    expect(await resolve(pdns.port, 'AAAA')).toEqual(['2001:db8::11']);
  });
});

// ---- NAT forwarder process ----

/** A target appliance stand-in: greets with its letter, then echoes lines prefixed with it. */
async function startTarget(letter: string, host: string) {
  const server = net.createServer((s) => {
    sockets.push(s);
    s.write(`${letter}\n`);
    s.on('data', (d) => s.write(`${letter}:${d.toString()}`));
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  afterAllClose(server);
  return { host, port: (server.address() as net.AddressInfo).port };
}
const servers: net.Server[] = [];
const sockets: net.Socket[] = [];
const afterAllClose = (s: net.Server) => servers.push(s);
afterAll(() => {
  for (const s of sockets) s.destroy();
  for (const s of servers) {
    s.close();
  }
});

/** A client connection that collects what it receives. */
async function connect(port: number) {
  const socket = net.connect({ host: '127.0.0.1', port });
  let received = '';
  socket.on('data', (d) => (received += d.toString()));
  socket.on('error', () => undefined);
  await new Promise((r) => socket.once('connect', r));
  return {
    socket,
    received: () => received,
    waitFor: (text: string) =>
      until(() => received.includes(text), 5_000, `"${text}" from the forwarder`),
  };
}

/** Start `gatehouse nat-forwarder` (port 0: it prints the ports it got) and read what it prints. */
async function startForwarder(dataDir: string, listen: number, control: number, target?: string) {
  const child = spawn(
    process.execPath,
    [
      GATEHOUSE_BIN,
      'nat-forwarder',
      '--listen',
      `127.0.0.1:${listen}`,
      '--control',
      `127.0.0.1:${control}`,
      '--data-dir',
      dataDir,
      ...(target ? ['--target', target] : []),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.push(child);
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`nat-forwarder exited with ${code}: ${out}`))),
  );
  exited.catch(() => undefined);
  const started = until(
    () => /fingerprint: ([0-9A-F:]{95})/.test(out),
    15_000,
    'the NAT forwarder to start',
  );
  await Promise.race([started, exited]);
  return {
    child,
    fingerprint: /fingerprint: ([0-9A-F:]{95})/.exec(out)![1]!,
    listen: Number(/^Forwarding 127\.0\.0\.1:(\d+)/m.exec(out)![1]),
    control: Number(/Control API https:\/\/127\.0\.0\.1:(\d+)/.exec(out)![1]),
    output: () => out,
  };
}

describe('NAT forwarder', () => {
  it('moves new connections to the new target while existing ones continue; survives a restart', async () => {
    const a = await startTarget('A', '127.0.0.1');
    const b = await startTarget('B', '127.0.0.2');
    const dataDir = path.join(tempDir(), 'fwd');
    const fwd = await startForwarder(dataDir, 0, 0, `127.0.0.1:${a.port}`);
    const { listen, control } = fwd;
    const token = /Control token \(shown once[^)]*\): (\S+)/.exec(fwd.output())?.[1];
    expect(token).toBeDefined();
    expect(readFileSync(path.join(dataDir, 'control-token'), 'utf8').trim()).toBe(token);
    expect(statSync(path.join(dataDir, 'control-token')).mode & 0o777).toBe(0o600);

    const first = await connect(listen);
    await first.waitFor('A\n');

    const config = {
      provider: 'nat-forwarder' as const,
      control: `127.0.0.1:${control}`,
      fingerprint: fwd.fingerprint,
      token: token!,
    };
    const p = await providerFor(config);
    expect(await p.current()).toEqual({ address: '127.0.0.1' });
    await p.pointAt({ name: 'appliance-b', address: b.host, port: b.port });
    expect(await p.current()).toEqual({ address: '127.0.0.2' });

    const second = await connect(listen);
    await second.waitFor('B\n');
    first.socket.write('still here\n');
    await first.waitFor('A:still here\n');
    second.socket.write('hello\n');
    await second.waitFor('B:hello\n');
    first.socket.destroy();
    second.socket.destroy();

    // Wrong token: refused, target unchanged. Wrong fingerprint: not even asked.
    const wrongToken = await providerFor({ ...config, token: 'not-the-token-at-all' });
    const denied = await rejection(
      wrongToken.pointAt({ name: 'a', address: a.host, port: a.port }),
    );
    expect(denied.code).toBe('TRAFFIC_NAT_FORWARDER_UNAUTHORIZED');
    expect((await rejection(wrongToken.current())).code).toBe('TRAFFIC_NAT_FORWARDER_UNAUTHORIZED');
    const impostor = await providerFor({
      ...config,
      fingerprint: fwd.fingerprint.replace(/^../, (p) => (p === '00' ? '11' : '00')),
    });
    expect(
      (await rejection(impostor.pointAt({ name: 'a', address: a.host, port: a.port }))).code,
    ).toBe('TLS_FINGERPRINT_MISMATCH');
    expect(await p.current()).toEqual({ address: '127.0.0.2' });

    // Restart: same certificate, no new token, the target is remembered.
    fwd.child.kill('SIGTERM');
    await until(() => fwd.child.exitCode !== null, 10_000, 'the NAT forwarder to stop');
    expect(fwd.child.exitCode).toBe(0);
    const again = await startForwarder(dataDir, listen, control, `127.0.0.1:${a.port}`);
    expect(again.fingerprint).toBe(fwd.fingerprint);
    expect(again.output()).not.toMatch(/Control token/);
    const third = await connect(listen);
    await third.waitFor('B\n');
    third.socket.destroy();
    expect(await p.current()).toEqual({ address: '127.0.0.2' });
  });
});

// ---- Shared IP ----

async function canListen(host: string): Promise<boolean> {
  const server = net.createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(0, host, () => server.close(() => resolve(true)));
  });
}

/** Exits 0 when it can listen on the address given (inside whatever namespace runs it). */
const LISTEN = `const s = require('node:net').createServer();
s.once('error', () => process.exit(3));
s.listen(0, process.argv[1], () => s.close(() => process.exit(0)));`;

describe('shared IP', () => {
  it('refuses an IPv4 prefix over 32 and a device ip would misread, naming the field', () => {
    const base = { provider: 'shared-ip', address: '198.18.0.7', localName: 'b' } as const;
    const refused = (config: TrafficSwitchConfigInput) => {
      try {
        parseTrafficSwitchConfig(config);
      } catch (e) {
        return e as GatehouseError;
      }
      throw new Error(`accepted ${JSON.stringify(config)}`);
    };
    const prefix = refused({ ...base, prefixLength: 33 });
    expect(prefix.code).toBe('VALIDATION_FAILED');
    expect(prefix.fields).toEqual([
      { field: 'prefixLength', message: expect.stringMatching(/from 1 to 32 for the IPv4/) },
    ]);
    for (const device of ['eth0\\', 'eth0#x', 'eth"0', 'eth 0', 'a-name-over-15-chars'])
      expect(refused({ ...base, device }).fields).toEqual([
        {
          field: 'device',
          message: expect.stringMatching(/name of a network interface such as eth0/),
        },
      ]);
    expect(
      parseTrafficSwitchConfig({ ...base, address: '2001:db8::7', prefixLength: 64 }),
    ).toMatchObject({
      prefixLength: 64,
      device: 'lo',
    });
    expect(parseTrafficSwitchConfig({ ...base, device: 'br0.100' })).toMatchObject({
      device: 'br0.100',
    });
  });

  it('needs no configuration for a loopback address: binding it just works', async () => {
    const addr = { address: '127.0.0.50', prefixLength: 32, device: 'lo' };
    expect(await assignSharedAddress(addr)).toBe(false);
    expect(await canListen('127.0.0.50')).toBe(true);
    expect(await releaseSharedAddress(addr)).toBe(false);
    const p = await providerFor({ provider: 'shared-ip', address: '127.0.0.50', localName: 'b' });
    await p.pointAt({ name: 'b', address: '127.0.0.11' });
    expect(await p.current()).toEqual({ address: '127.0.0.11' });
  });

  // Adding addresses and sending ARP needs root (CAP_NET_ADMIN, CAP_NET_RAW): CI runs as root.
  // It all happens in a network namespace of the test's own (198.18.0.0/15, a veth pair inside
  // it), through the CLI run there: the host's interfaces are never touched.
  it.skipIf(process.getuid?.() !== 0)(
    'takes and releases a real address on a device with ip addr and gratuitous ARP',
    async () => {
      const ns = `gh-${randomBytes(3).toString('hex')}-traffic`;
      const inNs = (argv: string[]) =>
        execFileP('ip', ['netns', 'exec', ns, ...argv]).then(
          (r) => ({ code: 0, ...r }),
          (e: { code: number; stdout: string; stderr: string }) => e,
        );
      const ipLines = async () =>
        String((await inNs(['ip', '-o', 'addr', 'show', 'dev', 'eth0'])).stdout);
      const listens = async () =>
        (await inNs([process.execPath, '-e', LISTEN, '198.18.200.77'])).code === 0;
      const shared = ['--method', 'shared-ip', '--shared-address', '198.18.200.77'];
      const opts = [...shared, '--prefix-length', '32', '--device', 'eth0'];
      const point = (name: string, address: string, device = 'eth0') =>
        inNs([
          process.execPath,
          GATEHOUSE_BIN,
          'traffic',
          'point',
          ...opts.slice(0, -1),
          device,
          '--local-name',
          'appliance-b',
          '--to-name',
          name,
          '--to-address',
          address,
        ]);
      const show = async () =>
        String(
          (
            await inNs([
              process.execPath,
              GATEHOUSE_BIN,
              'traffic',
              'show',
              ...opts,
              '--local-name',
              'appliance-b',
            ])
          ).stdout,
        );
      await execFileP('ip', ['netns', 'add', ns]);
      try {
        await execFileP('ip', [
          '-n',
          ns,
          'link',
          'add',
          'eth0',
          'type',
          'veth',
          'peer',
          'name',
          'peer0',
        ]);
        for (const dev of ['lo', 'eth0', 'peer0'])
          await execFileP('ip', ['-n', ns, 'link', 'set', dev, 'up']);
        expect(await listens()).toBe(false);
        expect((await point('appliance-b', '198.18.200.11')).code).toBe(0);
        expect(await ipLines()).toMatch(/inet 198\.18\.200\.77\/32/);
        expect(await listens()).toBe(true);
        // A new process knows only that it holds the shared address.
        expect(await show()).toContain('Traffic goes to 198.18.200.77');
        expect((await point('appliance-b', '198.18.200.11')).code).toBe(0); // again: no error

        expect((await point('appliance-a', '198.18.200.10')).code).toBe(0);
        expect(await ipLines()).not.toMatch(/198\.18\.200\.77/);
        expect(await listens()).toBe(false);
        expect(await show()).toContain('No target is set');
        expect((await point('appliance-a', '198.18.200.10')).code).toBe(0); // not held: no error

        const nowhere = await point('appliance-b', '198.18.200.11', 'ghnone0');
        expect(nowhere.code).toBe(1);
        expect(nowhere.stderr).toMatch(/TRAFFIC_SHARED_IP_FAILED/);
        expect(nowhere.stderr).toMatch(/ghnone0/);
      } finally {
        await execFileP('ip', ['netns', 'delete', ns]).catch(() => undefined);
      }
    },
  );
});
