import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep } from '../../lib/backoff.ts';
import { ensureStreams } from '../../lib/nats/streams.ts';
import { startNatsServer, type NatsServer } from '../../lib/servers/nats-server.ts';
import { countStoredResults } from '../../lib/storage/results.ts';
import type { Ingest } from '../../services/ingest/ingest.ts';
import { spawnBerth, type BerthProcess } from '../../support/cli.ts';
import { consumerIsIdle, startTestIngest } from '../../support/ingest.ts';
import {
  cleanUp,
  openTestStore,
  removeDir,
  tempDir,
  type TestStore,
} from '../../support/servers.ts';
import { waitFor } from '../../support/wait.ts';

const RESULTS_PER_RUN = 8;
/** Longest wait for a suite's results to be journaled: rounds under CI load take a while. */
const JOURNAL_TIMEOUT_MS = 200_000;
const OUTAGE_MS = 30_000;

/** Waits until the agent (logging at info) reports its first measuring step. */
function waitForMeasuring(agent: BerthProcess): Promise<void> {
  return waitFor(
    'the agent to start measuring',
    () => agent.stderr().includes('"platform":"process"'),
    60_000,
  );
}

/**
 * The distinct result ids a killed agent left to send: journaled in its outbox, or kept in a
 * run checkpoint when it was killed while moving a finished round's batches to the outbox.
 */
async function idsLeftBehind(dataDir: string): Promise<Set<string>> {
  const ids = new Set<string>();
  const journal = await readFile(join(dataDir, 'agent', 'outbox.jsonl'), 'utf8').catch(() => '');
  for (const line of journal.split('\n')) {
    if (line.startsWith('{"add"')) ids.add((JSON.parse(line) as { add: { id: string } }).add.id);
  }
  const folder = join(dataDir, 'agent', 'checkpoints');
  const names = await readdir(folder).catch(() => []);
  for (const name of names.filter((each) => each.endsWith('.json'))) {
    const batches = JSON.parse(await readFile(join(folder, name), 'utf8')) as { id: string }[];
    for (const batch of batches) ids.add(batch.id);
  }
  return ids;
}

async function journaledRuns(path: string): Promise<Set<string>> {
  const text = await readFile(path, 'utf8').catch(() => '');
  const runs = new Set<string>();
  for (const line of text.split('\n')) {
    const match = /"runId":"([^"]+)"/.exec(line);
    if (match?.[1] !== undefined) runs.add(match[1]);
  }
  return runs;
}

describe('the agent when NATS goes away', () => {
  let dir: string;
  let nats: NatsServer;
  let nc: NatsConnection;
  let testStore: TestStore;
  let ingest: Ingest;
  /** Every agent a test starts: killed at the end, so a test that fails leaves none running. */
  const agents: BerthProcess[] = [];
  const startAgent = (args: readonly string[], env: Record<string, string>): BerthProcess => {
    const agent = spawnBerth(args, env);
    agents.push(agent);
    return agent;
  };

  const restartNats = async (): Promise<void> => {
    nats = await startNatsServer({ dataDir: join(dir, 'nats'), port: nats.port });
  };

  beforeAll(async () => {
    dir = await tempDir('agent-outage');
    nats = await startNatsServer({ dataDir: join(dir, 'nats') });
    nc = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 200 });
    await ensureStreams(await jetstreamManager(nc));
    testStore = await openTestStore('chdb');
    ingest = (await startTestIngest(nc, testStore.store)).ingest;
  });

  afterAll(async () => {
    for (const agent of agents) agent.child.kill('SIGKILL');
    await cleanUp(
      () => ingest.stop(),
      () => nc.close(),
      () => testStore.dispose(),
      () => nats.stop(),
      () => removeDir(dir),
    );
  });

  it('a 30 s NATS outage mid-suite delays results; each lands once', async () => {
    const agent = startAgent(
      [
        'agent',
        'run',
        '--platforms',
        'process',
        '--rounds',
        '1',
        '--json',
        '--flush-timeout-ms',
        '90000',
      ],
      { NATS_URL: nats.url, BERTH_DATA_DIR: join(dir, 'a1'), BERTH_LOG_LEVEL: 'info' },
    );
    const journal = join(dir, 'a1', 'agent', 'outbox.jsonl');
    await waitForMeasuring(agent);
    const outageStarted = Date.now();
    await nats.process.kill();
    // Results are journaled once the rounds are done: NATS stays away until they are, and at
    // least 30 s, so the outage covers the moment they are published.
    await waitFor(
      'the suite to journal its results while NATS is away',
      async () => (await journaledRuns(journal)).size > 0,
      JOURNAL_TIMEOUT_MS,
    );
    await sleep(Math.max(0, OUTAGE_MS - (Date.now() - outageStarted)));
    await restartNats();

    expect(await agent.exited(), agent.stderr()).toBe(0);
    const report = JSON.parse(agent.stdout()) as {
      runId: string;
      batches: unknown[];
      natsUnreachable: boolean;
      unsent: number;
    };
    expect(report.batches).toHaveLength(RESULTS_PER_RUN);
    expect(report).toMatchObject({ natsUnreachable: false, unsent: 0 });
    await waitFor('ingest to catch up', () => consumerIsIdle(nc), 60_000);
    expect(await countStoredResults(testStore.store, { runId: report.runId })).toMatchObject({
      results: RESULTS_PER_RUN,
      duplicateRows: 0,
    });
  }, 400_000);

  it('kill -9 mid-suite: the next start sends what was journaled or checkpointed, nothing twice', async () => {
    const dataDir = join(dir, 'a2');
    const journal = join(dataDir, 'agent', 'outbox.jsonl');
    const first = startAgent(['agent', 'run', '--platforms', 'process', '--rounds', '1'], {
      NATS_URL: nats.url,
      BERTH_DATA_DIR: dataDir,
      BERTH_LOG_LEVEL: 'info',
    });
    await waitForMeasuring(first);
    // NATS goes away before the rounds end, so the results are journaled but not sent, and
    // the agent waits for acknowledgements (60 s by default) when it is killed.
    await nats.process.kill();
    await waitFor(
      'the results journaled while NATS is away',
      async () => {
        const text = await readFile(journal, 'utf8').catch(() => '');
        return text.split('\n').filter((line) => line.startsWith('{"add"')).length >= 4;
      },
      JOURNAL_TIMEOUT_MS,
    );
    first.child.kill('SIGKILL');
    expect(await first.exited()).toBe('SIGKILL');
    const [killedRun] = [...(await journaledRuns(journal))];
    const leftBehind = (await idsLeftBehind(dataDir)).size;
    expect(leftBehind).toBeGreaterThanOrEqual(4);
    await restartNats();

    const second = startAgent(
      ['agent', 'run', '--platforms', 'process', '--rounds', '1', '--json'],
      {
        NATS_URL: nats.url,
        BERTH_DATA_DIR: dataDir,
      },
    );
    expect(await second.exited(), second.stderr()).toBe(0);
    await waitFor('ingest to catch up', () => consumerIsIdle(nc), 60_000);
    expect(await countStoredResults(testStore.store, { runId: killedRun ?? '' })).toMatchObject({
      results: leftBehind,
      duplicateRows: 0,
    });
    const report = JSON.parse(second.stdout()) as {
      runId: string;
      natsUnreachable: boolean;
      unsent: number;
    };
    expect(report).toMatchObject({ natsUnreachable: false, unsent: 0 });
    expect(await countStoredResults(testStore.store, { runId: report.runId })).toMatchObject({
      results: RESULTS_PER_RUN,
      duplicateRows: 0,
    });
  }, 330_000);
});
