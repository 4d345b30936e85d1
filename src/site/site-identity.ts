import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createSecureContext, type SecureContext } from 'node:tls';
import { z } from 'zod';
import type { Actor } from '../shared/actor.js';
import { GatehouseError } from '../shared/errors.js';
import { writeFileAtomic } from '../shared/fs.js';
import { SITE_IDENTITY_SERVERNAME } from '../shared/pinned-tls.js';
import {
  generateCertificateAuthority,
  issuedBy,
  issueServerCertificate,
} from '../shared/tls-ca.js';
import { certificateFingerprint, splitHostsAndIps, type TlsMaterial } from '../shared/tls.js';
import type { EventLog } from './events.js';
import { siteErrors } from './error-codes.js';

/**
 * The site's certificate authority as it travels between appliances of the site: only inside
 * the failover and cluster peer channels (TLS pinned to the peer, Inter-Appliance key proven
 * both ways), never in a backup, a sync of site tables, a log or a page.
 */
export const SiteCaBundle = z.object({
  keyPem: z.string().min(1).max(8192),
  certPem: z.string().min(1).max(16384),
});
export type SiteCaBundle = z.infer<typeof SiteCaBundle>;

export interface SiteIdentityFiles {
  /** The authority's key and certificate, one file (mode 600) so that a crash never splits them. */
  ca: string;
  /** This appliance's certificate issued by the authority, for its own TLS key. */
  cert: string;
  /** This appliance's TLS private key (the one its self-signed certificate is for). */
  tlsKey: string;
}

/** The names this appliance answers to: its own, the shared addresses, the site hostname. */
export type SiteNames = () => { commonName: string; names: string[] };

const invalid = (why: string) =>
  siteErrors.SITE_CA_INVALID(
    `The site certificate authority sent by the peer is not usable: ${why}. Nothing was changed; establish the relationship again from the primary.`,
  );

/** Parse and check a bundle: a CA certificate and the private key of its public key. */
export function checkBundle(value: unknown): SiteCaBundle {
  const parsed = SiteCaBundle.safeParse(value);
  if (!parsed.success) throw invalid('it is not a key and certificate in PEM');
  const { keyPem, certPem } = parsed.data;
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
    const fromKey = createPublicKey(createPrivateKey(keyPem)).export({
      type: 'spki',
      format: 'der',
    });
    if (!fromKey.equals(cert.publicKey.export({ type: 'spki', format: 'der' })))
      throw invalid('the key does not belong to the certificate');
  } catch (e) {
    throw e instanceof GatehouseError ? e : invalid('the PEM cannot be read');
  }
  if (!cert.ca) throw invalid('the certificate is not a certificate authority');
  return parsed.data;
}

const splitBundle = (text: string): SiteCaBundle => ({
  keyPem: /-----BEGIN PRIVATE KEY-----[\s\S]+?-----END PRIVATE KEY-----\n/.exec(text)?.[0] ?? '',
  certPem: /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n/.exec(text)?.[0] ?? '',
});

const sanSet = (certPem: string) =>
  new Set(
    (new X509Certificate(certPem).subjectAltName ?? '')
      .split(', ')
      .map((s) => s.replace(/^IP Address:/, '').replace(/^DNS:/, ''))
      .filter(Boolean),
  );

/**
 * The site identity: one certificate authority that every appliance of a site holds, each
 * appliance's certificate issued by it, so that a client pinning the authority trusts whichever
 * appliance the site hostname or shared address leads to (S20). An appliance creates one at its
 * first start as a site of its own; a backup or traffic node adopts its primary's when it joins.
 */
export class SiteIdentity {
  private ca!: SiteCaBundle;
  private context: SecureContext | undefined;
  private caFingerprint = '';

  constructor(
    private readonly files: SiteIdentityFiles,
    private readonly events: EventLog,
    private readonly names: SiteNames,
  ) {}

  /** The pin clients use: the authority's SHA-256 fingerprint. */
  get fingerprint(): string {
    return this.caFingerprint;
  }

  /** Load the authority (creating the site's own at first start) and this appliance's certificate. */
  async ensure(actor: Actor): Promise<void> {
    if (!existsSync(this.files.ca)) {
      const made = await generateCertificateAuthority({
        commonName: `Gatehouse site CA (${this.names().commonName})`,
      });
      await this.writeCa(made);
      this.events.record(actor, 'appliance.site-ca-created', this.names().commonName, {
        fingerprint: certificateFingerprint(made.certPem),
      });
    }
    this.ca = checkBundle(splitBundle(readFileSync(this.files.ca, 'utf8')));
    this.caFingerprint = certificateFingerprint(this.ca.certPem);
    await this.issueIfStale();
  }

  /** The authority, for the encrypted peer channels only. */
  bundle(): SiteCaBundle {
    return { ...this.ca };
  }

  /**
   * Take the site's authority from the primary this appliance joined (a backup, a traffic
   * node): its own, if different, is replaced, and its certificate issued again.
   */
  async adopt(actor: Actor, value: unknown, from: string): Promise<void> {
    const bundle = checkBundle(value);
    const fingerprint = certificateFingerprint(bundle.certPem);
    if (fingerprint === this.caFingerprint) return;
    const previous = this.caFingerprint;
    await this.writeCa(bundle);
    this.ca = bundle;
    this.caFingerprint = fingerprint;
    await this.issueIfStale();
    this.events.record(actor, 'appliance.site-ca-adopted', from, { fingerprint, previous });
  }

  /** The certificate to present for a TLS server name: the site's for its reserved name. */
  contextFor(servername: string): SecureContext | undefined {
    return servername === SITE_IDENTITY_SERVERNAME ? this.context : undefined;
  }

  private async writeCa(ca: TlsMaterial): Promise<void> {
    await writeFileAtomic(this.files.ca, ca.keyPem + ca.certPem, 0o600);
  }

  /** Issue this appliance's certificate again when the authority or its names changed. */
  private async issueIfStale(): Promise<void> {
    const { commonName, names } = this.names();
    const named = [...new Set(names)].filter((n) => n !== '0.0.0.0' && n !== '::');
    const wanted = named.length ? named : [commonName];
    let cert = existsSync(this.files.cert) ? readFileSync(this.files.cert, 'utf8') : '';
    const current =
      cert &&
      issuedBy(cert, this.ca.certPem) &&
      sameSet(sanSet(cert), new Set(wanted)) &&
      Date.parse(new X509Certificate(cert).validTo) > Date.now() + 30 * 86_400_000;
    if (!current) {
      const { dnsNames, ipAddresses } = splitHostsAndIps(wanted);
      cert = await issueServerCertificate({
        ca: this.ca,
        subjectKeyPem: readFileSync(this.files.tlsKey, 'utf8'),
        commonName,
        dnsNames,
        ipAddresses,
      });
      await writeFileAtomic(this.files.cert, cert, 0o644);
    }
    this.context = createSecureContext({
      key: readFileSync(this.files.tlsKey),
      cert: cert + this.ca.certPem,
      minVersion: 'TLSv1.2',
    });
  }
}

const sameSet = (a: Set<string>, b: Set<string>) =>
  a.size === b.size && [...a].every((x) => b.has(x));
