import { appendFileSync } from 'node:fs';
import tls from 'node:tls';
import { RepresentativeConsole } from '../clients/console.js';
import { JumpClient } from '../clients/jump-client.js';
import type { Endpoint } from '../clients/tunnel.js';

import { until } from '../shared/until.js';
import { orchestratorErrors } from './error-codes.js';

/** One look at the site: could a new client connect and get a healthy answer? */
export interface ProbeSample {
  t: number;
  ok: boolean;
  ms: number;
  /** The certificate that answered, by appliance name. */
  who?: string;
  error?: string;
}

const PROBE_EVERY_MS = 50;
const PROBE_TIMEOUT_MS = 1_000;
/**
 * Probes may overlap: one takes longer than 10 ms on a loaded machine, and waiting for it would
 * stretch the period to its duration. Past this many under way a tick is skipped (more would
 * load the appliance they measure).
 */
const MAX_INFLIGHT = 4;

/**
 * Hits the site every 50 ms (or as often as asked) as a new client would: a TLS handshake to the site address and
 * GET /health, accepted from any appliance of the inventory. Samples are appended to a file,
 * so the report covers a run that was interrupted and resumed.
 */
export class SiteProber {
  private timer: NodeJS.Timeout | undefined;
  private inflight = 0;

  constructor(
    private readonly site: Pick<Endpoint, 'host' | 'port' | 'lookup'>,
    private readonly names: Map<string, string>,
    private readonly file: string,
    private readonly everyMs = PROBE_EVERY_MS,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.probe(), this.everyMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await until(() => this.inflight === 0, 2_000, 'the last probes').catch(() => undefined);
  }

  /** Each sample goes to the file at once: a SIGKILLed orchestrator loses none it took. */
  private record(s: ProbeSample): void {
    appendFileSync(this.file, JSON.stringify(s) + '\n');
  }

  private async probe(): Promise<void> {
    if (this.inflight >= MAX_INFLIGHT) return;
    this.inflight++;
    const t = Date.now();
    try {
      const who = await this.answerer();
      this.record({ t, ok: true, ms: Date.now() - t, who });
    } catch (e) {
      this.record({ t, ok: false, ms: Date.now() - t, error: (e as Error).message });
    } finally {
      this.inflight--;
    }
  }

  /** The appliance the site leads to now: its /health answered 200 over the site's address. */
  answerer(): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = tls.connect({
        host: this.site.host,
        port: this.site.port,
        rejectUnauthorized: false,
        ...(this.site.lookup ? { lookup: this.site.lookup } : {}),
      });
      const fail = (why: string) => {
        socket.destroy();
        reject(new Error(why));
      };
      socket.setTimeout(PROBE_TIMEOUT_MS, () => fail('timeout'));
      socket.once('error', (e: NodeJS.ErrnoException) => fail(e.code ?? e.message));
      socket.once('secureConnect', () => {
        const who = this.names.get(socket.getPeerCertificate().fingerprint256);
        if (!who) return fail('a certificate of no appliance of the inventory');
        socket.write(
          `GET /health HTTP/1.1\r\nHost: ${this.site.host}\r\nConnection: close\r\n\r\n`,
        );
        let text = '';
        socket.setEncoding('utf8');
        socket.on('data', (d: string) => (text += d));
        socket.once('end', () => {
          const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
          if (status === 200) resolve(who);
          else fail(`HTTP ${status || 'no answer'}`);
        });
      });
    });
  }
}

/** A pause between samples longer than this means nothing probed (orchestrator not running). */
const UNMEASURED_GAP_MS = 1_000;

/**
 * Downtime as clients saw it: the time from each failed probe to the next success. Where no
 * probe ran for a while (the orchestrator was killed, or paused between the windows), the gap
 * is reported as unmeasured; an outage open when the gap began counts through it.
 */
export function downtimeOf(samples: ProbeSample[]): {
  totalMs: number;
  outages: { from: number; to: number }[];
  unmeasured: { from: number; to: number }[];
} {
  const sorted = [...samples].sort((a, b) => a.t - b.t);
  const outages: { from: number; to: number }[] = [];
  const unmeasured: { from: number; to: number }[] = [];
  let start: number | undefined;
  for (const [i, s] of sorted.entries()) {
    const prev = sorted[i - 1];
    // A probe may take up to its timeout: the gap starts when the previous one ended.
    if (prev && s.t - (prev.t + prev.ms) > UNMEASURED_GAP_MS)
      unmeasured.push({ from: prev.t + prev.ms, to: s.t });
    if (!s.ok && start === undefined) start = s.t;
    if (s.ok && start !== undefined) {
      outages.push({ from: start, to: s.t });
      start = undefined;
    }
  }
  if (start !== undefined) outages.push({ from: start, to: sorted.at(-1)!.t + PROBE_EVERY_MS });
  return { totalMs: outages.reduce((n, o) => n + (o.to - o.from), 0), outages, unmeasured };
}

/**
 * A real session through an appliance (or the site): a Jump Client of the orchestrator
 * registers there, a console signs in there, and bytes go through and come back (S12).
 */
export async function verifySession(
  endpoint: Endpoint,
  creds: { username: string; password: string; jumpToken: string },
  echo: string,
  name: string,
): Promise<{ ms: number; relayedBy: string }> {
  const started = Date.now();
  const jump = new JumpClient({
    site: endpoint,
    name,
    group: 'orchestrator',
    token: creds.jumpToken,
    allow: [echo],
  });
  let rep: RepresentativeConsole | undefined;
  try {
    jump.start();
    await until(
      () => jump.state === 'connected',
      15_000,
      `probe Jump Client at ${endpoint.host}:${endpoint.port}`,
    ).catch(() => {
      throw orchestratorErrors.VERIFY_SESSION_FAILED(
        `No Jump Client could connect at ${endpoint.host}:${endpoint.port}: ${jump.lastError ?? 'no answer'}.`,
      );
    });
    rep = await RepresentativeConsole.signIn(endpoint, creds.username, creds.password);
    await until(
      async () => (await rep!.jumpClients()).some((j) => j.name === name),
      10_000,
      'the site to list the probe Jump Client',
    );
    const { socket } = await rep.openSession(name, echo);
    const payload = Buffer.from(`gatehouse upgrade verification ${started}\n`);
    let timer: NodeJS.Timeout | undefined;
    const back = await new Promise<Buffer>((resolve, reject) => {
      const got: Buffer[] = [];
      let n = 0;
      socket.on('data', (d: Buffer) => {
        got.push(d);
        n += d.length;
        if (n >= payload.length) resolve(Buffer.concat(got));
      });
      socket.once('error', reject);
      timer = setTimeout(() => reject(new Error('no echo within 10 s')), 10_000);
      socket.write(payload);
    }).finally(() => clearTimeout(timer));
    socket.end();
    if (!back.equals(payload))
      throw orchestratorErrors.VERIFY_SESSION_FAILED(
        'The session returned other bytes than were sent.',
      );
    return { ms: Date.now() - started, relayedBy: jump.connectedTo ?? '?' };
  } finally {
    await rep?.close();
    await jump.stop();
  }
}
