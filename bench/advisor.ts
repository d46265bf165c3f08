import { availableParallelism } from 'node:os';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { drainPending } from 'chdb';
import { Worker } from 'node:worker_threads';
import type { AdviceQuestion, SensitivityName } from '../contracts/advice.ts';
import { hostInventoryCodec, inventorySubject } from '../contracts/index.ts';
import { silentLogger } from '../lib/logger.ts';
import type { AskedResult, AskRequest } from './advisor-clients.ts';
import { ADVISOR_SETTINGS } from '../cli/commands/advisor.ts';
import { loadConfig } from '../lib/config.ts';
import { ensureStreams } from '../lib/nats/streams.ts';
import { startClickHouseServer } from '../support/clickhouse-server.ts';
import { startNatsServer } from '../lib/servers/nats-server.ts';
import { openChdbStore } from '../lib/storage/chdb-store.ts';
import { openClickHouseStore } from '../lib/storage/clickhouse-store.ts';
import { migrate } from '../lib/storage/migrations.ts';
import {
  countStoredResults,
  loadSeriesSummaries,
  resultTsv,
  RESULT_COLUMNS,
} from '../lib/storage/results.ts';
import type { Store } from '../lib/storage/store.ts';
import { startAdvisorService } from '../services/advisor/main.ts';
import {
  CONTAINER,
  CONTAINER_IN_VM_TCG,
  PROCESS,
  PROCESS_THROUGHPUT,
  VM_TCG,
} from '../support/advice-fixtures.ts';
import { inventoryOf, platformResults } from '../support/advisor.ts';
import { seededShuffle } from '../lib/statistics.ts';
import { median, medianRange } from './rounds.ts';
import { removeDir, tempDir } from '../support/servers.ts';

export interface AdvisorBenchOptions {
  readonly rows: number;
  readonly clients: number;
  readonly questionsPerClient: number;
  readonly hosts: number;
  readonly backends: readonly ('chdb' | 'clickhouse')[];
  /** Rounds, each timing the evidence query alone and the clients' questions, in a shuffled order. */
  readonly rounds: number;
  /** The advisor's engine threads (0: on its main thread). */
  readonly engineThreads: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;
const ALL_WORKLOADS = Object.keys(PROCESS_THROUGHPUT) as (keyof typeof PROCESS_THROUGHPUT)[];
const SENSITIVITIES: readonly SensitivityName[] = ['cpu', 'memory', 'io', 'network', 'syscall'];

function say(line = ''): void {
  process.stderr.write(`${line}\n`);
}

export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

/** A deterministic stream of numbers in [0, 1), so every run asks the same questions. */
export function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

export function hostIds(count: number): string[] {
  return Array.from({ length: count }, (_, index) => `bench-host-${index}`);
}

/** Loads about `rows` metric rows: quick suites of every host, spread over 30 days. */
export async function loadRows(
  store: Store,
  options: Pick<AdvisorBenchOptions, 'rows' | 'hosts'>,
): Promise<number> {
  const hosts = hostIds(options.hosts);
  const now = Date.now();
  let rows = 0;
  let body = '';
  let pending = 0;
  for (let run = 0; rows < options.rows; run += 1) {
    const takenAt = now - 30 * DAY_MS + (run * DAY_MS) / 10;
    for (const hostId of hosts) {
      for (const figures of [PROCESS, CONTAINER, VM_TCG, CONTAINER_IN_VM_TCG]) {
        for (const batch of platformResults(hostId, figures, takenAt, ALL_WORKLOADS)) {
          body += resultTsv(batch, now);
          pending += batch.metrics.length;
        }
      }
    }
    if (pending >= 50_000) {
      await store.insertTsv('results', RESULT_COLUMNS, body);
      rows += pending;
      body = '';
      pending = 0;
      process.stderr.write(`\r  loaded ${rows.toLocaleString('en')} rows`);
    }
  }
  say();
  return rows;
}

export function question(random: () => number, hosts: readonly string[]): AdviceQuestion {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const sensitivity = SENSITIVITIES.filter(() => random() < 0.4);
  return {
    workload: `bench-${Math.floor(random() * 1000)}`,
    os: {
      family: random() < 0.9 ? 'linux' : pick(['windows', 'freebsd'] as const),
      ...(random() < 0.2 ? { kernel: pick(['>=5.10', '>=6.8', '^6.1']) } : {}),
      ...(random() < 0.1 ? { fullOs: true } : {}),
    },
    lifetimeSeconds: Math.round(10 ** (1 + random() * 5)),
    instances: Math.ceil(10 ** (random() * 3)),
    trust: random() < 0.3 ? 'untrusted' : 'trusted',
    ...(random() < 0.3 ? { startupBudgetMs: pick([200, 1000, 10_000]) } : {}),
    ...(random() < 0.5 ? { memoryMiB: pick([64, 256, 1024]) } : {}),
    ...(sensitivity.length > 0 ? { sensitivity } : {}),
    ...(random() < 0.3 ? { hosts: hosts.filter(() => random() < 0.2).slice(0, 8) } : {}),
  };
}

/**
 * The clients ask from a worker thread, so the advisor's thread does only the advisor's work
 * and the client side (building frames, parsing answers) does not add to its latency.
 */
export async function askFromWorker(
  url: string,
  questions: readonly (readonly AdviceQuestion[])[],
): Promise<AskedResult> {
  // A worker does not inherit the tsx loader: its script registers it, then loads the clients.
  const clients = new URL('./advisor-clients.ts', import.meta.url).href;
  const script = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(clients)}); });`;
  const worker = new Worker(script, {
    eval: true,
    workerData: { url, questions } satisfies AskRequest,
  });
  try {
    return await new Promise<AskedResult>((resolve, reject) => {
      worker.once('message', (result: AskedResult) => {
        resolve(result);
      });
      worker.once('error', reject);
      worker.once('exit', (code) => {
        reject(new Error(`the clients' worker exited with ${code} before answering`));
      });
    });
  } finally {
    await worker.terminate();
  }
}

export async function publishInventories(
  nc: NatsConnection,
  hosts: readonly string[],
): Promise<void> {
  const js = jetstream(nc);
  for (const hostId of hosts) {
    await js.publish(inventorySubject(hostId), hostInventoryCodec.encode(inventoryOf(hostId)));
  }
}

async function benchBackend(
  backend: 'chdb' | 'clickhouse',
  options: AdvisorBenchOptions,
): Promise<void> {
  const dir = await tempDir(`bench-advisor-${backend}`);
  const nats = await startNatsServer({ dataDir: `${dir}/nats` });
  const clickhouse =
    backend === 'clickhouse'
      ? await startClickHouseServer({ dataDir: `${dir}/clickhouse` })
      : undefined;
  const store =
    clickhouse === undefined
      ? await openChdbStore({ dataDir: `${dir}/chdb`, database: 'berth' })
      : await openClickHouseStore({ url: clickhouse.url, database: 'berth' });
  const nc = await connect({ servers: nats.url });
  try {
    await migrate(store);
    await ensureStreams(await jetstreamManager(nc));
    say(
      `${backend}: loading about ${options.rows.toLocaleString('en')} result rows for ${options.hosts} hosts …`,
    );
    const loaded = await loadRows(store, options);
    const stored = await countStoredResults(store);
    const hosts = hostIds(options.hosts);
    await publishInventories(nc, hosts);

    const service = await startAdvisorService(
      nc,
      store,
      {
        ...loadConfig(ADVISOR_SETTINGS, {}, {}),
        dataDir: dir,
        natsUrl: nats.url,
        clickhouseUrl: clickhouse?.url,
        advisorPort: 0,
        engineThreads: options.engineThreads,
      },
      silentLogger,
    );
    try {
      const wsUrl = `${service.url.replace(/^http/, 'ws')}/v1/ws`;
      // Each round asks questions of its own (the same ones in every run), so no round is
      // answered from what an earlier round left in the advisor's answer memo.
      const questionsOf = (round: number): AdviceQuestion[][] => {
        const random = seeded(42 + round);
        return Array.from({ length: options.clients }, () =>
          Array.from({ length: options.questionsPerClient }, () => question(random, hosts)),
        );
      };
      const alone: number[] = [];
      const asked: { p50: number; p99: number; perSecond: number; busy: number; count: number }[] =
        [];
      let aggregates = 0;
      for (let round = 1; round <= options.rounds; round += 1) {
        for (const step of seededShuffle(['alone', 'ask'] as const, `${backend}-${round}`)) {
          if (step === 'alone') {
            say(`${backend} round ${round}/${options.rounds}: the evidence query alone, 5 times …`);
            const times: number[] = [];
            for (let query = 0; query < 5; query += 1) {
              const started = performance.now();
              aggregates = (await loadSeriesSummaries(store)).length;
              times.push(performance.now() - started);
            }
            alone.push(median(times));
          } else {
            say(
              `${backend} round ${round}/${options.rounds}: ${options.clients} WebSocket clients asking ${options.questionsPerClient} varied questions each …`,
            );
            const { latencies, seconds, busyRefusals } = await askFromWorker(
              wsUrl,
              questionsOf(round),
            );
            latencies.sort((a, b) => a - b);
            asked.push({
              p50: quantile(latencies, 0.5),
              p99: quantile(latencies, 0.99),
              perSecond: latencies.length / seconds,
              busy: busyRefusals,
              count: latencies.length,
            });
          }
        }
      }
      const p99 = asked.map((each) => each.p99);
      const toAlone = p99.map((value, index) => value / (alone[index] ?? Number.NaN));
      process.stdout.write(
        [
          `${backend}: ${loaded.toLocaleString('en')} rows loaded (${stored.rows.toLocaleString('en')} after dedupe), ${aggregates} evidence aggregates; median [range] over ${options.rounds} rounds, the two steps of each in a shuffled order`,
          `  evidence query alone (what a refresh after new results runs): p50 ${medianRange(alone, 1)} ms`,
          `  answers over WebSocket, ${asked[0]?.count ?? 0} from ${options.clients} clients a round: p50 ${medianRange(
            asked.map((each) => each.p50),
            1,
          )} ms, p99 ${medianRange(p99, 1)} ms, ${medianRange(asked.map((each) => each.perSecond))} answers/s; target p99 <= 25 ms: ${median(p99) <= 25 ? 'met' : 'missed'}`,
          `  refused as busy and asked again after Retry-After: ${asked.map((each) => each.busy).join(', ')} by round (the latencies include the waits)`,
          `  answer p99 / evidence query alone p50, by round: ${medianRange(toAlone, 2)} (target <= 1.5: ${median(toAlone) <= 1.5 ? 'met' : 'missed'})`,
          '',
        ].join('\n'),
      );
    } finally {
      await service.stop();
    }
  } finally {
    await nc.drain();
    await store.close();
    if (backend === 'chdb') await drainPending();
    await clickhouse?.stop();
    await nats.stop();
    await removeDir(dir);
  }
}

/** `npm run bench -- advisor`: answer latency under load against the evidence query alone. */
export async function benchAdvisor(options: AdvisorBenchOptions): Promise<void> {
  process.stdout.write(
    `advisor benchmark: ${availableParallelism()} cores, node ${process.version}; ${options.clients} clients × ${options.questionsPerClient} questions, ${options.rows.toLocaleString('en')} rows; ${options.engineThreads === 0 ? "the engine on the advisor's main thread" : `${options.engineThreads} engine thread${options.engineThreads === 1 ? '' : 's'}`}\n`,
  );
  for (const backend of options.backends) await benchBackend(backend, options);
}
