import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { renderHtml, type UpgradeReport } from '../src/orchestrator/report.js';
import { tempDir } from './support/appliance.js';
import { launchBrowser, type TestBrowser } from './support/browser.js';

/**
 * A cluster upgrade of 22 steps whose drain waited its full 120 s, failed, and was resumed
 * (a second attempt): the shape of issue 23's report, where the long bar squeezed every other
 * step into a tenth of the width and the labels lay over the bars.
 */
function longDrainReport(): UpgradeReport {
  const t0 = Date.parse('2026-12-07T03:00:00Z');
  let t = t0;
  const steps: UpgradeReport['steps'] = [];
  for (let i = 0; i < 22; i++) {
    const id = `step-${i + 1}`;
    const title =
      i === 5
        ? 'Wait until traffic-node-1, traffic-node-3 have no connected clients (at most 120 s, then stop the run)'
        : `Step ${i + 1}: install product 1.0.1 on traffic-node-${(i % 6) + 1} and wait for its health`;
    const attempts: UpgradeReport['steps'][number]['attempts'] = [];
    if (i === 5) {
      attempts.push({
        start: t,
        end: t + 120_000,
        status: 'failed',
        error: 'UPGRADE_DRAIN_TIMEOUT',
      });
      t += 120_000 + 45_000; // the operator read the advice, then resumed
      attempts.push({ start: t, end: t + 400, status: 'done' });
      t += 400;
    } else {
      const ms = 800 + ((i * 1_700) % 6_000);
      attempts.push({ start: t, end: t + ms, status: 'done' });
      t += ms;
    }
    t += 50;
    steps.push({
      id,
      title,
      s: ['S22'],
      window: 0,
      status: 'done',
      start: attempts[0]!.start,
      end: attempts.at(-1)!.end,
      attempts,
    });
  }
  const outage = { from: steps[10]!.start! + 300, to: steps[10]!.start! + 1_100 };
  return {
    strategy: 'cluster',
    target: { product: '1.0.1' },
    outcome: 'finished',
    startedAt: new Date(t0).toISOString(),
    endedAt: new Date(t).toISOString(),
    durationMs: t - t0,
    predicted: { siteDowntimeMs: 1000, withoutFailoverMs: 30_000, totalMs: 60_000 },
    downtime: { totalMs: 800, outages: [outage], unmeasured: [], probes: 900, failedProbes: 2 },
    sessions: { newStarted: 50, newFailed: 0, longOpened: 4, dropped: 0, failures: [] },
    siteRecords: {
      from: t0,
      to: t,
      read: ['primary'],
      unread: [],
      sessionsEndedAbnormally: { total: 0, byReason: {} },
      sessionsPaused: 0,
      reconnections: { total: 2, totalDownMs: 900, maxDownMs: 500, byReason: { moved: 2 } },
      refused: { total: 3, byReason: { NOT_ACCEPTING_CLIENTS: 3 } },
      events: [
        { t: outage.from + 100, label: 'backup: 3 connection(s) refused', bad: true },
        { t: steps[12]!.start!, label: 'jump-1 back after 0.5 s (moved)', bad: false },
      ],
    },
    cutSessions: { sessions: 0, nodes: [] },
    withoutFailoverMs: 40_000,
    steps,
    integrity: null,
    samples: [],
  };
}

interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

const overlap = (a: Box, b: Box) =>
  a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

let browser: TestBrowser | undefined;
afterAll(async () => browser?.close());

describe('the HTML report timeline (issue 23 point 3)', () => {
  it('has a time axis with the long drain broken, each attempt marked, outages and client events on the axis, and labels that never overlap a bar', async () => {
    browser = await launchBrowser();
    const page = await (await browser.context()).newPage();
    await page.setContent(renderHtml(longDrainReport()));
    const shot = path.join(tempDir('gh-report-timeline-'), 'timeline.png');
    await page.locator('#timeline').screenshot({ path: shot });
    expect(existsSync(shot)).toBe(true);

    const boxes = async (selector: string) =>
      (await page.locator(selector).evaluateAll((els) =>
        els.map((e) => {
          const r = e.getBoundingClientRect();
          return { x: r.x, y: r.y, width: r.width, height: r.height, text: e.textContent ?? '' };
        }),
      )) as (Box & { text: string })[];
    const labels = await boxes('#timeline text.label');
    const bars = await boxes('#timeline rect.bar');
    expect(labels.length).toBe(24); // probes, client events, 22 steps
    for (const l of labels)
      for (const b of bars) expect(overlap(l, b), `label "${l.text}" over a bar`).toBe(false);

    // A time axis, and the quiet part of the drain (and the wait before the resume) broken.
    const ticks = await boxes('#timeline text.tick');
    expect(ticks.length).toBeGreaterThanOrEqual(4);
    expect((await boxes('#timeline g.break')).length).toBeGreaterThanOrEqual(1);
    // Each attempt its own bar; the label says there were two.
    expect(await page.locator('#timeline rect.attempt-2').count()).toBe(1);
    expect(labels.find((l) => l.text.includes('no connected'))?.text).toContain('(2 attempts)');
    // The 21 short steps keep most of the width (before: a tenth of it).
    const steps = await boxes('#timeline rect.step');
    const plot = (await boxes('#timeline rect.probes'))[0]!;
    const drain = await boxes('#timeline rect.attempt-1');
    const shortWidth = steps.reduce((n, s) => n + s.width, 0) - drain[5]!.width;
    expect(shortWidth / plot.width).toBeGreaterThan(0.4);
    // Outages and client events lie on the same axis, inside the plot.
    for (const sel of ['#timeline rect.outage', '#timeline rect.client-event']) {
      const marks = await boxes(sel);
      expect(marks.length).toBeGreaterThan(0);
      for (const m of marks) {
        expect(m.x).toBeGreaterThanOrEqual(plot.x - 1);
        expect(m.x + m.width).toBeLessThanOrEqual(plot.x + plot.width + 1);
      }
    }
  }, 60_000);
});
