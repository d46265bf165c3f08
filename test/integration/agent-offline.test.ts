import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResultBatch } from '../../contracts/index.ts';
import { countStoredResults } from '../../lib/storage/results.ts';
import { runBerth, spawnBerth } from '../../support/cli.ts';
import { freePort } from '../../support/free-port.ts';
import { entriesOf } from '../../support/leftovers.ts';
import { consumerIsIdle, startIngestStack, type IngestStack } from '../../support/ingest.ts';
import { cleanUp, removeDir, tempDir } from '../../support/servers.ts';
import { waitFor } from '../../support/wait.ts';

const RESULTS_PER_RUN = 8;

/** The ids the journal holds and has no acknowledgement for, in the order they were added. */
async function pendingIds(path: string): Promise<string[]> {
  const pending = new Map<string, true>();
  for (const line of (await readFile(path, 'utf8')).split('\n')) {
    if (line === '') continue;
    const entry = JSON.parse(line) as { add: ResultBatch } | { ack: string };
    if ('add' in entry) pending.set(entry.add.id, true);
    else pending.delete(entry.ack);
  }
  return [...pending.keys()];
}

describe('berth agent run when NATS does not answer', () => {
  let dir: string;
  let dataDir: string;
  let journal: string;
  let stack: IngestStack | undefined;
  let offline: { runId: string; batches: ResultBatch[] } | undefined;
  let killed: { runId: string; results: number } | undefined;

  beforeAll(async () => {
    dir = await tempDir('agent-offline');
    dataDir = join(dir, 'agent');
    journal = join(dataDir, 'agent', 'outbox.jsonl');
  });

  afterAll(async () => {
    await cleanUp(
      () => stack?.stop(),
      () => removeDir(dir),
    );
  });

  it('measures all the same, exits 0, and keeps every result in its outbox', async () => {
    const port = await freePort();
    const run = await runBerth(
      ['agent', 'run', '--platforms', 'process', '--rounds', '2', '--json'],
      { NATS_URL: `nats://127.0.0.1:${port}`, BERTH_DATA_DIR: dataDir },
    );
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as {
      runId: string;
      batches: ResultBatch[];
      comparisons: unknown[];
      calibration: Record<string, unknown>;
      natsUnreachable: boolean;
      unsent: number;
      outbox: string;
    };
    offline = report;
    expect(report.batches).toHaveLength(RESULTS_PER_RUN);
    // The process platform alone has no pair to compare with; the canary's comparison is there.
    expect(report.comparisons).toEqual([]);
    expect(report.calibration).toMatchObject({
      expected: 0.5,
      ratio: expect.any(Number) as number,
      ci95: [expect.any(Number), expect.any(Number)] as number[],
    });
    expect(report).toMatchObject({
      natsUnreachable: true,
      unsent: RESULTS_PER_RUN,
      outbox: journal,
    });
    expect(run.stderr.split('\n').filter((line) => line.includes('NATS'))).toEqual([
      `cannot reach NATS at nats://127.0.0.1:${port} (setting --nats-url / NATS_URL): connection refused: connect ECONNREFUSED 127.0.0.1:${port}; ${RESULTS_PER_RUN} results are kept in ${journal} and will be sent, with this host's inventory, by the next berth agent run or berth agent start`,
    ]);
    expect((await pendingIds(journal)).sort()).toEqual(
      report.batches.map((batch) => batch.id).sort(),
    );
  }, 300_000);

  it('a run killed part-way keeps the rounds it completed in a checkpoint', async () => {
    const port = await freePort();
    const run = spawnBerth(['agent', 'run', '--platforms', 'process', '--rounds', '6'], {
      NATS_URL: `nats://127.0.0.1:${port}`,
      BERTH_DATA_DIR: dataDir,
    });
    const folder = join(dataDir, 'agent', 'checkpoints');
    await waitFor(
      'the first round’s checkpoint',
      () => entriesOf(folder).some((name) => name.endsWith('.json')),
      240_000,
      50,
    );
    run.child.kill('SIGKILL');
    await run.exited();
    const [name] = entriesOf(folder).filter((each) => each.endsWith('.json'));
    const kept = JSON.parse(await readFile(join(folder, name ?? ''), 'utf8')) as ResultBatch[];
    expect(kept.length).toBeGreaterThan(0);
    killed = { runId: name?.replace(/\.json$/, '') ?? '', results: kept.length };
  }, 300_000);

  it('the next berth agent start sends what was kept and what the killed run completed, each result once', async () => {
    expect(offline).toBeDefined();
    expect(killed).toBeDefined();
    const { runId } = offline ?? { runId: '' };
    stack = await startIngestStack();
    const { nc, testStore } = stack;
    const agent = spawnBerth(['agent', 'start'], {
      NATS_URL: stack.nats.url,
      BERTH_DATA_DIR: dataDir,
      BERTH_JOB_PLATFORMS: 'process',
    });
    try {
      await agent.waitForLine(/berth agent ready/, 90_000);
      await waitFor('the journal to be acknowledged', async () => {
        return (await pendingIds(journal)).length === 0;
      });
      await waitFor('ingest to catch up', () => consumerIsIdle(nc), 60_000);
    } finally {
      agent.child.kill('SIGTERM');
    }
    expect(await agent.exited(), agent.stderr()).toBe(0);
    expect(await countStoredResults(testStore.store, { runId })).toMatchObject({
      results: RESULTS_PER_RUN,
      duplicateRows: 0,
    });
    expect(await countStoredResults(testStore.store, { runId: killed?.runId ?? '' })).toMatchObject(
      { results: killed?.results, duplicateRows: 0 },
    );
    expect(entriesOf(join(dataDir, 'agent', 'checkpoints'))).toEqual([]);
  }, 200_000);
});
