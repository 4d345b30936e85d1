import { randomInt } from 'node:crypto';
import { trafficError, type Rfc2136Config, type TrafficSwitchProvider } from '../switch-config.js';
import { signRequest, verifyResponse, TSIG_ERRORS, type TsigKeyMaterial } from './tsig.js';
import { exchange, type DnsServer } from './transport.js';
import {
  CLASS,
  OPCODE,
  RCODE_NAMES,
  TYPE,
  addressData,
  addressOf,
  decodeMessage,
  encodeMessage,
  flagsOf,
  isResponse,
  rcodeOf,
  type DecodedMessage,
} from './wire.js';
import { trafficErrors } from '../error-codes.js';

/**
 * DNS swing by dynamic update (RFC 2136): one signed UPDATE to the zone's primary server that
 * deletes the site hostname's A and AAAA records and adds the one for the target, in a single
 * transaction the server applies whole or not at all. Only the standard wire format and TSIG
 * are used, so any RFC 2136 server answers it the same: BIND, PowerDNS, Knot, Windows DNS.
 */
export class Rfc2136Provider implements TrafficSwitchProvider {
  readonly method = 'dns' as const;
  private readonly server: DnsServer;
  private readonly key: TsigKeyMaterial;

  constructor(private readonly config: Rfc2136Config) {
    this.server = { host: config.server, port: config.port, timeoutMs: config.timeoutMs };
    this.key = {
      name: config.tsig.name,
      algorithm: config.tsig.algorithm,
      secret: Buffer.from(config.tsig.secret, 'base64'),
    };
  }

  describe(): string {
    const c = this.config;
    return `DNS swing by RFC 2136 update of ${c.hostname} in zone ${c.zone} at ${c.server}:${c.port} (TSIG key ${c.tsig.name}, TTL ${c.ttl} s)`;
  }

  async pointAt(target: { name: string; address: string }): Promise<void> {
    const c = this.config;
    const rr = addressData(target.address);
    const message = encodeMessage({
      id: randomInt(0x10000),
      flags: flagsOf(OPCODE.UPDATE),
      questions: [{ name: c.zone, type: TYPE.SOA, class: CLASS.IN }],
      answers: [],
      authorities: [
        // Delete an RRset (RFC 2136 §2.5.2): class ANY, TTL 0, no data.
        { name: c.hostname, type: TYPE.A, class: CLASS.ANY, ttl: 0, data: Buffer.alloc(0) },
        { name: c.hostname, type: TYPE.AAAA, class: CLASS.ANY, ttl: 0, data: Buffer.alloc(0) },
        { name: c.hostname, type: rr.type, class: CLASS.IN, ttl: c.ttl, data: rr.data },
      ],
      additionals: [],
    });
    const { signed, mac } = signRequest(message, this.key);
    const raw = await exchange(this.server, signed);
    const answer = this.decode(raw, message.readUInt16BE(0));
    const tsig = verifyResponse(raw, answer, this.key, mac);
    const rcode = rcodeOf(answer.flags);
    if (tsig.status === 'error') throw this.tsigRejected(tsig.error);
    if (rcode !== 0) throw this.refusal(rcode);
    if (tsig.status !== 'valid')
      throw trafficError(
        trafficErrors.TRAFFIC_DNS_UNVERIFIED_ANSWER,
        `The DNS server ${this.where()} answered the update ${tsig.status === 'unsigned' ? 'without a TSIG signature' : `with a signature that does not verify: ${tsig.reason}`}; the change may or may not have been made. Check that the server is the zone's primary and not a proxy that strips signatures.`,
      );
  }

  /** The address the server has for the hostname now (A first, then AAAA). */
  async current(): Promise<{ address: string } | undefined> {
    for (const type of [TYPE.A, TYPE.AAAA]) {
      const address = await this.lookup(type);
      if (address) return { address };
    }
    return undefined;
  }

  private async lookup(type: number): Promise<string | undefined> {
    const c = this.config;
    const id = randomInt(0x10000);
    const raw = await exchange(
      this.server,
      encodeMessage({
        id,
        flags: flagsOf(OPCODE.QUERY),
        questions: [{ name: c.hostname, type, class: CLASS.IN }],
        answers: [],
        authorities: [],
        additionals: [],
      }),
    );
    const answer = this.decode(raw, id);
    const rcode = rcodeOf(answer.flags);
    if (rcode === 3) return undefined;
    if (rcode !== 0) throw this.refusal(rcode);
    for (const rr of answer.answers)
      if (rr.name.toLowerCase() === c.hostname && rr.type === type) return addressOf(rr);
    return undefined;
  }

  private decode(raw: Buffer, id: number): DecodedMessage {
    try {
      const m = decodeMessage(raw);
      if (m.id !== id || !isResponse(m.flags))
        throw new Error('it is not the answer to this request');
      return m;
    } catch (e) {
      throw trafficError(
        trafficErrors.TRAFFIC_DNS_BAD_ANSWER,
        `The DNS server ${this.where()} sent an answer that cannot be read (${(e as Error).message}); check that server and port are a DNS server's.`,
        { cause: e },
      );
    }
  }

  private where(): string {
    return `${this.config.server}:${this.config.port}`;
  }

  private tsigRejected(error: number) {
    const c = this.config;
    return trafficError(
      trafficErrors.TRAFFIC_DNS_TSIG_REJECTED,
      `tsig: the DNS server ${this.where()} rejected the signature with key "${c.tsig.name}" (${c.tsig.algorithm}): ${TSIG_ERRORS[error] ?? `TSIG error ${error}`}. Give the key name, algorithm and secret the server has; nothing was changed.`,
      { field: 'tsig' },
    );
  }

  private refusal(rcode: number) {
    const c = this.config;
    const name = RCODE_NAMES[rcode] ?? `RCODE ${rcode}`;
    const at = `The DNS server ${this.where()} answered ${name}`;
    switch (name) {
      case 'REFUSED':
        return trafficError(
          trafficErrors.TRAFFIC_DNS_REFUSED,
          `${at}: its policy does not let key "${c.tsig.name}" update ${c.hostname} in zone ${c.zone}, or (PowerDNS) the key's secret is not the one it has. Check the secret, and allow the key there (BIND: update-policy { grant ${c.tsig.name} name ${c.hostname}. A AAAA; }; PowerDNS: TSIG-ALLOW-DNSUPDATE and ALLOW-DNSUPDATE-FROM); nothing was changed.`,
          { field: 'tsig.name' },
        );
      case 'NOTAUTH':
        return trafficError(
          trafficErrors.TRAFFIC_DNS_NOTAUTH,
          `zone: ${at}: it is not authoritative for the zone ${c.zone}. Give the zone's primary server and the zone exactly as it is configured there; nothing was changed.`,
          { field: 'zone' },
        );
      case 'NOTZONE':
        return trafficError(
          trafficErrors.TRAFFIC_DNS_NOTZONE,
          `hostname: ${at}: ${c.hostname} is not inside the zone ${c.zone} there. Give the zone that contains the site hostname; nothing was changed.`,
          { field: 'hostname' },
        );
      case 'NOTIMP':
        return trafficError(
          trafficErrors.TRAFFIC_DNS_NOTIMP,
          `${at}: it does not accept dynamic updates. Enable updates for the zone ${c.zone} (BIND: update-policy; PowerDNS: dnsupdate=yes).`,
          { field: 'server' },
        );
      case 'SERVFAIL':
        return trafficError(
          trafficErrors.TRAFFIC_DNS_SERVFAIL,
          `${at}: it failed to apply the change (see its log: a read-only zone file or journal, or a secondary zone). Nothing was changed.`,
          { field: 'server' },
        );
      default:
        return trafficError(
          trafficErrors.TRAFFIC_DNS_FAILED,
          `${at} to the change of ${c.hostname} in zone ${c.zone}; see the server's log. Nothing was changed.`,
        );
    }
  }
}
