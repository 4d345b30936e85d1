import { GatehouseError } from '../shared/errors.js';
import { sessionsErrors } from './error-codes.js';

/**
 * Session legs as streams over one long-lived connection (the relay connection of a client to
 * an appliance): an idle session then costs a few objects, not a TLS connection of its own.
 *
 * Frame: [u8 type][u32 stream id][u32 payload length] + payload. Only the client side opens
 * streams (odd ids). Each direction of each stream has its own credit: a sender sends no more
 * than the receiver granted (INITIAL_WINDOW, then WINDOW frames as the reader consumes), so a
 * slow reader holds back its own stream and never makes the other side buffer without bound.
 * Anything that breaks the protocol closes the whole connection.
 */
export const FRAME = {
  open: 1,
  accept: 2,
  data: 3,
  window: 4,
  fin: 5,
  reset: 6,
  ack: 7,
  eof: 8,
} as const;
export const HEADER = 9;
export const NOTHING = Buffer.alloc(0);
/** Longest frame accepted; a longer one is a protocol violation. */
export const MAX_FRAME = 1024 * 1024;
/**
 * Longest DATA payload sent: the turn of one stream (MuxWriter.pump), so the most another
 * stream's frame waits for per stream ahead of it. A peer of the previous release sent up to
 * 256 KiB and accepts any size up to MAX_FRAME.
 */
export const SLICE = 64 * 1024;
/**
 * Longest DATA payload of a stream sending alone (no other stream waits its turn): it sends up
 * to its credit in frames of this size, as every stream did before SLICE (the previous release's
 * frame size), so a lone bulk stream pays for no more frames and pump rounds than it did then;
 * a frame ends at CONNECTION_BUFFER, or is one SLICE (MuxWriter.pump).
 */
export const LONE_FRAME = 256 * 1024;
/** Credit each direction of a stream starts with. */
export const INITIAL_WINDOW = 1024 * 1024;
/** Credit is granted back in batches of at least this many consumed bytes. */
export const GRANT_AT = INITIAL_WINDOW / 4;
/** The readable buffer of a stream; with GRANT_AT it stays below INITIAL_WINDOW (no stall). */
export const READ_HIGH_WATER = 64 * 1024;
/** What a stream's writer may queue before write() says wait. */
export const WRITE_HIGH_WATER = 64 * 1024;
/**
 * DATA the connection hands its socket while the socket holds less than this unsent: more than
 * a socket's own high-water mark (the socket's 'drain' then comes), so the streams are not
 * held back for every 16 KiB, and little enough that a small frame of another stream waits
 * behind no more than this (a few ms at LAN speeds).
 */
export const CONNECTION_BUFFER = 256 * 1024;

/** Why a stream was refused or reset, as the peer sends it (problem+json's essentials). */
export interface MuxProblem {
  code: string;
  status: number;
  detail: string;
}

export const problemOf = (e: Error): MuxProblem => {
  const error = e instanceof GatehouseError ? e : sessionsErrors.STREAM_RESET(e.message);
  return { code: error.code, status: error.status, detail: error.message };
};

/** The connection closed under its streams: a connection error, as a reset TCP socket's. */
export const connectionLost = (why: string) =>
  sessionsErrors.ECONNRESET(`The relay connection closed: ${why}.`);
