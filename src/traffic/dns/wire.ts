/**
 * The DNS message wire format (RFC 1035 §4, RFC 2136 §2), just as much as a dynamic update and
 * a query for the site hostname need. Names are written uncompressed (always valid) and read
 * with compression pointers, as servers send them.
 */

export const TYPE = { A: 1, SOA: 6, AAAA: 28, TSIG: 250 } as const;
export const CLASS = { IN: 1, NONE: 254, ANY: 255 } as const;
export const OPCODE = { QUERY: 0, UPDATE: 5 } as const;

export const RCODE_NAMES: Record<number, string> = {
  0: 'NOERROR',
  1: 'FORMERR',
  2: 'SERVFAIL',
  3: 'NXDOMAIN',
  4: 'NOTIMP',
  5: 'REFUSED',
  6: 'YXDOMAIN',
  7: 'YXRRSET',
  8: 'NXRRSET',
  9: 'NOTAUTH',
  10: 'NOTZONE',
};

export interface Question {
  name: string;
  type: number;
  class: number;
}

export interface ResourceRecord {
  name: string;
  type: number;
  class: number;
  ttl: number;
  data: Buffer;
}

export interface Message {
  id: number;
  /** QR, opcode, AA, TC, RD, RA, Z and RCODE as in the header's second 16 bits. */
  flags: number;
  /** Questions; the zone section of an UPDATE. */
  questions: Question[];
  /** Answers; the prerequisite section of an UPDATE. */
  answers: ResourceRecord[];
  /** Authority records; the update section of an UPDATE. */
  authorities: ResourceRecord[];
  additionals: ResourceRecord[];
}

export interface DecodedMessage extends Message {
  /** Where the last additional record starts (a TSIG record must be the last one). */
  lastAdditionalOffset: number | undefined;
}

export const flagsOf = (opcode: number, opts: { rd?: boolean } = {}) =>
  ((opcode & 0xf) << 11) | (opts.rd ? 0x0100 : 0);
export const rcodeOf = (flags: number) => flags & 0xf;
export const opcodeOf = (flags: number) => (flags >> 11) & 0xf;
export const isResponse = (flags: number) => (flags & 0x8000) !== 0;
export const isTruncated = (flags: number) => (flags & 0x0200) !== 0;

export function encodeName(name: string): Buffer {
  const labels = name.replace(/\.$/, '').split('.').filter(Boolean);
  const parts: Buffer[] = [];
  for (const label of labels) {
    const b = Buffer.from(label, 'ascii');
    if (b.length > 63) throw new Error(`DNS label "${label}" is longer than 63 bytes`);
    parts.push(Buffer.from([b.length]), b);
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

export function encodeRecord(rr: ResourceRecord): Buffer {
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(rr.type, 0);
  fixed.writeUInt16BE(rr.class, 2);
  fixed.writeUInt32BE(rr.ttl >>> 0, 4);
  fixed.writeUInt16BE(rr.data.length, 8);
  return Buffer.concat([encodeName(rr.name), fixed, rr.data]);
}

export function encodeMessage(m: Message): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(m.id, 0);
  header.writeUInt16BE(m.flags, 2);
  header.writeUInt16BE(m.questions.length, 4);
  header.writeUInt16BE(m.answers.length, 6);
  header.writeUInt16BE(m.authorities.length, 8);
  header.writeUInt16BE(m.additionals.length, 10);
  return Buffer.concat([
    header,
    ...m.questions.flatMap((q) => [encodeName(q.name), u16(q.type), u16(q.class)]),
    ...[...m.answers, ...m.authorities, ...m.additionals].map(encodeRecord),
  ]);
}

class Reader {
  constructor(
    readonly buf: Buffer,
    public pos = 0,
  ) {}

  need(n: number): void {
    if (this.pos + n > this.buf.length) throw new Error('DNS message is truncated');
  }
  u8(): number {
    this.need(1);
    return this.buf.readUInt8(this.pos++);
  }
  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  bytes(n: number): Buffer {
    this.need(n);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  name(): string {
    const labels: string[] = [];
    let pos = this.pos;
    let jumped = false;
    for (let hops = 0; ; hops++) {
      if (hops > 127 || pos >= this.buf.length) throw new Error('DNS name is malformed');
      const len = this.buf.readUInt8(pos);
      if ((len & 0xc0) === 0xc0) {
        if (pos + 1 >= this.buf.length) throw new Error('DNS name is malformed');
        if (!jumped) this.pos = pos + 2;
        jumped = true;
        pos = ((len & 0x3f) << 8) | this.buf.readUInt8(pos + 1);
        continue;
      }
      if (len === 0) {
        if (!jumped) this.pos = pos + 1;
        return labels.join('.');
      }
      if (len > 63 || pos + 1 + len > this.buf.length) throw new Error('DNS name is malformed');
      labels.push(this.buf.toString('ascii', pos + 1, pos + 1 + len));
      pos += 1 + len;
    }
  }

  record(): ResourceRecord {
    const name = this.name();
    const type = this.u16();
    const cls = this.u16();
    const ttl = this.u32();
    const data = this.bytes(this.u16());
    return { name, type, class: cls, ttl, data };
  }
}

export function decodeMessage(buf: Buffer): DecodedMessage {
  const r = new Reader(buf);
  const id = r.u16();
  const flags = r.u16();
  const counts = [r.u16(), r.u16(), r.u16(), r.u16()] as const;
  const questions: Question[] = [];
  for (let i = 0; i < counts[0]; i++)
    questions.push({ name: r.name(), type: r.u16(), class: r.u16() });
  const records = (n: number) => Array.from({ length: n }, () => r.record());
  const answers = records(counts[1]);
  const authorities = records(counts[2]);
  const additionals: ResourceRecord[] = [];
  let lastAdditionalOffset: number | undefined;
  for (let i = 0; i < counts[3]; i++) {
    lastAdditionalOffset = r.pos;
    additionals.push(r.record());
  }
  return { id, flags, questions, answers, authorities, additionals, lastAdditionalOffset };
}

/** Read a name inside a record's data (TSIG algorithm names are never compressed). */
export function readName(buf: Buffer, offset: number): { name: string; end: number } {
  const r = new Reader(buf, offset);
  const name = r.name();
  return { name, end: r.pos };
}

/** The RDATA of an A or AAAA record for an (already validated) address. */
export function addressData(address: string): { type: number; data: Buffer } {
  if (!address.includes(':'))
    return { type: TYPE.A, data: Buffer.from(address.split('.').map(Number)) };
  let text = address.split('%')[0]!;
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string?];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups =
    tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const data = Buffer.alloc(16);
  groups.forEach((g, i) => data.writeUInt16BE(parseInt(g, 16), i * 2));
  return { type: TYPE.AAAA, data };
}

/** The address in an A or AAAA record's data (IPv6 in its RFC 5952 form). */
export function addressOf(rr: ResourceRecord): string | undefined {
  if (rr.type === TYPE.A && rr.data.length === 4) return [...rr.data].join('.');
  if (rr.type !== TYPE.AAAA || rr.data.length !== 16) return undefined;
  const groups = Array.from({ length: 8 }, (_, i) => rr.data.readUInt16BE(i * 2));
  let best = { at: -1, len: 1 };
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.len) best = { at: i, len: j - i };
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.at < 0) return hex.join(':');
  return `${hex.slice(0, best.at).join(':')}::${hex.slice(best.at + best.len).join(':')}`;
}
