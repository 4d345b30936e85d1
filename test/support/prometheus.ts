import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll } from 'vitest';
import { stringify } from 'yaml';
import { freePort } from '../../src/shared/ports.js';
import { until } from '../../src/shared/until.js';
import { tempDir } from './appliance.js';

export interface ScrapeTarget {
  job: string;
  /** host:port of the appliance's TLS listener. */
  address: string;
  /** The appliance's certificate (PEM): Prometheus trusts it as the CA of that one target. */
  certPem: string;
  token: string;
}

export interface Prometheus {
  url: string;
  /** An instant PromQL query: each series' labels and value. */
  query(promql: string): Promise<{ metric: Record<string, string>; value: number }[]>;
  /** The value of a query that yields one series, or undefined while it yields none. */
  scalar(promql: string): Promise<number | undefined>;
}

const stops: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const stop of stops.splice(0)) await stop();
});

/**
 * A real Prometheus (Debian's) on a free loopback port, with a generated configuration that
 * scrapes each target every second over TLS with its bearer token. Stopped after the file.
 */
export async function startPrometheus(targets: ScrapeTarget[]): Promise<Prometheus> {
  const dir = tempDir('gh-prometheus-');
  const config = {
    global: { scrape_interval: '1s', scrape_timeout: '900ms', evaluation_interval: '1s' },
    scrape_configs: targets.map((t) => {
      writeFileSync(path.join(dir, `${t.job}.pem`), t.certPem);
      writeFileSync(path.join(dir, `${t.job}.token`), t.token, { mode: 0o600 });
      return {
        job_name: t.job,
        scheme: 'https',
        metrics_path: '/metrics',
        authorization: { type: 'Bearer', credentials_file: path.join(dir, `${t.job}.token`) },
        tls_config: { ca_file: path.join(dir, `${t.job}.pem`) },
        static_configs: [{ targets: [t.address] }],
      };
    }),
  };
  writeFileSync(path.join(dir, 'prometheus.yml'), stringify(config));
  const port = await freePort('127.0.0.1');
  const child = spawn(
    'prometheus',
    [
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const log: string[] = [];
  child.stderr!.on('data', (d: Buffer) => log.push(d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  stops.push(async () => {
    child.kill('SIGTERM');
    await exited;
  });
  const url = `http://127.0.0.1:${port}`;
  await until(
    async () => (await fetch(`${url}/-/ready`)).ok,
    30_000,
    `Prometheus to be ready (${log.join('').slice(-500)})`,
    100,
  );
  const query: Prometheus['query'] = async (promql) => {
    const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await res.json()) as {
      status: string;
      error?: string;
      data: { result: { metric: Record<string, string>; value: [number, string] }[] };
    };
    if (body.status !== 'success') throw new Error(`PromQL ${promql}: ${body.error}`);
    return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
  };
  return {
    url,
    query,
    async scalar(promql) {
      const result = await query(promql);
      if (result.length > 1) throw new Error(`PromQL ${promql}: ${result.length} series`);
      return result[0]?.value;
    },
  };
}
