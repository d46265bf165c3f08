import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readDeadLetters } from '../../lib/nats/dead-letters.ts';
import { INGEST_CONSUMER, RESULTS_STREAM } from '../../lib/nats/streams.ts';
import { countStoredResults } from '../../lib/storage/results.ts';
import type { Ingest } from '../../services/ingest/ingest.ts';
import { consumerIsIdle, startTestIngest } from '../../support/ingest.ts';
import { MALFORMED_KINDS, makeMalformed } from '../../support/malformed.ts';
import { makeResult, publishRaw, publishResults } from '../../support/results.ts';
import { storeForBlock } from '../../support/hooks.ts';
import { BACKENDS, cleanUp, startTestNats } from '../../support/servers.ts';
import { waitFor } from '../../support/wait.ts';

const RESULTS = 10_000;
const DUPLICATES = 500;
const MALFORMED = 200;
const METRICS_PER_RESULT = 2;

describe.each(BACKENDS)('ingest into %s', (backend) => {
  // Registered first, so its after-hook disposes the store once ingest has stopped.
  const store = storeForBlock(backend);
  let nats: Awaited<ReturnType<typeof startTestNats>>;
  let nc: NatsConnection;
  let ingest: Ingest | undefined;
  const malformed = makeMalformed(MALFORMED);

  beforeAll(async () => {
    nats = await startTestNats();
    nc = await connect({ servers: nats.url });
  });

  afterAll(async () => {
    await cleanUp(
      () => ingest?.stop(),
      () => nc.drain(),
      () => nats.stop(),
    );
  });

  it('stores 10,000 results once and dead-letters each malformed message with its reason', async () => {
    ingest = (await startTestIngest(nc, store())).ingest;
    const results = Array.from({ length: RESULTS }, (_, index) =>
      makeResult(index, 'host-a', METRICS_PER_RESULT),
    );
    const js = jetstream(nc);
    await publishResults(nc, results.slice(0, RESULTS / 2));
    await Promise.all(malformed.map((m) => publishRaw(js, m.subject, m.data, m.msgId)));
    await publishResults(nc, results.slice(0, DUPLICATES));
    await publishResults(nc, results.slice(RESULTS / 2));

    await waitFor('every message to be stored or dead-lettered', () => consumerIsIdle(nc));
    const counts = await countStoredResults(store());
    expect(counts).toEqual({
      results: RESULTS,
      rows: RESULTS * METRICS_PER_RESULT,
      duplicateRows: 0,
    });

    const deadLetters = await readDeadLetters(nc, 10_000);
    expect(deadLetters).toHaveLength(MALFORMED);
    const sent = new Map(malformed.map((m) => [m.msgId, m]));
    for (const entry of deadLetters) {
      const original = sent.get(entry.msgId ?? '');
      expect(original, `dead letter for ${entry.msgId ?? '?'}`).toBeDefined();
      expect(entry.code).toBe(original?.expected);
      expect(entry.reason.length).toBeGreaterThan(10);
      expect(entry.truncated).toBe(false);
      expect(Buffer.from(entry.payloadBase64, 'base64')).toEqual(Buffer.from(original?.data ?? []));
    }
    expect(new Set(deadLetters.map((entry) => entry.code)).size).toBe(MALFORMED_KINDS);
  });

  it('stores nothing twice when the whole stream is delivered again', async () => {
    await ingest?.stop();
    const jsm = await jetstreamManager(nc);
    await jsm.consumers.delete(RESULTS_STREAM, INGEST_CONSUMER);
    const again = await startTestIngest(nc, store());
    ingest = again.ingest;

    await waitFor('the replay to finish', () => consumerIsIdle(nc));
    const received = (await again.metrics.received.get()).values[0]?.value ?? 0;
    expect(received).toBe(RESULTS + MALFORMED);
    expect(await countStoredResults(store())).toEqual({
      results: RESULTS,
      rows: RESULTS * METRICS_PER_RESULT,
      duplicateRows: 0,
    });
    expect(await readDeadLetters(nc, 10_000)).toHaveLength(MALFORMED);
  });
});
