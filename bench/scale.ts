import { availableParallelism, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/nats-core';
import type { AdviceQuestion } from '../contracts/advice.ts';
import { sleep } from '../lib/backoff.ts';
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

export interface ScaleBenchOptions {
  /** Results published (and stored) for each ingest measurement. */
  readonly results: number;
  /** Result rows loaded for the advisors to answer from. */
  readonly rows: number;
  readonly hosts: number;
  /** WebSocket clients asking at once, spread over the advisors. */
  readonly clients: number;
  readonly questionsPerClient: number;
}

const METRICS_PER_RESULT = 2;

function say(line = ''): void {
  process.stderr.write(`${line}\n`);
}

const ms = (value: number): string => `${value.toFixed(1)} ms`;

interface Fleet {
  readonly dir: string;
  readonly cluster: NatsCluster;
  readonly clickhouse: ClickHouseServer;
  readonly nc: NatsConnection;
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
async function ingestRate(fleet: Fleet, workers: number, count: number): Promise<IngestRate> {
  const database = `bench_scale_ingest_${workers}`;
  const store = await openClickHouseStore({ url: fleet.clickhouse.url, database });
  await migrate(store);
  const processes: BerthProcess[] = [];
  try {
    const results = Array.from({ length: count }, (_, index) =>
      makeResult(index, `bench-workers-${workers}`, METRICS_PER_RESULT),
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
        dataDir: join(fleet.dir, `ingest-${workers}-${index}`),
        ackWaitMs: 30_000,
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
): Promise<{ process: BerthProcess; url: string }> {
  const advisor = spawnBerth(['advisor'], {
    NATS_URL: fleet.cluster.url,
    CLICKHOUSE_URL: fleet.clickhouse.url,
    CLICKHOUSE_DATABASE: database,
    BERTH_ADVISOR_PORT: '0',
  });
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
 * latency over WebSocket with 1 `berth advisor` process against 2, all in one run.
 */
export async function benchScale(options: ScaleBenchOptions): Promise<void> {
  const model = cpus()[0]?.model ?? 'unknown CPU';
  process.stdout.write(
    `scale benchmark: ${availableParallelism()} cores (${model}), load average ${loadavg()[0]?.toFixed(1) ?? '?'} at start, node ${process.version}; 3 nats-server nodes, streams with 3 replicas, clickhouse-server\n`,
  );
  const dir = await tempDir('bench-scale');
  let cluster: NatsCluster | undefined;
  let clickhouse: ClickHouseServer | undefined;
  let nc: NatsConnection | undefined;
  let store: Store | undefined;
  const advisors: BerthProcess[] = [];
  try {
    cluster = await startNatsCluster({ dataDir: join(dir, 'nats') });
    clickhouse = await startClickHouseServer({ dataDir: join(dir, 'clickhouse') });
    nc = await connectNats({ url: cluster.url, name: 'bench-scale' });
    const fleet: Fleet = { dir, cluster, clickhouse, nc };
    await ensureClusterStreams(nc, { replicas: 3 });

    say(`ingest: ${options.results} results through 1 worker …`);
    const one = await ingestRate(fleet, 1, options.results);
    say(`ingest: ${options.results} results through 2 workers …`);
    const two = await ingestRate(fleet, 2, options.results);

    const database = 'bench_scale_advice';
    store = await openClickHouseStore({ url: clickhouse.url, database });
    await migrate(store);
    say(`advisor: loading about ${options.rows.toLocaleString('en')} result rows …`);
    await loadRows(store, {
      rows: options.rows,
      hosts: options.hosts,
      clients: options.clients,
      questionsPerClient: options.questionsPerClient,
      backends: ['clickhouse'],
    });
    const hosts = hostIds(options.hosts);
    await publishInventories(nc, hosts);
    const random = seeded(42);
    const questions = Array.from({ length: options.clients }, () =>
      Array.from({ length: options.questionsPerClient }, () => question(random, hosts)),
    );
    const first = await startAdvisor(fleet, database, hosts);
    advisors.push(first.process);
    say(`advisor: ${options.clients} WebSocket clients on 1 advisor …`);
    const alone = await latencies([first.url], questions);
    const second = await startAdvisor(fleet, database, hosts);
    advisors.push(second.process);
    say(`advisor: ${options.clients} WebSocket clients spread over 2 advisors …`);
    const pair = await latencies([first.url, second.url], questions);

    const rate = (measured: IngestRate): string =>
      `${Math.round(measured.perSecond)} results/s stored (first to last row ${ms(measured.drainMs)}; JetStream took them at ${Math.round(measured.publishedPerSecond)}/s)`;
    process.stdout.write(
      [
        `ingest, ${options.results} results of ${METRICS_PER_RESULT} metrics published straight to JetStream, then the workers started:`,
        `  1 worker   ${rate(one)}`,
        `  2 workers  ${rate(two)}`,
        `  ratio 2 workers / 1 worker: ${(two.perSecond / one.perSecond).toFixed(2)}`,
        `advice over WebSocket, ${options.clients} clients × ${options.questionsPerClient} varied questions, ${options.rows.toLocaleString('en')} rows, ${options.hosts} hosts:`,
        `  1 advisor   p50 ${ms(alone.p50)}, p99 ${ms(alone.p99)}, ${alone.perSecond.toFixed(0)} answers/s`,
        `  2 advisors  p50 ${ms(pair.p50)}, p99 ${ms(pair.p99)}, ${pair.perSecond.toFixed(0)} answers/s`,
        `  p99 ratio 2 advisors / 1 advisor: ${(pair.p99 / alone.p99).toFixed(2)}`,
        '',
      ].join('\n'),
    );
  } finally {
    await stopAll(advisors);
    await store?.close();
    await nc?.close();
    await cluster?.stop();
    await clickhouse?.stop();
    await removeDir(dir);
  }
}
