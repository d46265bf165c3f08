import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import { STORED_SUBJECT, storedNoticeCodec } from '../contracts/index.ts';
import type { AdviceQuestion } from '../contracts/advice.ts';
import { createCgroup, type Cgroup } from '../agents/host-agent/cgroups.ts';
import { parseCpuTimes, type CpuTimes } from '../agents/host-agent/host-state.ts';
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
import type { Store } from '../lib/storage/store.ts';
import { spawnBerth, startIngestWorker, type BerthProcess } from '../support/cli.ts';
import { makeResult, publishResults } from '../support/results.ts';
import { removeDir, tempDir } from '../support/servers.ts';
import type { AskedResult } from './advisor-clients.ts';
import {
  askFromWorker,
  hostIds,
  loadRows,
  publishInventories,
  quantile,
  question,
  seeded,
} from './advisor.ts';
import { cpuMsOf } from './cpu.ts';
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
  /** nats-server nodes, each stream with as many replicas: 3 (a cluster) or 1. */
  readonly natsNodes: 1 | 3;
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
  /** The cgroup holding a Berth process it starts to its CPU cap (none: uncapped). */
  readonly cgroupFor: (name: string) => Promise<Cgroup | undefined>;
}

/**
 * Caps the processes the bench starts: each gets a cgroup of its own holding it to `share` of
 * one CPU (v1 cpu.cfs_quota_us here, cpu.max on v2), which it runs in from its start, so the
 * threads it sizes to its CPUs are those of the cap; remove() removes the cgroups once the
 * processes have exited.
 */
function cpuCaps(share: number | undefined): {
  cgroupFor: (name: string) => Promise<Cgroup | undefined>;
  remove: () => Promise<void>;
} {
  const cgroups: Cgroup[] = [];
  return {
    cgroupFor: async (name) => {
      if (share === undefined) return undefined;
      const cgroup = await createCgroup(`bench-scale-${name}-${process.pid}`, undefined, {
        cpuQuota: share,
      });
      cgroups.push(cgroup);
      return cgroup;
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
  /** Share of the machine's CPU time busy while the workers drained the stream. */
  readonly busy: number;
}

/** The machine's CPU times now (/proc/stat's aggregate line). */
const cpuTimesNow = (): CpuTimes => parseCpuTimes(readFileSync('/proc/stat', 'utf8'));

/** Share of the CPU time from `since` to `until` spent running processes. */
const busyShare = (since: CpuTimes, until: CpuTimes): number =>
  (until.busy - since.busy) / Math.max(1, until.total - since.total);

/** How often the drain is checked in the store too, in case a stored notice went missing. */
const STORE_CHECK_MS = 1_000;

/**
 * `count` results published straight to JetStream with no worker running, then `workers`
 * ingest processes started at once on a database of their own, timed from the first batch
 * stored to the last, so the workers' start-up does not count. The workers' own notices of
 * what they stored time it (a count in the store every second covers a lost notice), so the
 * measurement adds no queries of its own to the cores it measures. The workers share the
 * durable consumer, which by then has acknowledged everything an earlier measurement
 * published, so each measurement stores only its own results.
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
  let notices: Subscription | undefined;
  try {
    const results = Array.from({ length: count }, (_, index) =>
      makeResult(index, `bench-workers-${workers}-round-${round}`, METRICS_PER_RESULT),
    );
    const storedResults = async (): Promise<number> => (await countStoredResults(store)).results;
    let first: { at: number; results: number; cpu: CpuTimes } | undefined;
    let last = 0;
    let noticed = 0;
    notices = fleet.nc.subscribe(STORED_SUBJECT, {
      callback: (error, message) => {
        if (error !== null) return;
        const decoded = storedNoticeCodec.decode(message.data, 1 << 20);
        if (!decoded.ok) return;
        last = performance.now();
        first ??= { at: last, results: decoded.value.results, cpu: cpuTimesNow() };
        noticed += decoded.value.results;
      },
    });
    await fleet.nc.flush();
    const publishStart = performance.now();
    await publishResults(fleet.nc, results);
    const publishMs = performance.now() - publishStart;
    const cgroups = await Promise.all(
      Array.from({ length: workers }, (_, index) =>
        fleet.cgroupFor(`ingest-${workers}-${round}-${index}`),
      ),
    );
    let failure: Error | undefined;
    const started = cgroups.map((cgroup, index) =>
      startIngestWorker({
        natsUrl: fleet.cluster.url,
        clickhouseUrl: fleet.clickhouse.url,
        database,
        dataDir: join(fleet.dir, `ingest-${workers}-${round}-${index}`),
        ackWaitMs: 30_000,
        ...(cgroup === undefined ? {} : { cgroup }),
      }).then(
        ({ worker }) => {
          processes.push(worker);
        },
        (error: unknown) => {
          failure = error instanceof Error ? error : new Error(String(error));
        },
      ),
    );
    let checkedAt = performance.now();
    let drained: CpuTimes;
    for (;;) {
      if (failure !== undefined) throw failure;
      if (noticed >= count) {
        drained = cpuTimesNow();
        break;
      }
      if (performance.now() - checkedAt >= STORE_CHECK_MS) {
        checkedAt = performance.now();
        if ((await storedResults()) >= count) {
          // A notice went missing: the drain ended by now at the latest.
          last = performance.now();
          drained = cpuTimesNow();
          break;
        }
      }
      await sleep(5);
    }
    await Promise.all(started);
    const counts = await countStoredResults(store);
    if (counts.results !== count || counts.duplicateRows !== 0) {
      throw new Error(`${workers} worker(s) stored ${counts.results} of ${count} results`);
    }
    if (first === undefined || last <= first.at) {
      throw new Error(`${workers} worker(s) sent too few stored notices to time the drain`);
    }
    const drainMs = last - first.at;
    return {
      perSecond: ((count - first.results) / drainMs) * 1000,
      publishedPerSecond: (count / publishMs) * 1000,
      drainMs,
      busy: busyShare(first.cpu, drained),
    };
  } finally {
    notices?.unsubscribe();
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
): Promise<RunningAdvisor> {
  const advisor = spawnBerth(
    ['advisor'],
    {
      NATS_URL: fleet.cluster.url,
      CLICKHOUSE_URL: fleet.clickhouse.url,
      CLICKHOUSE_DATABASE: database,
      BERTH_ADVISOR_PORT: '0',
    },
    await fleet.cgroupFor(name),
  );
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

/** How often the CPU use of the machine and the advisors is sampled while clients ask. */
const CPU_SAMPLE_MS = 100;

/** A running advisor: its process and the address it answers at. */
interface RunningAdvisor {
  readonly process: BerthProcess;
  readonly url: string;
}

/**
 * Every client's questions asked, the clients spread evenly over the advisors. Answers/s counts
 * the steady part only: from when every client was asking to when the first client had its
 * last answer, so neither the clients' start nor the tail, when fewer clients are left than
 * keep an advisor busy, counts. With it: the share of the machine busy meanwhile, and the CPU
 * each advisor used, of one CPU.
 */
async function latencies(
  advisors: readonly RunningAdvisor[],
  questions: readonly (readonly AdviceQuestion[])[],
): Promise<{ p50: number; p99: number; perSecond: number; busy: number; cpusEach: number }> {
  const samples: { at: number; machine: CpuTimes; advisorsMs: number }[] = [];
  const sample = (): void => {
    samples.push({
      at: Date.now(),
      machine: cpuTimesNow(),
      advisorsMs: advisors.reduce(
        (sum, advisor) => sum + cpuMsOf(advisor.process.child.pid ?? 0),
        0,
      ),
    });
  };
  const sampling = setInterval(sample, CPU_SAMPLE_MS);
  let asked: AskedResult[];
  try {
    asked = await Promise.all(
      advisors.map(({ url }, index) =>
        askFromWorker(
          `${url.replace(/^http/, 'ws')}/v1/ws`,
          questions.filter((_, client) => client % advisors.length === index),
        ),
      ),
    );
  } finally {
    clearInterval(sampling);
  }
  const from = Math.max(...asked.map((result) => result.startedAt));
  const until = Math.min(...asked.flatMap((result) => result.doneAt));
  // The CPU figures span the samples inside the steady part.
  const inside = samples.filter((each) => each.at >= from && each.at <= until);
  const [first, last] = [inside[0], inside.at(-1)];
  if (first === undefined || last === undefined || first === last) {
    throw new Error('the steady part of the measurement was too short to sample the CPU');
  }
  const steady = asked
    .flatMap((result) => result.answeredAt)
    .filter((at) => at > from && at <= until).length;
  const all = asked.flatMap((result) => result.latencies).sort((a, b) => a - b);
  return {
    p50: quantile(all, 0.5),
    p99: quantile(all, 0.99),
    perSecond: (steady / (until - from)) * 1000,
    busy: busyShare(first.machine, last.machine),
    cpusEach: (last.advisorsMs - first.advisorsMs) / (last.at - first.at) / advisors.length,
  };
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
  const natsText =
    options.natsNodes === 1
      ? '1 nats-server, streams with 1 replica'
      : `${options.natsNodes} nats-server nodes, streams with ${options.natsNodes} replicas`;
  process.stdout.write(
    `scale benchmark: ${availableParallelism()} cores (${model}), load average ${loadavg()[0]?.toFixed(1) ?? '?'} at start, node ${process.version}; ${natsText}, clickhouse-server; ${capText}; ${options.rounds} rounds\n`,
  );
  const dir = await tempDir('bench-scale');
  const caps = cpuCaps(options.cpuPerProcess);
  let cluster: NatsCluster | undefined;
  let clickhouse: ClickHouseServer | undefined;
  let nc: NatsConnection | undefined;
  let store: Store | undefined;
  const advisors: BerthProcess[] = [];
  try {
    cluster = await startNatsCluster({ dataDir: join(dir, 'nats'), nodes: options.natsNodes });
    clickhouse = await startClickHouseServer({ dataDir: join(dir, 'clickhouse') });
    nc = await connectNats({ url: cluster.url, name: 'bench-scale' });
    const fleet: Fleet = { dir, cluster, clickhouse, nc, cgroupFor: caps.cgroupFor };
    await ensureClusterStreams(nc, { replicas: options.natsNodes });

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
    // Every measurement asks questions of its own, drawn the same way, so no advisor answers
    // from what it kept of an earlier one: the measurements differ only in the advisors.
    const random = seeded(42);
    const questionSet = (): AdviceQuestion[][] =>
      Array.from({ length: options.clients }, () =>
        Array.from({ length: options.questionsPerClient }, () => question(random, hosts)),
      );
    const first = await startAdvisor(fleet, database, hosts, 'advisor-1');
    advisors.push(first.process);
    const second = await startAdvisor(fleet, database, hosts, 'advisor-2');
    advisors.push(second.process);
    say('advisor warm-up: both advisors answer a set of questions, untimed …');
    await latencies([first, second], questionSet());
    const advice = new Map<number, Awaited<ReturnType<typeof latencies>>[]>([
      [1, []],
      [2, []],
    ]);
    for (let round = 1; round <= options.rounds; round += 1) {
      for (const count of seededShuffle([1, 2], `advice-${round}`)) {
        say(
          `advisor round ${round}/${options.rounds}: ${options.clients} WebSocket clients on ${count} advisor(s) …`,
        );
        const asked = count === 1 ? [first] : [first, second];
        advice.get(count)?.push(await latencies(asked, questionSet()));
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
      )}/s), machine ${medianRange(
        measured.map((each) => each.busy * 100),
        0,
      )}% busy`;
    const answers = (measured: readonly Awaited<ReturnType<typeof latencies>>[]): string =>
      `${medianRange(
        measured.map((each) => each.perSecond),
        0,
      )} answers/s, p50 ${medianRange(
        measured.map((each) => each.p50),
        1,
      )} ms, p99 ${medianRange(
        measured.map((each) => each.p99),
        1,
      )} ms, ${medianRange(
        measured.map((each) => each.cpusEach),
        2,
      )} CPU each, machine ${medianRange(
        measured.map((each) => each.busy * 100),
        0,
      )}% busy`;
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
