import { jetstream } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resultBatchCodec, resultsSubject } from '../../contracts/index.ts';
import { readDeadLetters } from '../../lib/nats/dead-letters.ts';
import { countStoredResults, dedupedResults } from '../../lib/storage/results.ts';
import { sql } from '../../lib/storage/sql.ts';
import { consumerIsIdle, startIngestStack, type IngestStack } from '../../support/ingest.ts';
import { makeResult, makeResultV2, publishRaw, publishResults } from '../../support/results.ts';
import { BACKENDS } from '../../support/servers.ts';
import { waitFor } from '../../support/wait.ts';

/** Agents of this release send version 1 and the next send version 2: ingest takes both. */
describe.each(BACKENDS)('ingest of version 1 and version 2 results into %s', (backend) => {
  let stack: IngestStack | undefined;

  const running = (): IngestStack => {
    if (stack === undefined) throw new Error('the ingest stack did not start');
    return stack;
  };

  beforeAll(async () => {
    stack = await startIngestStack(backend);
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('stores a version 1 and a version 2 batch once each, published twice', async () => {
    const { nc, testStore } = running();
    const v1 = makeResult(1, 'host-mixed', 2);
    const v2 = makeResultV2(2, 'host-mixed', 2);
    await publishResults(nc, [v1, v2]);
    await publishResults(nc, [v2, v1]);

    await waitFor('both batches to be stored', () => consumerIsIdle(nc));
    expect(await countStoredResults(testStore.store, { hostId: 'host-mixed' })).toEqual({
      results: 2,
      rows: 4,
      duplicateRows: 0,
    });
    const rows = await testStore.store.query<{
      result_id: string;
      schema_version: number;
      rounds: number;
      host_fingerprint: string;
      round_values: number[];
      ratio: number | null;
      verdict: string;
    }>(
      sql`SELECT result_id, schema_version, rounds, host_fingerprint, round_values, ratio, verdict
          FROM (${dedupedResults({ hostId: 'host-mixed' })}) ORDER BY result_id, metric`,
    );
    const [first, second] = v2.metrics;
    expect(rows).toEqual([
      ...v1.metrics.map(() => ({
        result_id: v1.id,
        schema_version: 1,
        rounds: 1,
        host_fingerprint: '',
        round_values: [],
        ratio: null,
        verdict: '',
      })),
      ...[first, second].map((metric) => ({
        result_id: v2.id,
        schema_version: 2,
        rounds: v2.rounds.count,
        host_fingerprint: v2.hostFingerprint,
        round_values: metric?.roundValues,
        ratio: metric?.comparison?.ratio,
        verdict: metric?.comparison?.verdict,
      })),
    ]);
  });

  it('dead-letters a version 2 batch with a broken comparison, naming the field', async () => {
    const { nc, testStore } = running();
    const batch = makeResultV2(3, 'host-broken', 1);
    expect(resultBatchCodec.check(batch).ok).toBe(true);
    const broken = {
      ...batch,
      metrics: batch.metrics.map((metric) => ({
        ...metric,
        comparison: { ...metric.comparison, verdict: 'probably' },
      })),
    };
    await publishRaw(jetstream(nc), resultsSubject(batch.hostId), JSON.stringify(broken), batch.id);

    await waitFor('the batch to be refused', () => consumerIsIdle(nc));
    expect(await countStoredResults(testStore.store, { hostId: 'host-broken' })).toMatchObject({
      results: 0,
    });
    const deadLetter = (await readDeadLetters(nc, 100)).find((entry) => entry.msgId === batch.id);
    expect(deadLetter?.code).toBe('BERTH_ERR_SCHEMA');
    expect(deadLetter?.reason).toContain('field /metrics/0/comparison/verdict');
  });
});
