import { X509Certificate, webcrypto } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { colonHex } from './crypto.js';
import { exists, writeFileAtomic } from './fs.js';

/**
 * The certificate generator is loaded only when a certificate is made (init): it costs a
 * quarter of a second at every start otherwise.
 */
export async function loadX509() {
  await import('reflect-metadata');
  const x509 = await import('@peculiar/x509');
  x509.cryptoProvider.set(webcrypto as unknown as Crypto);
  return x509;
}

export interface TlsMaterial {
  keyPem: string;
  certPem: string;
}

/**
 * A self-signed ECDSA P-256 certificate whose SANs are the appliance's hostname(s) and
 * addresses. Peers do not rely on a CA: they pin the SHA-256 fingerprint shown at start.
 */
export async function generateSelfSignedCertificate(opts: {
  commonName: string;
  dnsNames: string[];
  ipAddresses: string[];
  days?: number;
}): Promise<TlsMaterial> {
  const x509 = await loadX509();
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as CryptoKeyPair;
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(Date.now() + (opts.days ?? 3650) * 86_400_000);
  const names: import('@peculiar/x509').JsonGeneralName[] = [
    ...opts.dnsNames.map((value) => ({ type: 'dns' as const, value })),
    ...opts.ipAddresses.map((value) => ({ type: 'ip' as const, value })),
  ];
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: `CN=${opts.commonName.replace(/[,=+<>#;"\\]/g, '_')}, O=Gatehouse appliance`,
    notBefore,
    notAfter,
    signingAlgorithm: alg,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([
        x509.ExtendedKeyUsage.serverAuth,
        x509.ExtendedKeyUsage.clientAuth,
      ]),
      new x509.SubjectAlternativeNameExtension(names),
    ],
  });
  return { keyPem: await privateKeyPem(keys.privateKey), certPem: cert.toString('pem') + '\n' };
}

/** A WebCrypto private key as PKCS#8 PEM. */
export async function privateKeyPem(key: CryptoKey): Promise<string> {
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', key);
  return `-----BEGIN PRIVATE KEY-----\n${Buffer.from(pkcs8)
    .toString('base64')
    .match(/.{1,64}/g)!
    .join('\n')}\n-----END PRIVATE KEY-----\n`;
}

/** A random positive serial number, as the certificate generator takes it (hex). */
export const randomSerial = () =>
  Buffer.from(webcrypto.getRandomValues(new Uint8Array(16)))
    .toString('hex')
    .replace(/^[89a-f]/, '1');

/** SHA-256 fingerprint of a PEM certificate, as AB:CD:… */
export function certificateFingerprint(certPem: string): string {
  return new X509Certificate(certPem).fingerprint256;
}

export function splitHostsAndIps(values: string[]): { dnsNames: string[]; ipAddresses: string[] } {
  return {
    dnsNames: values.filter((v) => isIP(v) === 0),
    ipAddresses: values.filter((v) => isIP(v) !== 0),
  };
}

export { colonHex };

/**
 * The certificate of a small server of ours (NAT forwarder, witness) in DIR/tls, made at its
 * first start for the address it listens on; clients pin its fingerprint.
 */
export async function loadOrCreateServerTls(
  dir: string,
  host: string,
  commonName: string,
): Promise<{ key: string; cert: string }> {
  const cert = path.join(dir, 'tls', 'cert.pem');
  const key = path.join(dir, 'tls', 'key.pem');
  if (!(await exists(cert))) {
    const ips = isIP(host) ? [host] : [];
    const made = await generateSelfSignedCertificate({
      commonName,
      dnsNames: ['localhost', ...(ips.length ? [] : [host])],
      ipAddresses: [...new Set(['127.0.0.1', ...ips])].filter((a) => a !== '0.0.0.0' && a !== '::'),
    });
    await fsp.mkdir(path.dirname(cert), { recursive: true, mode: 0o700 });
    await writeFileAtomic(key, made.keyPem, 0o600);
    await writeFileAtomic(cert, made.certPem, 0o644);
  }
  return { key: await fsp.readFile(key, 'utf8'), cert: await fsp.readFile(cert, 'utf8') };
}
