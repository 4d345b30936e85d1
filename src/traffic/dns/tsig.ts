import { createHmac, timingSafeEqual } from 'node:crypto';
import { CLASS, TYPE, encodeName, encodeRecord, readName, type DecodedMessage } from './wire.js';

/**
 * TSIG (RFC 8945): a shared-secret HMAC over a DNS message, how BIND's `update-policy` and
 * PowerDNS's TSIG-ALLOW-DNSUPDATE authenticate a dynamic update.
 */

export type TsigAlgorithm = 'hmac-sha256' | 'hmac-sha384' | 'hmac-sha512';

export interface TsigKeyMaterial {
  name: string;
  algorithm: TsigAlgorithm;
  secret: Buffer;
}

export const TSIG_ERRORS: Record<number, string> = {
  16: 'BADSIG (the server computed a different MAC: the secret is not the one it has for this key name)',
  17: 'BADKEY (the server knows no key of that name and algorithm)',
  18: 'BADTIME (the clocks of this machine and the server differ by more than the allowed fudge)',
  22: 'BADTRUNC (the server refused a truncated MAC)',
};

const FUDGE_SECONDS = 300;

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function u48(n: number): Buffer {
  const b = Buffer.alloc(6);
  b.writeUIntBE(n, 0, 6);
  return b;
}

function hmac(key: TsigKeyMaterial, ...parts: Buffer[]): Buffer {
  const h = createHmac(key.algorithm.slice(5), key.secret);
  for (const p of parts) h.update(p);
  return h.digest();
}

/** The TSIG variables that are MACed after the message (RFC 8945 §4.3.3), in canonical form. */
function variables(
  key: TsigKeyMaterial,
  time: number,
  fudge: number,
  error: number,
  other: Buffer,
) {
  return Buffer.concat([
    encodeName(key.name.toLowerCase()),
    u16(CLASS.ANY),
    Buffer.alloc(4),
    encodeName(key.algorithm),
    u48(time),
    u16(fudge),
    u16(error),
    u16(other.length),
    other,
  ]);
}

/** Sign a request: returns the message with its TSIG record appended and the request MAC. */
export function signRequest(
  message: Buffer,
  key: TsigKeyMaterial,
  now = Date.now(),
): { signed: Buffer; mac: Buffer } {
  const time = Math.floor(now / 1000);
  const mac = hmac(key, message, variables(key, time, FUDGE_SECONDS, 0, Buffer.alloc(0)));
  const data = Buffer.concat([
    encodeName(key.algorithm),
    u48(time),
    u16(FUDGE_SECONDS),
    u16(mac.length),
    mac,
    message.subarray(0, 2),
    u16(0),
    u16(0),
  ]);
  const rr = encodeRecord({ name: key.name, type: TYPE.TSIG, class: CLASS.ANY, ttl: 0, data });
  const signed = Buffer.concat([message, rr]);
  signed.writeUInt16BE(message.readUInt16BE(10) + 1, 10);
  return { signed, mac };
}

export type TsigCheck =
  | { status: 'unsigned' }
  | { status: 'error'; error: number }
  | { status: 'invalid'; reason: string }
  | { status: 'valid' };

/** Check the TSIG of a response to a request signed with `requestMac`. */
export function verifyResponse(
  raw: Buffer,
  message: DecodedMessage,
  key: TsigKeyMaterial,
  requestMac: Buffer,
  now = Date.now(),
): TsigCheck {
  const rr = message.additionals.at(-1);
  if (!rr || rr.type !== TYPE.TSIG || message.lastAdditionalOffset === undefined)
    return { status: 'unsigned' };
  const d = rr.data;
  const alg = readName(d, 0);
  let p = alg.end;
  const time = d.readUIntBE(p, 6);
  const fudge = d.readUInt16BE(p + 6);
  const macSize = d.readUInt16BE(p + 8);
  p += 10;
  const mac = d.subarray(p, p + macSize);
  p += macSize;
  const originalId = d.readUInt16BE(p);
  const error = d.readUInt16BE(p + 2);
  const other = d.subarray(p + 6, p + 6 + d.readUInt16BE(p + 4));
  if (error !== 0) return { status: 'error', error };
  if (rr.name.toLowerCase() !== key.name.toLowerCase() || alg.name.toLowerCase() !== key.algorithm)
    return { status: 'invalid', reason: `it is signed with another key (${rr.name}, ${alg.name})` };
  const body = Buffer.from(raw.subarray(0, message.lastAdditionalOffset));
  body.writeUInt16BE(originalId, 0);
  body.writeUInt16BE(message.additionals.length - 1, 10);
  const want = hmac(
    key,
    u16(requestMac.length),
    requestMac,
    body,
    variables(key, time, fudge, error, other),
  );
  if (mac.length !== want.length || !timingSafeEqual(mac, want))
    return { status: 'invalid', reason: 'its MAC does not verify with the key' };
  if (Math.abs(Math.floor(now / 1000) - time) > fudge)
    return { status: 'invalid', reason: 'its signing time is outside the allowed fudge' };
  return { status: 'valid' };
}
