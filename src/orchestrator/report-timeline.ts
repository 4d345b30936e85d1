/** One try of a step: a resume after a failure is a second attempt of the same step. */
export interface Attempt {
  start: number;
  end?: number;
  status: string;
  error?: string;
}

export interface TimelineInput {
  t0: number;
  t1: number;
  steps: { title: string; attempts: Attempt[] }[];
  outages: { from: number; to: number }[];
  /** Client events from the site's records (refusals, reconnections, sessions ended). */
  clientEvents: { t: number; label: string; bad: boolean }[];
}

const LABEL_W = 380;
const PLOT_W = 760;
const ROW_H = 18;
const BREAK_W = 26;
const AXIS_H = 22;
const CHAR_W = 6.2;

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const dur = (ms: number) => {
  const s = Math.round(ms / 1000);
  return s < 120
    ? `${(ms / 1000).toFixed(s < 10 ? 1 : 0)} s`
    : `${Math.floor(s / 60)} min ${s % 60} s`;
};

interface Scale {
  x(t: number): number;
  breaks: { from: number; to: number; x: number }[];
  ticks: { x: number; label: string }[];
}

/**
 * Time to pixels, with every quiet stretch (no step starting or ending, no outage, no client
 * event) longer than an eighth of the run cut down to a fixed-width break: a two-minute drain
 * no longer squeezes twenty short steps into a tenth of the width.
 */
export function timeScale(t0: number, t1: number, marks: number[]): Scale {
  const span = Math.max(1, t1 - t0);
  const longest = Math.max(10_000, span / 8);
  const points = [...new Set([t0, t1, ...marks.filter((t) => t >= t0 && t <= t1)])].sort(
    (a, b) => a - b,
  );
  const gaps: { from: number; to: number }[] = [];
  for (let i = 1; i < points.length; i++)
    if (points[i]! - points[i - 1]! > longest) {
      // Keep a little of each side so the bars around the break show where they end.
      const keep = longest / 4;
      gaps.push({ from: points[i - 1]! + keep, to: points[i]! - keep });
    }
  const linear = span - gaps.reduce((n, g) => n + (g.to - g.from), 0);
  const k = (PLOT_W - gaps.length * BREAK_W) / Math.max(1, linear);
  const x = (t: number) => {
    let px = 0;
    let from = t0;
    for (const g of gaps) {
      if (t <= g.from) break;
      px += (g.from - from) * k + (Math.min(t, g.to) - g.from) * (BREAK_W / (g.to - g.from));
      from = g.to;
      if (t <= g.to) return LABEL_W + px;
    }
    return LABEL_W + px + (Math.max(t, from) - from) * k;
  };
  const every =
    [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600].find((s) => s * 1000 * k >= 70) ?? 3600;
  const ticks: Scale['ticks'] = [];
  for (let ms = 0; ms <= span; ms += every * 1000) {
    const t = t0 + ms;
    if (gaps.some((g) => t > g.from && t < g.to)) continue;
    ticks.push({ x: x(t), label: every >= 60 ? `${ms / 60_000} min` : `${ms / 1000} s` });
  }
  return { x, breaks: gaps.map((g) => ({ ...g, x: x(g.from) })), ticks };
}

/** A label cut to the column's width (the whole title stays in the tooltip). */
const fit = (s: string, px: number) => {
  const n = Math.floor(px / CHAR_W);
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
};

const colour = (status: string) =>
  status === 'failed' ? '#c0392b' : status === 'paused' ? '#999' : '#2e86c1';

/**
 * The timeline as SVG: a label column the bars never enter, a time axis with its breaks, a
 * row for the site's probes (outages) and one for client events on the same axis, then one row
 * per step with each attempt its own bar (a failed first attempt, then the resume).
 */
export function renderTimeline(input: TimelineInput): string {
  const rows = input.steps.filter((s) => s.attempts.length);
  const marks = [
    ...rows.flatMap((s) => s.attempts.flatMap((a) => [a.start, a.end ?? input.t1])),
    ...input.outages.flatMap((o) => [o.from, o.to]),
    ...input.clientEvents.map((e) => e.t),
  ];
  const sc = timeScale(input.t0, input.t1, marks);
  const top = AXIS_H;
  const rowY = (i: number) => top + (i + 2) * ROW_H;
  const height = rowY(rows.length) + 8;
  const out: string[] = [];
  // The suffix (attempts) always shows: the title gives way.
  const label = (y: number, text: string, full: string, suffix = '') =>
    out.push(
      `<text class="label" x="4" y="${y + 12}" font-size="11"><title>${esc(full)}</title>${esc(fit(text, LABEL_W - 12 - suffix.length * CHAR_W) + suffix)}</text>`,
    );
  // The axis: ticks with elapsed time, and each break with the time it leaves out.
  for (const t of sc.ticks)
    out.push(
      `<line x1="${t.x.toFixed(1)}" y1="${top - 4}" x2="${t.x.toFixed(1)}" y2="${height}" stroke="#eee"/><text class="tick" x="${t.x.toFixed(1)}" y="${top - 8}" font-size="10" text-anchor="middle">${t.label}</text>`,
    );
  // Site probes: green, outages red.
  label(rowY(-1), 'site probes (red: outage)', 'site probes (red: outage)');
  out.push(
    `<rect class="bar probes" x="${LABEL_W}" y="${rowY(-1)}" width="${PLOT_W}" height="14" fill="#d5f5e3"/>`,
  );
  for (const o of input.outages) {
    const x0 = sc.x(o.from);
    out.push(
      `<rect class="bar outage" x="${x0.toFixed(1)}" y="${rowY(-1)}" width="${Math.max(2, sc.x(o.to) - x0).toFixed(1)}" height="14" fill="#c0392b"><title>outage ${dur(o.to - o.from)}</title></rect>`,
    );
  }
  label(rowY(0), 'client events (site records)', 'client events from the site records');
  for (const e of input.clientEvents)
    out.push(
      `<rect class="bar client-event" x="${(sc.x(e.t) - 1).toFixed(1)}" y="${rowY(0)}" width="3" height="14" fill="${e.bad ? '#c0392b' : '#f39c12'}"><title>${esc(e.label)}</title></rect>`,
    );
  rows.forEach((s, i) => {
    const y = rowY(i + 1);
    const n = s.attempts.length;
    label(y, s.title, s.title, n > 1 ? ` (${n} attempts)` : '');
    s.attempts.forEach((a, j) => {
      const end = a.end ?? input.t1;
      const x0 = sc.x(a.start);
      const w = Math.max(2, sc.x(end) - x0);
      const what = `${n > 1 ? `attempt ${j + 1}: ` : ''}${a.status}, ${dur(end - a.start)}${a.error ? ` — ${a.error}` : ''}`;
      out.push(
        `<rect class="bar step attempt-${j + 1}" x="${x0.toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="14" fill="${colour(a.status)}"${j > 0 ? ' stroke="#1b4f72" stroke-width="1.5"' : ''}><title>${esc(`${s.title}: ${what}`)}</title></rect>`,
      );
    });
  });
  // Breaks last, over the bars they cut: a white gap with the time it leaves out.
  for (const b of sc.breaks)
    out.push(
      `<g class="break"><rect x="${(b.x + 3).toFixed(1)}" y="${top - 4}" width="${BREAK_W - 6}" height="${height - top + 4}" fill="#fff" opacity="0.85"/><text x="${(b.x + BREAK_W / 2).toFixed(1)}" y="${top - 8}" font-size="10" text-anchor="middle">≈${esc(dur(b.to - b.from))}</text></g>`,
    );
  return `<svg id="timeline" width="${LABEL_W + PLOT_W + 10}" height="${height}" xmlns="http://www.w3.org/2000/svg" font-family="system-ui,sans-serif">${out.join('')}</svg>`;
}
