/**
 * `npm run bench -- [NAME...]`: run the named benchmarks, or every registered one. Each
 * benchmark prints its figures beside an anchor measured in the same run.
 */

type Benchmark = () => Promise<void>;

// One line per benchmark; modules load only when their benchmark runs.
const BENCHMARKS: Record<string, Benchmark> = {
  appliance: async () => (await import('./appliance.js')).runApplianceBenchmark(),
  update: async () => (await import('./update.js')).runUpdateBenchmark(),
  sync: async () => (await import('./sync.js')).runSyncBenchmark(),
  relay: async () => (await import('./relay.js')).runRelayBenchmark(),
  upgrade: async () => (await import('./upgrade.js')).runUpgradeBenchmark(),
  resume: async () => (await import('./resume.js')).runResumeBenchmark(),
  'sign-in': async () => (await import('./sign-in.js')).runSignInBenchmark(),
  network: async () => (await import('./network.js')).runNetworkBenchmark(),
};

const USAGE = `Usage: npm run bench -- [NAME...]
       node dist/bench/main.js [NAME...]

Runs the named benchmarks in order; with no NAME, runs all of them.
Known benchmarks: ${Object.keys(BENCHMARKS).join(', ')}`;

async function main(args: string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    console.log(USAGE);
    return 0;
  }
  const unknown = args.filter((a) => !Object.hasOwn(BENCHMARKS, a));
  if (unknown.length > 0) {
    console.error(`Unknown benchmark: ${unknown.join(', ')}`);
    console.error(`Known benchmarks: ${Object.keys(BENCHMARKS).join(', ')}`);
    return 2;
  }
  const names = args.length > 0 ? args : Object.keys(BENCHMARKS);
  for (const name of names) {
    const run = BENCHMARKS[name];
    if (run) await run();
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
    process.exitCode = 1;
  },
);
