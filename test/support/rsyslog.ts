import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll } from 'vitest';
import { generateSelfSignedCertificate, type TlsMaterial } from '../../src/shared/tls.js';
import { fingerprintOf } from '../../src/clients/admin-client.js';
import { freePort } from '../../src/shared/ports.js';
import { until } from '../../src/shared/until.js';
import { tempDir } from './appliance.js';

export interface Rsyslog {
  port: number;
  /** SHA-256 fingerprint of its TLS certificate, as the appliance pins it. */
  fingerprint: string;
  certPem: string;
  /** Every message received so far, one per line, as it arrived (octet counting removed). */
  lines(): string[];
  stop(): Promise<void>;
  start(): Promise<void>;
}

const running = new Set<ChildProcess>();
afterAll(async () => {
  for (const child of running) child.kill('SIGTERM');
});

/** A test CA (made by openssl) and a collector certificate for 127.0.0.1 that it signed. */
export interface TestCa {
  caPem: string;
  collector: TlsMaterial;
}

export function makeTestCa(name: string): TestCa {
  const dir = tempDir('gh-test-ca-');
  const file = (f: string) => path.join(dir, f);
  // Paths hold no spaces (tempDir), so each command can be written as one line.
  const openssl = (line: string) => execFileSync('openssl', line.split(' '), { stdio: 'pipe' });
  const ec = '-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes';
  openssl(
    `req -x509 ${ec} -days 2 -subj /CN=${name} -keyout ${file('ca.key')} -out ${file('ca.pem')}`,
  );
  openssl(`req ${ec} -subj /CN=127.0.0.1 -keyout ${file('key.pem')} -out ${file('csr.pem')}`);
  writeFileSync(
    file('ext.cnf'),
    'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n',
  );
  openssl(
    `x509 -req -in ${file('csr.pem')} -CA ${file('ca.pem')} -CAkey ${file('ca.key')} ` +
      `-CAcreateserial -days 2 -extfile ${file('ext.cnf')} -out ${file('cert.pem')}`,
  );
  const read = (f: string) => readFileSync(file(f), 'utf8');
  return {
    caPem: read('ca.pem'),
    collector: { certPem: read('cert.pem'), keyPem: read('key.pem') },
  };
}

/**
 * A real rsyslog (Debian's, with rsyslog-gnutls) receiving syslog over TLS (imtcp, RFC 5425
 * octet counting) on a free loopback port and writing each raw message to a file. Its
 * certificate is self-signed unless one (e.g. signed by a test CA) is given.
 */
export async function startRsyslog(given?: TlsMaterial): Promise<Rsyslog> {
  const dir = tempDir('gh-rsyslog-');
  const tls =
    given ??
    (await generateSelfSignedCertificate({
      commonName: '127.0.0.1',
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
    }));
  const file = (name: string) => path.join(dir, name);
  writeFileSync(file('cert.pem'), tls.certPem);
  writeFileSync(file('key.pem'), tls.keyPem, { mode: 0o600 });
  const port = await freePort('127.0.0.1');
  writeFileSync(
    file('rsyslog.conf'),
    `global(workDirectory="${dir}" DefaultNetstreamDriver="gtls"
  DefaultNetstreamDriverCAFile="${file('cert.pem')}"
  DefaultNetstreamDriverCertFile="${file('cert.pem')}"
  DefaultNetstreamDriverKeyFile="${file('key.pem')}")
module(load="imtcp" StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="anon")
input(type="imtcp" port="${port}" address="127.0.0.1")
template(name="raw" type="string" string="%rawmsg%\\n")
action(type="omfile" file="${file('received.log')}" template="raw")
`,
  );
  let child: ChildProcess | undefined;
  const output: string[] = [];
  const listening = async () =>
    new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
  const r: Rsyslog = {
    port,
    certPem: tls.certPem,
    fingerprint: fingerprintOf(tls.certPem),
    lines: () =>
      existsSync(file('received.log'))
        ? readFileSync(file('received.log'), 'utf8').split('\n').filter(Boolean)
        : [],
    async start() {
      child = spawn('rsyslogd', ['-n', '-f', file('rsyslog.conf'), '-i', file('rsyslogd.pid')], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      running.add(child);
      child.stdout!.on('data', (d: Buffer) => output.push(d.toString()));
      child.stderr!.on('data', (d: Buffer) => output.push(d.toString()));
      await until(listening, 20_000, `rsyslog to listen (${output.join('').slice(-400)})`, 100);
    },
    async stop() {
      const c = child;
      if (!c || c.exitCode !== null) return;
      const exited = new Promise((resolve) => c.once('exit', resolve));
      c.kill('SIGTERM');
      await exited;
      running.delete(c);
    },
  };
  await r.start();
  return r;
}
