import { availableParallelism } from 'node:os';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { drainPending } from 'chdb';
import {
  hostInventoryCodec,
  inventorySubject,
  resultBatchCodec,
  resultsSubject,
  type ResultBatch,
} from '../contracts/index.ts';
import { loadConfig } from '../lib/config.ts';
import { silentLogger } from '../lib/logger.ts';
import { connectNats } from '../lib/nats/connect.ts';
import { ensureStreams } from '../lib/nats/streams.ts';
import { startNatsServer } from '../lib/servers/nats-server.ts';
import { openChdbStore } from '../lib/storage/chdb-store.ts';
import { migrate } from '../lib/storage/migrations.ts';
import { startAdvisorService } from '../services/advisor/main.ts';
import { startIngestService } from '../services/ingest/main.ts';
import { INGEST_SETTINGS } from '../cli/commands/ingest.ts';
import { ADVISOR_SETTINGS } from '../cli/commands/advisor.ts';
import { CONTAINER, PROCESS } from '../support/advice-fixtures.ts';
import { inventoryOf, platformResults } from '../support/advisor.ts';
import { launchBrowser } from '../support/browser.ts';
import { removeDir, tempDir } from '../support/servers.ts';

/**
 * `npm run bench -- live`: how long a result takes from being published to showing in an open
 * dashboard, measured in the browser, while a steady stream of other results comes in. The
 * page (Debian's chromium) shows the Measurements view filtered to one probe host; a probe
 * result is published every interval and the page records, with a MutationObserver, when the
 * throughput chart's count of values for that host grows. Both clocks are this machine's.
 */

export interface LiveBenchOptions {
  readonly rate: number;
  readonly seconds: number;
  readonly probeEveryMs: number;
}

const PROBE_HOST = 'live-probe';
const STREAM_HOSTS = Array.from({ length: 10 }, (_, index) => `live-host-${index}`);
const WORKLOAD = 'cpu-sha256';

function say(line = ''): void {
  process.stderr.write(`${line}\n`);
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

/** In the page: every change of the chart's label, with the values it counts and when. */
const WATCH_CHART = `(() => {
  const seen = [];
  window.__berthSeen = seen;
  const count = () => {
    const label = document.querySelector('[data-testid="chart-throughput"]')?.getAttribute('aria-label') ?? '';
    return [...label.matchAll(/(\\d+) values/g)].reduce((sum, match) => sum + Number(match[1]), 0);
  };
  let last = count();
  new MutationObserver(() => {
    const now = count();
    if (now !== last) { last = now; seen.push({ count: now, at: Date.now() }); }
  }).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['aria-label'] });
  return last;
})()`;

export async function benchLive(options: LiveBenchOptions): Promise<void> {
  const dir = await tempDir('bench-live');
  const nats = await startNatsServer({ dataDir: `${dir}/nats` });
  const store = await openChdbStore({ dataDir: `${dir}/chdb`, database: 'berth' });
  const nc = await connectNats({ url: nats.url, name: 'bench-live' });
  const stops: (() => Promise<unknown>)[] = [];
  try {
    await migrate(store);
    await ensureStreams(await jetstreamManager(nc));
    const ingest = await startIngestService(
      nc,
      store,
      { ...loadConfig(INGEST_SETTINGS, {}, {}), natsUrl: nats.url, metricsPort: 0 },
      silentLogger,
    );
    stops.push(() => ingest.stop());
    const advisor = await startAdvisorService(
      nc,
      store,
      { ...loadConfig(ADVISOR_SETTINGS, {}, {}), natsUrl: nats.url, advisorPort: 0 },
      silentLogger,
    );
    stops.push(() => advisor.stop());
    const js = jetstream(nc);
    const publish = (batches: readonly ResultBatch[]): Promise<unknown> =>
      Promise.all(
        batches.map((batch) =>
          js.publish(resultsSubject(batch.hostId), resultBatchCodec.encode(batch), {
            msgID: batch.id,
          }),
        ),
      );
    for (const hostId of [PROBE_HOST, ...STREAM_HOSTS]) {
      await js.publish(inventorySubject(hostId), hostInventoryCodec.encode(inventoryOf(hostId)));
    }
    const probe = (): ResultBatch[] =>
      platformResults(PROBE_HOST, PROCESS, Date.now(), [WORKLOAD]).filter(
        (batch) => batch.workload.name === WORKLOAD,
      );
    await publish([...platformResults(PROBE_HOST, PROCESS, Date.now(), [WORKLOAD])]);

    const browser = await launchBrowser();
    stops.push(() => browser.close());
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${advisor.url}/#measurements`);
    await page.locator('#connection[data-state="connected"]').waitFor();
    await page.locator('#m-host').selectOption(PROBE_HOST);
    await page.locator('#m-workload').selectOption(WORKLOAD);
    await page.getByTestId('chart-throughput').waitFor();
    const startCount = await page.evaluate<number>(WATCH_CHART);

    say(
      `live: ${options.rate} results/s from ${STREAM_HOSTS.length} hosts for ${options.seconds} s; a probe result every ${options.probeEveryMs} ms …`,
    );
    const publishedAt: number[] = [];
    const streaming = { on: true };
    const stream = (async () => {
      const started = Date.now();
      let sent = 0;
      let round = 0;
      while (streaming.on) {
        const due = Math.floor(((Date.now() - started) / 1000) * options.rate);
        while (sent < due) {
          const hostId = STREAM_HOSTS[round % STREAM_HOSTS.length] ?? 'live-host-0';
          const batches = platformResults(hostId, round % 2 === 0 ? PROCESS : CONTAINER);
          round += 1;
          await publish(batches);
          sent += batches.length;
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return sent;
    })();
    const endAt = Date.now() + options.seconds * 1000;
    while (Date.now() < endAt) {
      publishedAt.push(Date.now());
      await publish(probe());
      await new Promise((resolve) => setTimeout(resolve, options.probeEveryMs));
    }
    streaming.on = false;
    const streamed = await stream;
    const expected = startCount + publishedAt.length;
    await page
      .waitForFunction(`(window.__berthSeen.at(-1)?.count ?? 0) >= ${expected}`, undefined, {
        timeout: 30_000,
      })
      .catch(() => undefined);
    const seen = await page.evaluate<{ count: number; at: number }[]>('window.__berthSeen');
    const latencies = publishedAt.flatMap((at, index) => {
      const shown = seen.find((change) => change.count >= startCount + index + 1);
      return shown === undefined ? [] : [shown.at - at];
    });
    latencies.sort((a, b) => a - b);
    const p99 = quantile(latencies, 0.99);
    process.stdout.write(
      [
        `live benchmark: ${availableParallelism()} cores, node ${process.version}; embedded store, ingest and advisor at their defaults, chromium headless`,
        `  streamed ${streamed} results in ${options.seconds} s (${(streamed / options.seconds).toFixed(0)}/s) besides ${publishedAt.length} probes`,
        `  published -> shown in the page: ${latencies.length} of ${publishedAt.length} probes seen, p50 ${quantile(latencies, 0.5).toFixed(0)} ms, p99 ${p99.toFixed(0)} ms, max ${(latencies.at(-1) ?? Number.NaN).toFixed(0)} ms; target p99 <= 1000 ms: ${latencies.length === publishedAt.length && p99 <= 1000 ? 'met' : 'missed'}`,
        '',
      ].join('\n'),
    );
  } finally {
    for (const stop of stops.reverse()) await stop();
    await nc.drain();
    await store.close();
    await drainPending();
    await nats.stop();
    await removeDir(dir);
  }
}
