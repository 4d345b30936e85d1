import { createPrivateKey, createPublicKey, webcrypto, X509Certificate } from 'node:crypto';
import { loadX509, privateKeyPem, randomSerial, type TlsMaterial } from './tls.js';

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const DAY_MS = 86_400_000;

const safeName = (s: string) => s.replace(/[,=+<>#;"\\]/g, '_');

/**
 * A certificate authority (ECDSA P-256, self-signed, may sign server certificates only: path
 * length 0), such as a site's: clients pin its fingerprint instead of one appliance's.
 */
export async function generateCertificateAuthority(opts: {
  commonName: string;
  days?: number;
}): Promise<TlsMaterial> {
  const x509 = await loadX509();
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: `CN=${safeName(opts.commonName)}, O=Gatehouse site`,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + (opts.days ?? 7300) * DAY_MS),
    signingAlgorithm: ALG,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { keyPem: await privateKeyPem(keys.privateKey), certPem: cert.toString('pem') + '\n' };
}

/** A server certificate for the holder of `subjectKeyPem`, signed by the authority `ca`. */
export async function issueServerCertificate(opts: {
  ca: TlsMaterial;
  subjectKeyPem: string;
  commonName: string;
  dnsNames: string[];
  ipAddresses: string[];
  days?: number;
}): Promise<string> {
  const x509 = await loadX509();
  const caCert = new x509.X509Certificate(opts.ca.certPem);
  const signingKey = await webcrypto.subtle.importKey(
    'pkcs8',
    createPrivateKey(opts.ca.keyPem).export({ type: 'pkcs8', format: 'der' }),
    ALG,
    false,
    ['sign'],
  );
  const publicKey = await webcrypto.subtle.importKey(
    'spki',
    createPublicKey(opts.subjectKeyPem).export({ type: 'spki', format: 'der' }),
    ALG,
    true,
    ['verify'],
  );
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: `CN=${safeName(opts.commonName)}, O=Gatehouse appliance`,
    issuer: caCert.subject,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + (opts.days ?? 3650) * DAY_MS),
    signingAlgorithm: ALG,
    publicKey,
    signingKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([
        ...opts.dnsNames.map((value) => ({ type: 'dns' as const, value })),
        ...opts.ipAddresses.map((value) => ({ type: 'ip' as const, value })),
      ]),
      await x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey),
    ],
  });
  return cert.toString('pem') + '\n';
}

/** Whether `certPem` was signed by the authority `caPem`. */
export function issuedBy(certPem: string, caPem: string): boolean {
  const cert = new X509Certificate(certPem);
  const ca = new X509Certificate(caPem);
  return cert.checkIssued(ca) && cert.verify(ca.publicKey);
}
