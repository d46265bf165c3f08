import { resolve } from 'node:path';
import { Command, Option } from 'commander';
import { loadConfig } from '../lib/config.ts';
import { benchAdvisor } from './advisor.ts';
import { benchDrivers } from './drivers/bench-drivers.ts';
import { benchFidelity } from './fidelity/bench-fidelity.ts';
import { COUNTS } from './fidelity/options.ts';
import { benchIngest } from './ingest.ts';
import { benchUp } from './up.ts';
import { benchLive } from './live.ts';
import { benchScale } from './scale.ts';

/** A whole-number option within bounds, or an error naming the option. */
function wholeNumber(option: string, text: string, min: number, max?: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || (max !== undefined && value > max)) {
    throw new Error(
      `${option} must be a whole number ${max === undefined ? `of at least ${min}` : `from ${min} to ${max}`}`,
    );
  }
  return value;
}

/** `npm run bench -- <name>`: each benchmark measures its own baseline in the same run. */
const program = new Command('bench')
  .description('Berth benchmarks; each prints ratios against a baseline measured in the same run')
  .exitOverride();

/** A comma-separated list of storage backends, each one Berth knows. */
function backendList(text: string): ('chdb' | 'clickhouse')[] {
  const backends = text.split(',').map((name) => name.trim());
  for (const backend of backends) {
    if (backend !== 'chdb' && backend !== 'clickhouse') {
      throw new Error(`--backends: unknown backend "${backend}" (chdb, clickhouse)`);
    }
  }
  return backends as ('chdb' | 'clickhouse')[];
}

program
  .command('ingest')
  .description(
    'raw JetStream pull rate, raw ClickHouse insert rate and Berth end-to-end, per backend',
  )
  .option('--results <n>', 'result messages per measurement', '50000')
  .option('--batch-size <n>', 'results per batch, for ingest and the raw insert alike', '5000')
  .option('--backends <list>', 'comma-separated: chdb,clickhouse', 'chdb,clickhouse')
  .option('--rounds <n>', 'rounds, each measuring every step in a shuffled order', '3')
  .action(
    async (options: { results: string; batchSize: string; backends: string; rounds: string }) => {
      const backends = backendList(options.backends);
      const results = wholeNumber('--results', options.results, 1000);
      const batchSize = wholeNumber('--batch-size', options.batchSize, 1, 100_000);
      const rounds = wholeNumber('--rounds', options.rounds, 3, 100);
      await benchIngest({ results, batchSize, backends, rounds });
    },
  );

program
  .command('advisor')
  .description(
    'answer latency with many result rows loaded and many WebSocket clients asking varied questions, against the evidence query alone, per backend',
  )
  .option('--rows <n>', 'result rows loaded before asking', '1000000')
  .option('--hosts <n>', 'hosts the rows and inventories belong to', '50')
  .option('--clients <n>', 'WebSocket clients asking at once', '50')
  .option('--questions <n>', 'questions each client asks, one after another', '40')
  .option('--backends <list>', 'comma-separated: chdb,clickhouse', 'chdb,clickhouse')
  .option('--rounds <n>', 'rounds, each timing the evidence query and the questions', '3')
  .option(
    '--engine-threads <n>',
    "the advisor's engine threads (0: on its main thread); default: the advisor's own default",
  )
  .action(
    async (options: {
      rows: string;
      hosts: string;
      clients: string;
      questions: string;
      backends: string;
      rounds: string;
      engineThreads?: string;
    }) => {
      await benchAdvisor({
        rounds: wholeNumber('--rounds', options.rounds, 3, 100),
        rows: wholeNumber('--rows', options.rows, 1000),
        hosts: wholeNumber('--hosts', options.hosts, 1, 10_000),
        clients: wholeNumber('--clients', options.clients, 1, 1000),
        questionsPerClient: wholeNumber('--questions', options.questions, 1),
        backends: backendList(options.backends),
        engineThreads:
          options.engineThreads === undefined
            ? loadConfig(['engineThreads'], {}, {}).engineThreads
            : wholeNumber('--engine-threads', options.engineThreads, 0, 256),
      });
    },
  );

program
  .command('drivers')
  .description(
    "each platform's start-up through Berth's driver against the bare runtime by hand (launches interleaved), the agent's idle memory, and cpu-sha256's run-to-run spread on process",
  )
  .option('--launches <n>', 'start-up launches of each kind on process and container', '10')
  .option(
    '--vm-launches <n>',
    'start-up launches of each kind on vm and container-in-vm (seconds each under TCG)',
    '3',
  )
  .option(
    '--platforms <list>',
    'comma-separated platforms whose start-up is measured (default: every platform the agent knows)',
  )
  .option('--spread-runs <n>', 'runs of cpu-sha256 on process, each a new instance', '5')
  .option('--time-cap-ms <ms>', 'longest each cpu-sha256 run is sampled', '3000')
  .option(
    '--data-dir <path>',
    'folder for the runner bundle, the guest image and the instances; kept, with only what this run made removed (give .berth to reuse the image `berth agent image build` cached there). Default: a new temporary folder, removed at the end, so the guest image is built anew',
  )
  .action(
    async (options: {
      launches: string;
      vmLaunches: string;
      platforms?: string;
      spreadRuns: string;
      timeCapMs: string;
      dataDir?: string;
    }) => {
      await benchDrivers({
        launches: wholeNumber('--launches', options.launches, 1, 1000),
        vmLaunches: wholeNumber('--vm-launches', options.vmLaunches, 1, 100),
        platforms: (options.platforms ?? '')
          .split(',')
          .map((name) => name.trim())
          .filter((name) => name !== ''),
        spreadRuns: wholeNumber('--spread-runs', options.spreadRuns, 2, 100),
        timeCapMs: wholeNumber('--time-cap-ms', options.timeCapMs, 250, 600_000),
        dataDir: options.dataDir === undefined ? undefined : resolve(options.dataDir),
      });
    },
  );

program
  .command('fidelity')
  .description(
    "whether the measurement can be believed here: the process platform against itself (share of faster/slower verdicts, goal <= 5%), the canary at 25/50/75% CPU quota (how often its interval covers the quota, goal >= 90%), cpu-sha256's spread on process over suites (goal <= 2%), and a quick suite's wall time in rounds against a single pass. About 30 minutes",
  )
  .option(
    '--quick',
    'a smoke run in a few minutes: a shortened suite (250 ms time cap, 2 to 3 rounds) and the smallest counts; flags given still count',
  )
  .option(
    '--aa-comparisons <n>',
    `A/A comparisons of each workload, at least (default ${COUNTS.full.aaComparisons}, --quick ${COUNTS.quick.aaComparisons})`,
  )
  .option(
    '--aa-copies <n>',
    `copies of the process platform in each A/A run, each compared with the pair (default ${COUNTS.full.aaCopies}, --quick ${COUNTS.quick.aaCopies})`,
  )
  .option(
    '--canary-runs <n>',
    `canary runs at each quota (default ${COUNTS.full.canaryRuns}, --quick ${COUNTS.quick.canaryRuns})`,
  )
  .option(
    '--canary-rounds <n>',
    `rounds of each canary run (default ${COUNTS.full.canaryRounds}, --quick ${COUNTS.quick.canaryRounds})`,
  )
  .option(
    '--spread-suites <n>',
    `suites on process whose cpu-sha256 throughputs are spread (default ${COUNTS.full.spreadSuites}, --quick ${COUNTS.quick.spreadSuites})`,
  )
  .option(
    '--wall-pairs <n>',
    `most pairs of wall-time runs, a single pass then rounds (default ${COUNTS.full.wallPairs}, --quick ${COUNTS.quick.wallPairs})`,
  )
  .option(
    '--wall-platforms <list>',
    `comma-separated platforms of the wall-time runs (default ${COUNTS.full.wallPlatforms.join(',')}, --quick ${COUNTS.quick.wallPlatforms.join(',')})`,
  )
  .option(
    '--minutes <n>',
    `no wall-time pair after the first starts once it would end past this many minutes from the start (default ${COUNTS.full.minutes}, --quick ${COUNTS.quick.minutes})`,
  )
  .option(
    '--data-dir <path>',
    'folder for the runner bundle, the guest image and the instances; kept, with only what this run made removed (give .berth to reuse the image cached there). Default: a new temporary folder, removed at the end, so the guest image is built anew',
  )
  .action(
    async (options: {
      quick?: boolean;
      aaComparisons?: string;
      aaCopies?: string;
      canaryRuns?: string;
      canaryRounds?: string;
      spreadSuites?: string;
      wallPairs?: string;
      wallPlatforms?: string;
      minutes?: string;
      dataDir?: string;
    }) => {
      const quick = options.quick === true;
      const counts = quick ? COUNTS.quick : COUNTS.full;
      const count = (
        option: string,
        text: string | undefined,
        fallback: number,
        min: number,
        max: number,
      ): number => (text === undefined ? fallback : wholeNumber(option, text, min, max));
      await benchFidelity({
        quick,
        aaComparisons: count(
          '--aa-comparisons',
          options.aaComparisons,
          counts.aaComparisons,
          1,
          1000,
        ),
        aaCopies: count('--aa-copies', options.aaCopies, counts.aaCopies, 1, 50),
        canaryRuns: count('--canary-runs', options.canaryRuns, counts.canaryRuns, 1, 1000),
        canaryRounds: count('--canary-rounds', options.canaryRounds, counts.canaryRounds, 2, 100),
        spreadSuites: count('--spread-suites', options.spreadSuites, counts.spreadSuites, 2, 100),
        wallPairs: count('--wall-pairs', options.wallPairs, counts.wallPairs, 1, 100),
        wallPlatforms:
          options.wallPlatforms === undefined
            ? counts.wallPlatforms
            : options.wallPlatforms
                .split(',')
                .map((name) => name.trim())
                .filter((name) => name !== ''),
        minutes: count('--minutes', options.minutes, counts.minutes, 1, 1440),
        dataDir: options.dataDir === undefined ? undefined : resolve(options.dataDir),
      });
    },
  );

program
  .command('live')
  .description(
    'time from a result being published to it showing in an open dashboard page (measured in the browser), while results stream in',
  )
  .option('--rate <n>', 'other results published per second meanwhile', '100')
  .option('--seconds <n>', 'how long to stream and probe', '60')
  .option('--probe-every-ms <ms>', 'pause between probe results', '1000')
  .action(async (options: { rate: string; seconds: string; probeEveryMs: string }) => {
    await benchLive({
      rate: wholeNumber('--rate', options.rate, 0, 10_000),
      seconds: wholeNumber('--seconds', options.seconds, 5, 3600),
      probeEveryMs: wholeNumber('--probe-every-ms', options.probeEveryMs, 100, 60_000),
    });
  });

program
  .command('up')
  .description(
    'berth up: time to "dashboard ready" with the store installed, on one data folder kept between starts, and time to stop on SIGINT; against node -e 0 and berth --version, interleaved',
  )
  .option('--runs <n>', 'rounds (at least 3): node -e 0, berth --version, then a start', '5')
  .option('--no-agent', 'start berth up without its local agent')
  .option(
    '--data-dir <path>',
    'data folder, kept (default: a new temporary folder, removed at the end)',
  )
  .action(async (options: { runs: string; agent: boolean; dataDir?: string }) => {
    await benchUp({
      runs: wholeNumber('--runs', options.runs, 3, 100),
      agent: options.agent,
      dataDir: options.dataDir === undefined ? undefined : resolve(options.dataDir),
    });
  });

program
  .command('scale')
  .description(
    'on a NATS cluster (3 nodes, or 1 with --nats-nodes 1) with clickhouse-server: results/s stored by 1 berth ingest process against 2, and answers/s with 1 berth advisor against 2, in interleaved rounds',
  )
  .option('--results <n>', 'results published for each ingest measurement', '20000')
  .option('--rows <n>', 'result rows loaded for the advisors', '200000')
  .option('--hosts <n>', 'hosts the rows and inventories belong to', '20')
  .option('--clients <n>', 'WebSocket clients asking at once, spread over the advisors', '20')
  .option('--questions <n>', 'questions each client asks, one after another', '60')
  .option('--rounds <n>', 'rounds, each measuring 1 process and 2 in a shuffled order', '3')
  .option(
    '--cpu-per-process <share>',
    'hold each ingest worker and advisor to this share of one CPU (a cgroup CFS quota), e.g. 0.5',
  )
  .addOption(
    new Option('--nats-nodes <n>', 'nats-server nodes, each stream with as many replicas')
      .choices(['1', '3'])
      .default('3'),
  )
  .action(
    async (options: {
      results: string;
      rows: string;
      hosts: string;
      clients: string;
      questions: string;
      rounds: string;
      cpuPerProcess?: string;
      natsNodes: '1' | '3';
    }) => {
      const share = options.cpuPerProcess === undefined ? undefined : Number(options.cpuPerProcess);
      if (share !== undefined && !(share >= 0.01 && share <= 1)) {
        throw new Error(
          `--cpu-per-process must be a share of one CPU from 0.01 to 1, got "${options.cpuPerProcess ?? ''}"`,
        );
      }
      await benchScale({
        results: wholeNumber('--results', options.results, 1000),
        rows: wholeNumber('--rows', options.rows, 1000),
        hosts: wholeNumber('--hosts', options.hosts, 1, 10_000),
        clients: wholeNumber('--clients', options.clients, 2, 1000),
        questionsPerClient: wholeNumber('--questions', options.questions, 1),
        rounds: wholeNumber('--rounds', options.rounds, 3, 100),
        cpuPerProcess: share,
        natsNodes: options.natsNodes === '1' ? 1 : 3,
      });
    },
  );

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (!(error instanceof Error && 'exitCode' in error)) {
    process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n`);
  }
  process.exitCode = 1;
}
