import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { formatEvent, frame } from './message.js';
import { SyslogSpool } from './spool.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const spoolFile = () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gh-spool-'));
  dirs.push(dir);
  return path.join(dir, 'syslog', 'spool.db');
};

describe('the syslog spool', () => {
  it('drops the oldest messages past its bound, counts them, and keeps the rest in order across a reopen', () => {
    const file = spoolFile();
    const spool = new SyslogSpool(file, () => 5);
    for (let i = 0; i < 8; i++) spool.push(`m${i}`);
    expect(spool.length).toBe(5);
    expect(spool.dropped).toBe(3);
    const first = spool.peek(2);
    expect(first.map((m) => m.data)).toEqual(['m3', 'm4']);
    spool.delivered(first[0]!.seq);
    spool.close();
    const again = new SyslogSpool(file, () => 5);
    expect(again.peek(10).map((m) => m.data)).toEqual(['m4', 'm5', 'm6', 'm7']);
    again.close();
  });
});

describe('RFC 5424 messages of events', () => {
  it('escapes structured data, keeps header fields printable, redacts secret fields and counts octets', () => {
    const message = formatEvent(
      {
        id: 'e1',
        ts: Date.UTC(2026, 11, 7, 1, 2, 3, 456),
        appliance: 'site a',
        area: 'login',
        actor: 'ad"m]i\\n',
        action: 'settings.updated',
        target: 'ü',
        outcome: 'failed',
        details: { password: 'hunter2', nested: { apiToken: 'abc' }, fine: 1 },
      },
      42,
    );
    expect(message).toBe(
      '<107>1 2026-12-07T01:02:03.456Z site_a gatehouse 42 settings.updated [gatehouse@32473 id="e1" area="login" actor="ad\\"m\\]i\\\\n" target="ü" outcome="failed"] \ufeffsettings.updated by ad"m]i\\n (login) on ü: failed {"password":"[redacted]","nested":{"apiToken":"[redacted]"},"fine":1}',
    );
    expect(frame('ü')).toBe('2 ü');
  });
});
