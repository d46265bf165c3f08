import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { BERTH_BIN } from '../support/cli.ts';
import { processesMatching } from '../support/leftovers.ts';
import { medianRange } from './rounds.ts';

export interface UpBenchOptions {
  /** Starts of `berth up`, one after another on the same data folder. */
  readonly runs: number;
  /** Whether `berth up` starts its local agent (it starts after "dashboard ready"). */
  readonly agent: boolean;
  /** Kept between runs, as `.berth` is; a temporary folder, removed at the end, when undefined. */
  readonly dataDir: string | undefined;
}

/** The lines `berth up` prints as each part comes up, in order. */
const STAGES = [
  ['store', /^store: /],
  ['nats-server', /^NATS: /],
  ['ingest', /^ingest: /],
  ['advisor', /^dashboard ready: /],
] as const;

interface Start {
  /** ms from spawn to each stage's line; `advisor` is "dashboard ready". */
  readonly stages: Readonly<Record<(typeof STAGES)[number][0], number>>;
  /** ms from SIGINT to the exit. */
  readonly stopMs: number;
}

const percentile = (values: readonly number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;
};

/** `node <args>` from spawn to exit, ms. */
async function timeNode(args: readonly string[]): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, args, { stdio: 'ignore' });
  await once(child, 'exit');
  return performance.now() - started;
}

/** One `berth up`: spawn to "dashboard ready", then SIGINT to the exit, which must be clean. */
async function timeUp(dataDir: string, agent: boolean): Promise<Start> {
  const args = ['up', '--data-dir', dataDir, '--port', '0', '--metrics-port', '0'];
  const started = performance.now();
  const child = spawn(
    process.execPath,
    [BERTH_BIN, ...args, ...(agent ? ['--agent-suite', 'none'] : ['--no-agent'])],
    {
      env: { ...process.env, NATS_URL: '', CLICKHOUSE_URL: '', BERTH_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const stages: Partial<Record<(typeof STAGES)[number][0], number>> = {};
  const ready = new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      const stage = STAGES.find(([, pattern]) => pattern.test(line))?.[0];
      if (stage === undefined) return;
      stages[stage] = performance.now() - started;
      if (stage === 'advisor') resolve();
    });
    void exited.then(([code]) => {
      reject(new Error(`berth up exited (code ${code}) before "dashboard ready":\n${stderr}`));
    });
  });
  await ready;
  const stopping = performance.now();
  child.kill('SIGINT');
  const [code, signal] = await exited;
  const stopMs = performance.now() - stopping;
  if (code !== 0) throw new Error(`berth up did not stop cleanly (${signal ?? code}):\n${stderr}`);
  const left = processesMatching(dataDir);
  if (left.length > 0) throw new Error(`berth up left processes behind: ${left.join(', ')}`);
  return { stages: stages as Start['stages'], stopMs };
}

const ms = (value: number): string => `${Math.round(value)} ms`;

/** `p50 X [min–max] ms` of the values. */
const spread = (values: readonly number[]): string => `p50 ${medianRange(values)} ms`;

/**
 * `npm run bench -- up`: how long `berth up` takes to print "dashboard ready" with the store
 * installed, on the same data folder each time (the first start makes it, the others find
 * the data of the one before), and how long each stops on SIGINT. The baselines, timed in
 * every round between the starts: `node -e 0` (node alone) and `berth --version` (the
 * compiled command line loaded, and the check that the build is current).
 */
export async function benchUp(options: UpBenchOptions): Promise<void> {
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'berth-bench-up-')));
  process.stdout.write(
    [
      `berth up: ${options.runs} starts on ${dataDir}${options.dataDir === undefined ? ' (new, removed at the end)' : ''}`,
      `settings: --port 0 --metrics-port 0 ${options.agent ? '--agent-suite none (the local agent starts after "dashboard ready")' : '--no-agent'}, embedded chDB, nats-server started by berth, BERTH_LOG_LEVEL=warn`,
      `machine: ${availableParallelism()} cores, load average ${loadavg()
        .map((value) => value.toFixed(1))
        .join(' ')}`,
      '',
    ].join('\n'),
  );
  try {
    const starts: Start[] = [];
    const bareNode: number[] = [];
    const version: number[] = [];
    for (let run = 1; run <= options.runs; run += 1) {
      bareNode.push(await timeNode(['-e', '0']));
      version.push(await timeNode([BERTH_BIN, '--version']));
      const start = await timeUp(dataDir, options.agent);
      starts.push(start);
      const { stages } = start;
      process.stdout.write(
        `run ${run}: dashboard ready ${ms(stages.advisor)} (store ${ms(stages.store)}, nats-server ${ms(stages['nats-server'])}, ingest ${ms(stages.ingest)}); stopped in ${ms(start.stopMs)}\n`,
      );
    }
    const ready = starts.map((start) => start.stages.advisor);
    const later = ready.slice(1);
    const stops = starts.map((start) => start.stopMs);
    const base = percentile(bareNode, 0.5);
    const readyP50 = percentile(later.length === 0 ? ready : later, 0.5);
    process.stdout.write(
      [
        '',
        `time to "dashboard ready": p50 ${ms(percentile(ready, 0.5))}, max ${ms(Math.max(...ready))} over ${ready.length} starts`,
        ...(later.length === 0
          ? []
          : [
              `  restarts on kept data: p50 ${ms(percentile(later, 0.5))}, max ${ms(Math.max(...later))}; first start (empty folder): ${ms(ready[0] ?? NaN)}`,
            ]),
        `SIGINT to exit: p50 ${ms(percentile(stops, 0.5))}, max ${ms(Math.max(...stops))}`,
        `node -e 0: ${spread(bareNode)}; berth --version: ${spread(version)}, ${(percentile(version, 0.5) / base).toFixed(2)}x node -e 0 (target <= 3x)`,
        `"dashboard ready" on a warm data folder: p50 ${ms(readyP50)} (target <= 1000 ms), ${(readyP50 / base).toFixed(1)}x node -e 0`,
        '',
      ].join('\n'),
    );
  } finally {
    if (options.dataDir === undefined) await rm(dataDir, { recursive: true, force: true });
  }
}
