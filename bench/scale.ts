import { availableParallelism, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/nats-core';
import type { AdviceQuestion } from '../contracts/advice.ts';
import { createCgroup, type Cgroup } from '../agents/host-agent/cgroups.ts';
import { sleep } from '../lib/backoff.ts';
import { seededShuffle } from '../lib/statistics.ts';
import { connectNats } from '../lib/nats/connect.ts';
import { startClickHouseServer, type ClickHouseServer } from '../support/clickhouse-server.ts';
import {
  ensureClusterStreams,
  startNatsCluster,
  type NatsCluster,
} from '../support/nats-cluster.ts';
import { openClickHouseStore } from '../lib/storage/clickhouse-store.ts';
import { migrate } from '../lib/storage/migrations.ts';
import { countStoredResults } from '../lib/storage/results.ts';
import { sql } from '../lib/storage/sql.ts';
import type { Store } from '../lib/storage/store.ts';
import { spawnBerth, startIngestWorker, type BerthProcess } from '../support/cli.ts';
import { makeResult, publishResults } from '../support/results.ts';
import { removeDir, tempDir } from '../support/servers.ts';
import {
  askFromWorker,
  hostIds,
  loadRows,
  publishInventories,
  quantile,
  question,
  seeded,
} from './advisor.ts';
import { median, medianRange } from './rounds.ts';

export interface ScaleBenchOptions {
  /** Results published (and stored) for each ingest measurement. */
  readonly results: number;
  /** Result rows loaded for the advisors to answer from. */
  readonly rows: number;
  readonly hosts: number;
  /** WebSocket clients asking at once, spread over the advisors. */
  readonly clients: number;
  readonly questionsPerClient: number;
  /** Rounds, each measuring 1 process and 2 in a shuffled order. */
  readonly rounds: number;
  /** Share of one CPU each ingest worker and advisor gets (a cgroup CFS quota); none if undefined. */
  readonly cpuPerProcess: number | undefined;
}

/** The scale-out target: 2 processes, each capped, do at least this much more than 1. */
const SCALE_TARGET = 1.8;

const METRICS_PER_RESULT = 2;

function say(line = ''): void {
  process.stderr.write(`${line}\n`);
}

interface Fleet {
  readonly dir: string;
  readonly cluster: NatsCluster;
  readonly clickhouse: ClickHouseServer;
  readonly nc: NatsConnection;
  /** Places a Berth process it starts under its CPU cap (or leaves it as it is). */
  readonly cap: (child: BerthProcess, name: string) => Promise<void>;
}

/**
 * Caps the processes the bench starts: each gets a cgroup of its own holding it to `share` of
 * one CPU (v1 cpu.cfs_quota_us here, cpu.max on v2), entered right after the spawn, before the
 * process starts its work; remove() removes the cgroups once the processes have exited.
 */
function cpuCaps(share: number | undefined): {
  cap: (child: BerthProcess, name: string) => Promise<void>;
  remove: () => Promise<void>;
} {
  const cgroups: Cgroup[] = [];
  return {
    cap: async (child, name) => {
      if (share === undefined) return;
      const cgroup = await createCgroup(`bench-scale-${name}-${process.pid}`, undefined, {
        cpuQuota: share,
      });
      cgroups.push(cgroup);
      const { pid } = child.child;
      if (pid === undefined) throw new Error(`${name} did not start, so it cannot be capped`);
      cgroup.join(pid);
    },
    remove: async () => {
      for (const cgroup of cgroups.splice(0)) await cgroup.remove();
    },
  };
}

/** Stops Berth processes with SIGTERM and waits for them. */
async function stopAll(processes: readonly BerthProcess[]): Promise<void> {
  for (const child of processes) if (child.child.exitCode === null) child.child.kill('SIGTERM');
  await Promise.all(processes.map((child) => child.exited()));
}

interface IngestRate {
  /** Results stored per second, from the first stored row to the last. */
  readonly perSecond: number;
  /** Results JetStream took per second while they were published. */
  readonly publishedPerSecond: number;
  readonly drainMs: number;
}

/**
 * `count` results published straight to JetStream with no worker running, then `workers`
 * ingest processes started at once on a database of their own, timed from the first stored
 * row to the last, so the workers' start-up does not count. The workers share the durable
 * consumer, which by then has acknowledged everything an earlier measurement published, so
 * each measurement stores only its own results.
 */
async function ingestRate(
  fleet: Fleet,
  workers: number,
  count: number,
  round: number,
): Promise<IngestRate> {
  const database = `bench_scale_ingest_${workers}_${round}`;
  const store = await openClickHouseStore({ url: fleet.clickhouse.url, database });
  await migrate(store);
  const processes: BerthProcess[] = [];
  try {
    const results = Array.from({ length: count }, (_, index) =>
      makeResult(index, `bench-workers-${workers}-round-${round}`, METRICS_PER_RESULT),
    );
    const rows = count * METRICS_PER_RESULT;
    const storedRows = async (): Promise<number> => {
      const [row] = await store.query<{ rows: string | number }>(
        sql`SELECT count() AS rows FROM results`,
      );
      return Number(row?.rows ?? 0);
    };
    const publishStart = performance.now();
    await publishResults(fleet.nc, results);
    const publishMs = performance.now() - publishStart;
    const started = Array.from({ length: workers }, (_, index) =>
      startIngestWorker({
        natsUrl: fleet.cluster.url,
        clickhouseUrl: fleet.clickhouse.url,
        database,
        dataDir: join(fleet.dir, `ingest-${workers}-${round}-${index}`),
        ackWaitMs: 30_000,
        onSpawned: (worker) => fleet.cap(worker, `ingest-${workers}-${round}-${index}`),
      }).then(
        ({ worker }) => {
          processes.push(worker);
        },
        (error: unknown) => {
          failure = error instanceof Error ? error : new Error(String(error));
        },
      ),
    );
    let failure: Error | undefined;
    /** Rows stored so far; throws when a worker failed to start. */
    const stored = async (): Promise<number> => {
      if (failure !== undefined) throw failure;
      return storedRows();
    };
    let firstRows = await stored();
    while (firstRows === 0) {
      await sleep(10);
      firstRows = await stored();
    }
    const first = performance.now();
    while ((await stored()) < rows) await sleep(10);
    const drainMs = performance.now() - first;
    await Promise.all(started);
    const counts = await countStoredResults(store);
    if (counts.results !== count || counts.duplicateRows !== 0) {
      throw new Error(`${workers} worker(s) stored ${counts.results} of ${count} results`);
    }
    return {
      perSecond: ((rows - firstRows) / METRICS_PER_RESULT / drainMs) * 1000,
      publishedPerSecond: (count / publishMs) * 1000,
      drainMs,
    };
  } finally {
    await stopAll(processes);
    await store.close();
  }
}

/** A `berth advisor` process on the database, once it says it is ready and knows the hosts. */
async function startAdvisor(
  fleet: Fleet,
  database: string,
  hosts: readonly string[],
  name: string,
): Promise<{ process: BerthProcess; url: string }> {
  const advisor = spawnBerth(['advisor'], {
    NATS_URL: fleet.cluster.url,
    CLICKHOUSE_URL: fleet.clickhouse.url,
    CLICKHOUSE_DATABASE: database,
    BERTH_ADVISOR_PORT: '0',
  });
  await fleet.cap(advisor, name);
  const line = await advisor.waitForLine(/advisor ready at/, 120_000);
  const url = /ready at (\S+)/.exec(line)?.[1] ?? '';
  // A question may name hosts: ask only once the advisor has read every inventory.
  for (;;) {
    const response = await fetch(`${url}/v1/hosts`);
    const known = ((await response.json()) as { hosts: { hostId: string }[] }).hosts;
    if (hosts.every((hostId) => known.some((host) => host.hostId === hostId))) break;
    await sleep(200);
  }
  return { process: advisor, url };
}

/** Every client's questions asked, the clients spread evenly over the advisors. */
async function latencies(
  urls: readonly string[],
  questions: readonly (readonly AdviceQuestion[])[],
): Promise<{ p50: number; p99: number; perSecond: number }> {
  const started = performance.now();
  const asked = await Promise.all(
    urls.map((url, index) =>
      askFromWorker(
        `${url.replace(/^http/, 'ws')}/v1/ws`,
        questions.filter((_, client) => client % urls.length === index),
      ),
    ),
  );
  const seconds = (performance.now() - started) / 1000;
  const all = asked.flatMap((result) => result.latencies).sort((a, b) => a - b);
  return { p50: quantile(all, 0.5), p99: quantile(all, 0.99), perSecond: all.length / seconds };
}

/**
 * `npm run bench -- scale`: on a 3-node NATS cluster (streams with 3 replicas) and
 * clickhouse-server, results/s stored by 1 `berth ingest` process against 2, and advice
 * answers/s and latency over WebSocket with 1 `berth advisor` process against 2, in rounds
 * that measure 1 and 2 in a shuffled order; with `cpuPerProcess` every ingest worker and
 * advisor is capped to that share of one CPU, so two of them are not two processes racing
 * for the same two cores.
 */
export async function benchScale(options: ScaleBenchOptions): Promise<void> {
  const model = cpus()[0]?.model ?? 'unknown CPU';
  const capText =
    options.cpuPerProcess === undefined
      ? 'no CPU cap'
      : `each ingest worker and advisor capped to ${options.cpuPerProcess} of a CPU (a cgroup CFS quota)`;
  process.stdout.write(
    `scale benchmark: ${availableParallelism()} cores (${model}), load average ${loadavg()[0]?.toFixed(1) ?? '?'} at start, node ${process.version}; 3 nats-server nodes, streams with 3 replicas, clickhouse-server; ${capText}; ${options.rounds} rounds\n`,
  );
  const dir = await tempDir('bench-scale');
  const caps = cpuCaps(options.cpuPerProcess);
  let cluster: NatsCluster | undefined;
  let clickhouse: ClickHouseServer | undefined;
  let nc: NatsConnection | undefined;
  let store: Store | undefined;
  const advisors: BerthProcess[] = [];
  try {
    cluster = await startNatsCluster({ dataDir: join(dir, 'nats') });
    clickhouse = await startClickHouseServer({ dataDir: join(dir, 'clickhouse') });
    nc = await connectNats({ url: cluster.url, name: 'bench-scale' });
    const fleet: Fleet = { dir, cluster, clickhouse, nc, cap: caps.cap };
    await ensureClusterStreams(nc, { replicas: 3 });

    const ingest = new Map<number, IngestRate[]>([
      [1, []],
      [2, []],
    ]);
    for (let round = 1; round <= options.rounds; round += 1) {
      for (const workers of seededShuffle([1, 2], `ingest-${round}`)) {
        say(
          `ingest round ${round}/${options.rounds}: ${options.results} results through ${workers} worker(s) …`,
        );
        ingest.get(workers)?.push(await ingestRate(fleet, workers, options.results, round));
      }
    }

    const database = 'bench_scale_advice';
    store = await openClickHouseStore({ url: clickhouse.url, database });
    await migrate(store);
    say(`advisor: loading about ${options.rows.toLocaleString('en')} result rows …`);
    await loadRows(store, { rows: options.rows, hosts: options.hosts });
    const hosts = hostIds(options.hosts);
    await publishInventories(nc, hosts);
    const random = seeded(42);
    const questions = Array.from({ length: options.clients }, () =>
      Array.from({ length: options.questionsPerClient }, () => question(random, hosts)),
    );
    const first = await startAdvisor(fleet, database, hosts, 'advisor-1');
    advisors.push(first.process);
    const second = await startAdvisor(fleet, database, hosts, 'advisor-2');
    advisors.push(second.process);
    const advice = new Map<number, Awaited<ReturnType<typeof latencies>>[]>([
      [1, []],
      [2, []],
    ]);
    for (let round = 1; round <= options.rounds; round += 1) {
      for (const count of seededShuffle([1, 2], `advice-${round}`)) {
        say(
          `advisor round ${round}/${options.rounds}: ${options.clients} WebSocket clients on ${count} advisor(s) …`,
        );
        const urls = count === 1 ? [first.url] : [first.url, second.url];
        advice.get(count)?.push(await latencies(urls, questions));
      }
    }

    const one = ingest.get(1) ?? [];
    const two = ingest.get(2) ?? [];
    const alone = advice.get(1) ?? [];
    const pair = advice.get(2) ?? [];
    const ingestRatios = two.map(
      (measured, index) => measured.perSecond / (one[index]?.perSecond ?? Number.NaN),
    );
    const adviceRatios = pair.map(
      (measured, index) => measured.perSecond / (alone[index]?.perSecond ?? Number.NaN),
    );
    const judged = (ratios: readonly number[]): string =>
      options.cpuPerProcess === undefined
        ? ''
        : `; target >= ${SCALE_TARGET}: ${median(ratios) >= SCALE_TARGET ? 'met' : 'missed'}`;
    const rates = (measured: readonly IngestRate[]): string =>
      `${medianRange(
        measured.map((each) => each.perSecond),
        0,
      )} results/s stored (JetStream took them at ${medianRange(
        measured.map((each) => each.publishedPerSecond),
        0,
      )}/s)`;
    const answers = (
      measured: readonly { p50: number; p99: number; perSecond: number }[],
    ): string =>
      `${medianRange(
        measured.map((each) => each.perSecond),
        0,
      )} answers/s, p50 ${medianRange(
        measured.map((each) => each.p50),
        1,
      )} ms, p99 ${medianRange(
        measured.map((each) => each.p99),
        1,
      )} ms`;
    process.stdout.write(
      [
        `ingest, ${options.results} results of ${METRICS_PER_RESULT} metrics published straight to JetStream, then the workers started (median [range] over ${options.rounds} rounds):`,
        `  1 worker   ${rates(one)}`,
        `  2 workers  ${rates(two)}`,
        `  2 workers / 1 worker, paired by round: ${medianRange(ingestRatios, 2)}${judged(ingestRatios)}`,
        `advice over WebSocket, ${options.clients} clients × ${options.questionsPerClient} varied questions, ${options.rows.toLocaleString('en')} rows, ${options.hosts} hosts (median [range] over ${options.rounds} rounds):`,
        `  1 advisor   ${answers(alone)}`,
        `  2 advisors  ${answers(pair)}`,
        `  answers/s 2 advisors / 1 advisor, paired by round: ${medianRange(adviceRatios, 2)}${judged(adviceRatios)}`,
        '',
      ].join('\n'),
    );
  } finally {
    await stopAll(advisors);
    await caps.remove();
    await store?.close();
    await nc?.close();
    await cluster?.stop();
    await clickhouse?.stop();
    await removeDir(dir);
  }
}
