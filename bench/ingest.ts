import { availableParallelism } from 'node:os';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { drainPending } from 'chdb';
import { SETTINGS } from '../lib/config.ts';
import { silentLogger } from '../lib/logger.ts';
import { ensureStreams, RESULTS_STREAM } from '../lib/nats/streams.ts';
import { seededShuffle } from '../lib/statistics.ts';
import { startClickHouseServer } from '../support/clickhouse-server.ts';
import { startNatsServer } from '../lib/servers/nats-server.ts';
import { openChdbStore } from '../lib/storage/chdb-store.ts';
import { openClickHouseStore } from '../lib/storage/clickhouse-store.ts';
import { migrate } from '../lib/storage/migrations.ts';
import { countStoredResults, resultRows } from '../lib/storage/results.ts';
import type { Store } from '../lib/storage/store.ts';
import { createBatchEncoder, type BatchEncoder } from '../services/ingest/encoder-pool.ts';
import { createIngest } from '../services/ingest/ingest.ts';
import { createIngestMetrics } from '../services/ingest/metrics.ts';
import { makeResult, publishResults } from '../support/results.ts';
import { removeDir, tempDir } from '../support/servers.ts';
import { measure, type Measured } from './cpu.ts';
import { median, medianRange } from './rounds.ts';

type Backend = 'chdb' | 'clickhouse';

interface IngestBenchOptions {
  readonly results: number;
  readonly batchSize: number;
  readonly backends: readonly Backend[];
  /** Rounds, each measuring the raw pull, the raw insert and Berth in a shuffled order. */
  readonly rounds: number;
}

/** Targets: end to end against the serial ceiling, and its CPU against the raw steps'. */
const CEILING_TARGET = 0.9;
const CPU_TARGET = 1.2;

const METRICS_PER_RESULT = 2;

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function openBenchStore(
  backend: Backend,
  database: string,
  dataDir: string,
  clickhouseUrl: string | undefined,
): Promise<Store> {
  const store =
    backend === 'chdb'
      ? await openChdbStore({ dataDir, database })
      : await openClickHouseStore({ url: clickhouseUrl ?? '', database });
  await migrate(store);
  return store;
}

/**
 * Pulls `count` messages of the stream from sequence `from` with a fresh durable consumer,
 * acking each.
 */
async function rawPull(
  nc: NatsConnection,
  count: number,
  batchSize: number,
  from: number,
): Promise<void> {
  const jsm = await jetstreamManager(nc);
  await jsm.consumers.add(RESULTS_STREAM, {
    durable_name: 'bench-raw',
    ack_policy: AckPolicy.Explicit,
    max_ack_pending: batchSize * 8,
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: from,
  });
  const consumer = await jetstream(nc).consumers.get(RESULTS_STREAM, 'bench-raw');
  const messages = await consumer.consume({ max_messages: batchSize });
  let seen = 0;
  for await (const message of messages) {
    message.ack();
    seen += 1;
    if (seen === count) break;
  }
  await jsm.consumers.delete(RESULTS_STREAM, 'bench-raw');
}

/** The rows ingest writes for `count` results, grouped as ingest groups them. */
function rowBatches(
  count: number,
  batchSize: number,
  hostId: string,
): ReturnType<typeof resultRows>[] {
  const now = Date.now();
  const batches: ReturnType<typeof resultRows>[] = [];
  for (let start = 0; start < count; start += batchSize) {
    const rows = [];
    for (let index = start; index < Math.min(count, start + batchSize); index += 1) {
      rows.push(...resultRows(makeResult(index, hostId, METRICS_PER_RESULT), now));
    }
    batches.push(rows);
  }
  return batches;
}

/**
 * Berth's ingest from a stream already holding `count` results until all are stored, with an
 * encoder already started (as a running worker has it: a process starts its encoder thread
 * once, not once per pass), just as the raw insert is given a store already open.
 */
async function endToEnd(
  nc: NatsConnection,
  store: Store,
  encoder: BatchEncoder,
  count: number,
  batchSize: number,
): Promise<void> {
  const metrics = createIngestMetrics();
  const ingest = createIngest({
    nc,
    store,
    logger: silentLogger,
    metrics,
    encoder,
    options: {
      batchSize,
      batchWaitMs: 200,
      maxMessageBytes: 256 * 1024,
      ackWaitMs: 30_000,
    },
  });
  await ingest.start();
  for (;;) {
    const stored = (await metrics.storedResults.get()).values[0]?.value ?? 0;
    if (stored >= count) break;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await ingest.stop();
}

/** The encoder `berth ingest` runs with by default on this machine, started. */
async function startedEncoder(): Promise<BatchEncoder> {
  const encoder = createBatchEncoder({
    threads: SETTINGS.encoderThreads.defaultValue === 0 ? 0 : 1,
  });
  await encoder.encode([], 1);
  return encoder;
}

function cpuMsTotal(measured: Measured<unknown>): number {
  return Object.values(measured.cpuMs).reduce((sum, ms) => sum + ms, 0);
}

function perSecond(count: number, measured: Measured<unknown>): number {
  return Math.round((count * 1000) / measured.wallMs);
}

/** CPU used, as busy cores: "node 1.0 + nats-server 0.4 = 1.4 of 2". */
function cores(measured: Measured<unknown>): string {
  const parts = Object.entries(measured.cpuMs).map(
    ([name, ms]) => `${name} ${(ms / measured.wallMs).toFixed(2)}`,
  );
  const total = Object.values(measured.cpuMs).reduce((sum, ms) => sum + ms, 0) / measured.wallMs;
  return `${parts.join(' + ')} = ${total.toFixed(2)} of ${availableParallelism()}`;
}

/** One round's figures on one backend. */
interface Round {
  readonly publish: Measured<unknown>;
  readonly pull: Measured<unknown>;
  readonly insert: Measured<unknown>;
  readonly e2e: Measured<unknown>;
}

/** The serial ceiling: results/s if pulling and inserting each result took its raw time, one after the other. */
function ceiling(count: number, round: Round): number {
  return 1 / (1 / perSecond(count, round.pull) + 1 / perSecond(count, round.insert));
}

async function benchBackend(
  backend: Backend,
  count: number,
  batchSize: number,
  rounds: number,
): Promise<string[]> {
  const dir = await tempDir(`bench-${backend}`);
  const nats = await startNatsServer({ dataDir: `${dir}/nats` });
  const clickhouse =
    backend === 'clickhouse'
      ? await startClickHouseServer({ dataDir: `${dir}/clickhouse` })
      : undefined;
  const nc = await connect({ servers: nats.url });
  const processes: Record<string, number> = { node: process.pid, 'nats-server': nats.process.pid };
  if (clickhouse !== undefined) processes['clickhouse-server'] = clickhouse.process.pid;
  try {
    const jsm = await jetstreamManager(nc);
    await ensureStreams(jsm);
    const measured: Round[] = [];
    /** A database of its own on this backend, migrated. */
    const storeNamed = (database: string): Promise<Store> =>
      openBenchStore(backend, database, `${dir}/chdb`, clickhouse?.url);
    for (let round = 1; round <= rounds; round += 1) {
      const hostId = `bench-host-${round}`;
      const from = (await jsm.streams.info(RESULTS_STREAM)).state.last_seq + 1;
      say(`[${backend}] round ${round}/${rounds}: publishing ${count} results …`);
      const results = Array.from({ length: count }, (_, index) =>
        makeResult(index, hostId, METRICS_PER_RESULT),
      );
      const publish = await measure(processes, () => publishResults(nc, results));
      const steps: { -readonly [K in Exclude<keyof Round, 'publish'>]?: Measured<unknown> } = {};
      const run = {
        pull: async (): Promise<void> => {
          say(`[${backend}] round ${round}/${rounds}: raw JetStream pull + ack …`);
          steps.pull = await measure(processes, () => rawPull(nc, count, batchSize, from));
        },
        insert: async (): Promise<void> => {
          const rawStore = await storeNamed(`bench_raw_${round}`);
          const batches = rowBatches(count, batchSize, hostId);
          say(
            `[${backend}] round ${round}/${rounds}: raw insert of the same rows, ${batchSize} results a batch …`,
          );
          steps.insert = await measure(processes, async () => {
            for (const rows of batches) await rawStore.insert('results', rows);
          });
          await rawStore.close();
        },
        e2e: async (): Promise<void> => {
          const store = await storeNamed(`bench_e2e_${round}`);
          const encoder = await startedEncoder();
          say(`[${backend}] round ${round}/${rounds}: Berth ingest, stream -> store, acked …`);
          steps.e2e = await measure(processes, () =>
            endToEnd(nc, store, encoder, count, batchSize),
          );
          await encoder.close();
          const counts = await countStoredResults(store);
          await store.close();
          if (counts.results !== count || counts.duplicateRows !== 0) {
            throw new Error(`end-to-end stored ${counts.results} of ${count} results`);
          }
        },
      };
      for (const step of seededShuffle(['pull', 'insert', 'e2e'] as const, `${backend}-${round}`)) {
        await run[step]();
      }
      const { pull, insert, e2e } = steps;
      if (pull === undefined || insert === undefined || e2e === undefined) {
        throw new Error(`round ${round} did not measure every step`);
      }
      measured.push({ publish, pull, insert, e2e });
    }

    const of = (pick: (round: Round) => number): number[] => measured.map(pick);
    const toCeiling = of((round) => perSecond(count, round.e2e) / ceiling(count, round));
    const toSlower = of(
      (round) =>
        perSecond(count, round.e2e) /
        Math.min(perSecond(count, round.pull), perSecond(count, round.insert)),
    );
    const rawCpuUs = of(
      (round) => ((cpuMsTotal(round.pull) + cpuMsTotal(round.insert)) * 1000) / count,
    );
    const e2eCpuUs = of((round) => (cpuMsTotal(round.e2e) * 1000) / count);
    const cpuRatio = e2eCpuUs.map((value, index) => value / (rawCpuUs[index] ?? Number.NaN));
    const label = backend === 'chdb' ? 'chDB (embedded)' : 'clickhouse-server 18.16';
    const last = measured[measured.length - 1];
    const verdict = (met: boolean): string => (met ? 'met' : 'missed');
    return [
      `${label}: median [range] over ${rounds} rounds, the steps of each round in a shuffled order`,
      `  publish (pipelined)     ${medianRange(of((round) => perSecond(count, round.publish)))} results/s`,
      `  raw pull + ack          ${medianRange(of((round) => perSecond(count, round.pull)))} msg/s`,
      `  raw insert              ${medianRange(of((round) => perSecond(count, round.insert)))} results/s`,
      `  serial ceiling          ${medianRange(of((round) => ceiling(count, round)))} results/s (1 / (1/raw pull + 1/raw insert))`,
      `  Berth end to end        ${medianRange(of((round) => perSecond(count, round.e2e)))} results/s`,
      `  end to end / serial ceiling, by round: ${medianRange(toCeiling, 2)} (target >= ${CEILING_TARGET}: ${verdict(median(toCeiling) >= CEILING_TARGET)})`,
      `  end to end / slower raw step (the earlier ratio), by round: ${medianRange(toSlower, 2)}`,
      `  CPU per result: raw pull + raw insert ${medianRange(rawCpuUs)} us, end to end ${medianRange(e2eCpuUs)} us (all processes); end to end / raw, by round: ${medianRange(cpuRatio, 2)} (target <= ${CPU_TARGET}: ${verdict(median(cpuRatio) <= CPU_TARGET)})`,
      ...(last === undefined
        ? []
        : [
            `  cores in the last round: pull ${cores(last.pull)}; insert ${cores(last.insert)}; end to end ${cores(last.e2e)}`,
          ]),
    ];
  } finally {
    await nc.drain();
    await clickhouse?.stop();
    await nats.stop();
    if (backend === 'chdb') await drainPending();
    await removeDir(dir);
  }
}

export async function benchIngest(options: IngestBenchOptions): Promise<void> {
  say(
    `ingest benchmark: ${options.results} results of ${METRICS_PER_RESULT} metrics each, batches of ${options.batchSize}, ${options.rounds} rounds, ${availableParallelism()} cores`,
  );
  const report: string[] = [];
  for (const backend of options.backends) {
    report.push(
      ...(await benchBackend(backend, options.results, options.batchSize, options.rounds)),
    );
  }
  say('');
  for (const line of report) say(line);
}
