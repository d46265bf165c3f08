import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import WebSocket from 'ws';
import {
  hostInventoryCodec,
  inventorySubject,
  resultBatchCodec,
  resultsSubject,
} from '../contracts/index.ts';
import { ensureStreams } from '../lib/nats/streams.ts';
import { startClickHouseServer } from '../support/clickhouse-server.ts';
import { freePort } from '../support/free-port.ts';
import { startNatsServer } from '../lib/servers/nats-server.ts';
import { openClickHouseStore } from '../lib/storage/clickhouse-store.ts';
import { countStoredResults } from '../lib/storage/results.ts';
import { CONTAINER, PROCESS } from '../support/advice-fixtures.ts';
import { goodQuestion, inventoryOf, platformResults } from '../support/advisor.ts';
import { removeDir, tempDir } from '../support/servers.ts';

/**
 * `npm run soak`: a bounded soak on loopback. nats-server and clickhouse-server, `berth
 * ingest` and `berth advisor` as processes of their own; a steady stream of results, WebSocket
 * clients asking one question after another and clients subscribed to results and the fleet.
 * Every interval it prints each service's RSS, answer latency and what was published and
 * stored; at the end it checks that every result was stored once, no service logged an error,
 * each stopped cleanly, and each service's RSS stayed within 10% of what it was after warm-up.
 */

const BERTH = fileURLToPath(new URL('../bin/berth.js', import.meta.url));
const RSS_GROWTH_LIMIT = 0.1;
const SAMPLE_EVERY_MS = 10_000;
const HOSTS = Array.from({ length: 10 }, (_, index) => `soak-host-${index}`);

interface SoakOptions {
  readonly minutes: number;
  readonly rate: number;
  readonly askers: number;
  readonly subscribers: number;
}

function say(line = ''): void {
  process.stdout.write(`${line}\n`);
}

interface Service {
  readonly name: string;
  readonly child: ChildProcess;
  /** Lines the service logged at error level or above. */
  readonly errors: string[];
  readonly exited: Promise<number | null>;
}

/** A Berth command as a process of its own, its log read for errors (pino JSON on stderr). */
function startService(name: string, args: readonly string[]): Service {
  const child = spawn(process.execPath, [BERTH, ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, BERTH_LOG_LEVEL: 'warn' },
  });
  const errors: string[] = [];
  let partial = '';
  child.stderr.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString('utf8')).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      const level = /"level":(\d+)/.exec(line)?.[1];
      if (level === undefined ? line.trim() !== '' : Number(level) >= 50) errors.push(line);
    }
  });
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      resolve(code);
    });
  });
  return { name, child, errors, exited };
}

async function rssMiB(pid: number | undefined): Promise<number> {
  if (pid === undefined) return Number.NaN;
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = /VmRSS:\s+(\d+)/.exec(status)?.[1];
  return kib === undefined ? Number.NaN : Number(kib) / 1024;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

/** A client asking one question after another over one WebSocket, until stopped. */
function asker(url: string, latencies: number[], problems: string[]): () => Promise<void> {
  const socket = new WebSocket(url);
  const state = { running: true };
  let asked = 0;
  const loop = (async () => {
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => {
        resolve();
      });
      socket.once('error', reject);
    });
    while (state.running) {
      asked += 1;
      const id = `q${asked}`;
      const question = goodQuestion({ lifetimeSeconds: 60 + (asked % 50) * 600 });
      const started = performance.now();
      await new Promise<void>((resolve) => {
        const onMessage = (data: Buffer): void => {
          const frame = JSON.parse(data.toString('utf8')) as { type: string; id?: string };
          if (frame.id !== id) return;
          socket.off('message', onMessage);
          if (frame.type === 'answer') latencies.push(performance.now() - started);
          else problems.push(`question refused: ${data.toString('utf8').slice(0, 200)}`);
          resolve();
        };
        socket.on('message', onMessage);
        socket.send(JSON.stringify({ type: 'ask', id, question }));
      });
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  return async () => {
    state.running = false;
    await loop;
    socket.close();
  };
}

/** A client subscribed to results and the fleet, counting the frames it gets. */
function subscriber(url: string, frames: { count: number }): () => void {
  const socket = new WebSocket(url);
  socket.once('open', () => {
    socket.send(JSON.stringify({ type: 'subscribe', topics: ['results', 'fleet'] }));
  });
  socket.on('message', () => {
    frames.count += 1;
  });
  return () => {
    socket.close();
  };
}

interface Sample {
  readonly second: number;
  readonly ingestMiB: number;
  readonly advisorMiB: number;
}

const meanOf = (values: readonly number[]): number =>
  values.reduce((sum, value) => sum + value, 0) / values.length;

async function soak(options: SoakOptions): Promise<boolean> {
  const dir = await tempDir('soak');
  say(
    `soak: ${options.minutes} min, ${options.rate} results/s over ${HOSTS.length} hosts, ${options.askers} clients asking, ${options.subscribers} subscribed; data in ${dir}`,
  );
  const nats = await startNatsServer({ dataDir: `${dir}/nats` });
  const clickhouse = await startClickHouseServer({ dataDir: `${dir}/clickhouse` });
  const store = await openClickHouseStore({ url: clickhouse.url, database: 'berth' });
  const nc = await connect({ servers: nats.url });
  const shared = ['--nats-url', nats.url, '--clickhouse-url', clickhouse.url];
  const advisorPort = await freePort();
  const services: Service[] = [];
  const stops: (() => Promise<void> | void)[] = [];
  try {
    await ensureStreams(await jetstreamManager(nc));
    const ingest = startService('ingest', [
      'ingest',
      ...shared,
      '--data-dir',
      `${dir}/ingest`,
      '--metrics-port',
      String(await freePort()),
    ]);
    services.push(ingest);
    const advisor = startService('advisor', [
      'advisor',
      ...shared,
      '--data-dir',
      `${dir}/advisor`,
      '--port',
      String(advisorPort),
    ]);
    services.push(advisor);
    const base = `http://127.0.0.1:${advisorPort}`;
    await until('the advisor', async () => (await fetch(`${base}/healthz`)).ok, 60_000);
    const js = jetstream(nc);
    for (const hostId of HOSTS) {
      await js.publish(inventorySubject(hostId), hostInventoryCodec.encode(inventoryOf(hostId)));
    }

    const wsUrl = `${base.replace(/^http/, 'ws')}/v1/ws`;
    const latencies: number[] = [];
    const problems: string[] = [];
    const frames = { count: 0 };
    for (let index = 0; index < options.subscribers; index += 1) {
      stops.push(subscriber(wsUrl, frames));
    }
    const askers = Array.from({ length: options.askers }, () => asker(wsUrl, latencies, problems));

    let published = 0;
    const publishing = { on: true };
    const publisher = (async () => {
      const started = Date.now();
      let round = 0;
      while (publishing.on) {
        const due = Math.floor(((Date.now() - started) / 1000) * options.rate);
        while (published < due) {
          const hostId = HOSTS[round % HOSTS.length] ?? 'soak-host-0';
          const figures = round % 2 === 0 ? PROCESS : CONTAINER;
          round += 1;
          const batches = platformResults(hostId, figures, Date.now());
          await Promise.all(
            batches.map((batch) =>
              js.publish(resultsSubject(batch.hostId), resultBatchCodec.encode(batch), {
                msgID: batch.id,
              }),
            ),
          );
          published += batches.length;
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();

    const samples: Sample[] = [];
    const started = Date.now();
    const endAt = started + options.minutes * 60_000;
    say();
    say('  time   ingest RSS  advisor RSS  answers  p50 ms  p99 ms  published   stored  frames');
    let seen = 0;
    while (Date.now() < endAt) {
      await new Promise((resolve) => setTimeout(resolve, SAMPLE_EVERY_MS));
      const window = latencies.slice(seen);
      seen = latencies.length;
      const sample = {
        second: Math.round((Date.now() - started) / 1000),
        ingestMiB: await rssMiB(ingest.child.pid),
        advisorMiB: await rssMiB(advisor.child.pid),
      };
      samples.push(sample);
      const stored = await countStoredResults(store);
      say(
        [
          `${String(sample.second).padStart(5)} s`,
          `${sample.ingestMiB.toFixed(0).padStart(7)} MiB`,
          `${sample.advisorMiB.toFixed(0).padStart(8)} MiB`,
          String(window.length).padStart(8),
          quantile(window, 0.5).toFixed(1).padStart(7),
          quantile(window, 0.99).toFixed(1).padStart(7),
          String(published).padStart(10),
          String(stored.results).padStart(8),
          String(frames.count).padStart(7),
        ].join(' '),
      );
    }
    publishing.on = false;
    await publisher;
    await Promise.all(askers.map((stop) => stop()));
    await until(
      'every published result to be stored',
      async () => (await countStoredResults(store)).results >= published,
      120_000,
    );
    const stored = await countStoredResults(store);

    for (const service of services) service.child.kill('SIGTERM');
    const codes = await Promise.all(services.map((service) => service.exited));

    const warm = samples.filter((sample) => sample.second * 1000 >= warmUpMs(options));
    const first = warm.slice(0, 3);
    const last = warm.slice(-3);
    const growth = (pick: (sample: Sample) => number): number =>
      meanOf(last.map(pick)) / meanOf(first.map(pick)) - 1;
    const checks: [string, boolean][] = [
      [
        `every result stored once: ${stored.results} of ${published}, ${stored.duplicateRows} duplicate rows`,
        stored.results === published && stored.duplicateRows === 0,
      ],
      ...services.map((service): [string, boolean] => [
        `${service.name}: no error logged (${service.errors.length})`,
        service.errors.length === 0,
      ]),
      ...services.map((service, index): [string, boolean] => [
        `${service.name}: stopped cleanly on SIGTERM (exit ${codes[index]})`,
        codes[index] === 0,
      ]),
      [`no question refused (${problems.length})`, problems.length === 0],
      ...(
        [
          ['ingest', (sample: Sample) => sample.ingestMiB],
          ['advisor', (sample: Sample) => sample.advisorMiB],
        ] as const
      ).map(([name, pick]): [string, boolean] => {
        const grew = growth(pick);
        return [
          `${name}: RSS ${(grew * 100).toFixed(1)}% after warm-up (target <= ${RSS_GROWTH_LIMIT * 100}%)`,
          first.length > 0 && grew <= RSS_GROWTH_LIMIT,
        ];
      }),
    ];
    say();
    say(
      `answers: ${latencies.length}, p50 ${quantile(latencies, 0.5).toFixed(1)} ms, p99 ${quantile(latencies, 0.99).toFixed(1)} ms`,
    );
    for (const [line, ok] of checks) say(`${ok ? 'ok  ' : 'FAIL'} ${line}`);
    for (const service of services) {
      for (const line of service.errors.slice(0, 5)) say(`  ${service.name}: ${line}`);
    }
    for (const line of problems.slice(0, 5)) say(`  ${line}`);
    return checks.every(([, ok]) => ok);
  } finally {
    for (const stop of stops) await stop();
    for (const service of services) {
      if (service.child.exitCode === null) service.child.kill('SIGKILL');
    }
    await nc.drain();
    await store.close();
    await clickhouse.stop();
    await nats.stop();
    await removeDir(dir);
  }
}

/** The first fifth of the run, at least 30 s: caches fill and the JIT settles. */
const warmUpMs = (options: SoakOptions): number => Math.max(30_000, (options.minutes * 60_000) / 5);

function bounded(option: string, min: number, max: number): (text: string) => number {
  return (text) => {
    const value = Number(text);
    if (!Number.isFinite(value) || value < min || value > max) {
      throw new Error(`${option} must be a number from ${min} to ${max}`);
    }
    return value;
  };
}

const program = new Command('soak')
  .description(
    'a bounded soak on loopback: steady results, WebSocket clients asking and subscribed; prints RSS and latency over time and checks nothing is lost and memory stays flat',
  )
  .option('--minutes <n>', 'how long to run (at most 10)', bounded('--minutes', 1, 10), 5)
  .option('--rate <n>', 'results published per second', bounded('--rate', 1, 2000), 50)
  .option('--askers <n>', 'WebSocket clients asking', bounded('--askers', 0, 200), 10)
  .option('--subscribers <n>', 'WebSocket clients subscribed', bounded('--subscribers', 0, 200), 5)
  .action(async (options: SoakOptions) => {
    const ok = await soak(options);
    process.exitCode = ok ? 0 : 1;
  });

await program.parseAsync();
