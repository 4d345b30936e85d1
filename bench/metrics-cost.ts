import type { ApplianceClient } from '../src/clients/admin-client.js';
import { LoadGenerator, median, type Figure, type LoadSpec } from './support.js';

const SCRAPES = 30;

/**
 * The cost of Prometheus metrics on one running appliance: the same read load with a scrape
 * of GET /metrics every second and without (alternating slices), and the time of one scrape
 * beside the time of GET /health on the same connection.
 */
export async function metricsCost(
  api: ApplianceClient,
  spec: LoadSpec,
  timing: { warmupMs: number; rounds: number; roundMs: number },
): Promise<Figure[]> {
  const scrape = await scraper(api);
  const plain = new LoadGenerator(spec);
  const scraped = new LoadGenerator(spec);
  try {
    await plain.run(timing.warmupMs, false);
    await scraped.run(timing.warmupMs, false);
    for (let round = 0; round < timing.rounds; round++) {
      await plain.run(timing.roundMs, true);
      const every = setInterval(() => void scrape(), 1_000);
      void scrape();
      await scraped.run(timing.roundMs, true);
      clearInterval(every);
    }
  } finally {
    await Promise.all([plain.close(), scraped.close()]);
  }
  const once = await scrapeBesideHealth(api, scrape, SCRAPES);
  const [p, s] = [plain.result(), scraped.result()];
  return [
    {
      figure: `${spec.method} ${spec.path} throughput, scraped every second (anchor: not scraped)`,
      unit: 'req/s',
      gatehouse: s.requestsPerSecond,
      anchor: p.requestsPerSecond,
    },
    {
      figure: `one scrape of GET /metrics, idle appliance (anchor: GET /health), median of ${SCRAPES}`,
      unit: 'ms',
      gatehouse: once.scrapeMs,
      anchor: once.healthMs,
    },
  ];
}

/** A function timing one GET /metrics (milliseconds), with a scrape token made for it. */
export async function scraper(api: ApplianceClient): Promise<() => Promise<number>> {
  const created = await api.call<{ token: string }>('POST', '/api/appliance/monitoring/tokens', {
    json: { label: 'bench' },
  });
  if (created.status !== 201) throw new Error(`scrape token: ${created.status}`);
  return async () => {
    const t0 = performance.now();
    const res = await api.call('GET', '/metrics', {
      headers: { authorization: `Bearer ${created.body.token}`, accept: 'text/plain' },
      auth: 'none',
    });
    if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}`);
    return performance.now() - t0;
  };
}

/** Medians of `count` scrapes, each followed by GET /health (the anchor) on the same connection. */
export async function scrapeBesideHealth(
  api: ApplianceClient,
  scrape: () => Promise<number>,
  count: number,
): Promise<{ scrapeMs: number; healthMs: number }> {
  const scrapeMs: number[] = [];
  const healthMs: number[] = [];
  for (let i = 0; i < count; i++) {
    scrapeMs.push(await scrape());
    const t0 = performance.now();
    await api.call('GET', '/health', { auth: 'none' });
    healthMs.push(performance.now() - t0);
  }
  return { scrapeMs: median(scrapeMs), healthMs: median(healthMs) };
}
