import { availableParallelism } from 'node:os';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { drainPending } from 'chdb';
import { silentLogger } from '../lib/logger.ts';
import { ensureStreams, RESULTS_STREAM } from '../lib/nats/streams.ts';
import { startClickHouseServer } from '../support/clickhouse-server.ts';
import { startNatsServer } from '../lib/servers/nats-server.ts';
import { openChdbStore } from '../lib/storage/chdb-store.ts';
import { openClickHouseStore } from '../lib/storage/clickhouse-store.ts';
import { migrate } from '../lib/storage/migrations.ts';
import { countStoredResults, resultRows } from '../lib/storage/results.ts';
import type { Store } from '../lib/storage/store.ts';
import { createBatchEncoder } from '../services/ingest/encoder-pool.ts';
import { createIngest } from '../services/ingest/ingest.ts';
import { createIngestMetrics } from '../services/ingest/metrics.ts';
import { makeResult, publishResults } from '../support/results.ts';
import { removeDir, tempDir } from '../support/servers.ts';
import { measure, type Measured } from './cpu.ts';

type Backend = 'chdb' | 'clickhouse';

interface IngestBenchOptions {
  readonly results: number;
  readonly batchSize: number;
  readonly backends: readonly Backend[];
}

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

/** Pulls every message of the stream with a fresh durable consumer, acking each. */
async function rawPull(nc: NatsConnection, count: number, batchSize: number): Promise<void> {
  const jsm = await jetstreamManager(nc);
  await jsm.consumers.add(RESULTS_STREAM, {
    durable_name: 'bench-raw',
    ack_policy: AckPolicy.Explicit,
    max_ack_pending: batchSize * 8,
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
function rowBatches(count: number, batchSize: number): ReturnType<typeof resultRows>[] {
  const now = Date.now();
  const batches: ReturnType<typeof resultRows>[] = [];
  for (let start = 0; start < count; start += batchSize) {
    const rows = [];
    for (let index = start; index < Math.min(count, start + batchSize); index += 1) {
      rows.push(...resultRows(makeResult(index, 'bench-host', METRICS_PER_RESULT), now));
    }
    batches.push(rows);
  }
  return batches;
}

/** Berth's ingest from a stream already holding `count` results until all are stored. */
async function endToEnd(
  nc: NatsConnection,
  store: Store,
  count: number,
  batchSize: number,
): Promise<void> {
  const metrics = createIngestMetrics();
  const encoder = createBatchEncoder({ threads: availableParallelism() > 1 ? 1 : 0 });
  await encoder.encode([], 1);
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
  await encoder.close();
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

async function benchBackend(backend: Backend, count: number, batchSize: number): Promise<string[]> {
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
    await ensureStreams(await jetstreamManager(nc));
    say(`[${backend}] publishing ${count} results …`);
    const results = Array.from({ length: count }, (_, index) =>
      makeResult(index, 'bench-host', METRICS_PER_RESULT),
    );
    const publish = await measure(processes, () => publishResults(nc, results));

    say(`[${backend}] raw JetStream pull + ack …`);
    const pull = await measure(processes, () => rawPull(nc, count, batchSize));

    const rawStore = await openBenchStore(backend, 'bench_raw', `${dir}/chdb`, clickhouse?.url);
    const batches = rowBatches(count, batchSize);
    say(`[${backend}] raw insert of the same rows, ${batchSize} results a batch …`);
    const insert = await measure(processes, async () => {
      for (const rows of batches) await rawStore.insert('results', rows);
    });
    await rawStore.close();

    const store = await openBenchStore(backend, 'bench_e2e', `${dir}/chdb`, clickhouse?.url);
    say(`[${backend}] Berth ingest, stream -> store, acked …`);
    const e2e = await measure(processes, () => endToEnd(nc, store, count, batchSize));
    const counts = await countStoredResults(store);
    await store.close();
    if (counts.results !== count || counts.duplicateRows !== 0) {
      throw new Error(`end-to-end stored ${counts.results} of ${count} results`);
    }

    const slowerRaw = Math.min(perSecond(count, pull), perSecond(count, insert));
    const ratio = perSecond(count, e2e) / slowerRaw;
    const rawCpuUs = ((cpuMsTotal(pull) + cpuMsTotal(insert)) * 1000) / count;
    const e2eCpuUs = (cpuMsTotal(e2e) * 1000) / count;
    const label = backend === 'chdb' ? 'chDB (embedded)' : 'clickhouse-server 18.16';
    return [
      label,
      `  publish (pipelined)     ${perSecond(count, publish)} results/s   cores: ${cores(publish)}`,
      `  raw pull + ack          ${perSecond(count, pull)} msg/s       cores: ${cores(pull)}`,
      `  raw insert              ${perSecond(count, insert)} results/s (${perSecond(count * METRICS_PER_RESULT, insert)} rows/s)   cores: ${cores(insert)}`,
      `  Berth end to end        ${perSecond(count, e2e)} results/s   cores: ${cores(e2e)}`,
      `  ratio end-to-end / slower raw: ${ratio.toFixed(2)} (target >= 0.75: ${ratio >= 0.75 ? 'met' : 'missed'})`,
      `  CPU per result: raw pull + raw insert ${rawCpuUs.toFixed(0)} us, end to end ${e2eCpuUs.toFixed(0)} us (all processes)`,
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
    `ingest benchmark: ${options.results} results of ${METRICS_PER_RESULT} metrics each, batches of ${options.batchSize}, ${availableParallelism()} cores`,
  );
  const report: string[] = [];
  for (const backend of options.backends) {
    report.push(...(await benchBackend(backend, options.results, options.batchSize)));
  }
  say('');
  for (const line of report) say(line);
}
