import type { NatsConnection } from '@nats-io/nats-core';
import type { JetStreamClient, JsMsg } from '@nats-io/jetstream';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  BerthError,
  DLQ_SUBJECT,
  STORED_SUBJECT,
  deadLetterCodec,
  resultBatchCodec,
  resultsSubject,
  storedNoticeCodec,
} from '../../contracts/index.ts';
import { silentLogger } from '../../lib/logger.ts';
import { RESULT_COLUMNS } from '../../lib/storage/results.ts';
import type { Store } from '../../lib/storage/store.ts';
import { createBatchWriter } from '../../services/ingest/batch-writer.ts';
import { createBatchEncoder, type BatchEncoder } from '../../services/ingest/encoder-pool.ts';
import { createHealthTracker } from '../../services/ingest/health.ts';
import { createIngestMetrics } from '../../services/ingest/metrics.ts';
import { makeResult } from '../../support/results.ts';

const ACK_WAIT_MS = 3000;

/** A stream message with the result's id as Nats-Msg-Id, or raw bytes that are no result. */
function streamMessage(seq: number, hostId: string, data?: string) {
  const result = makeResult(seq, hostId);
  return {
    subject: resultsSubject(hostId),
    seq,
    data: data === undefined ? resultBatchCodec.encode(result) : new TextEncoder().encode(data),
    headers: { get: (name: string) => (name === 'Nats-Msg-Id' ? result.id : '') },
    ack: vi.fn(),
    working: vi.fn(),
  };
}

/** A writer on fakes of NATS and the store, a real encoder (on this thread) and real health. */
function writerOnFakes(encoder: BatchEncoder = createBatchEncoder({ threads: 0 })) {
  const insertTsv = vi.fn<Store['insertTsv']>(() => Promise.resolve());
  const jsPublish = vi.fn(() => Promise.resolve({}));
  const ncPublish = vi.fn();
  const metrics = createIngestMetrics();
  const health = createHealthTracker(metrics.healthy);
  const writer = createBatchWriter({
    nc: { info: { max_payload: 1024 * 1024 }, publish: ncPublish } as unknown as NatsConnection,
    js: { publish: jsPublish } as unknown as JetStreamClient,
    store: { insertTsv } as unknown as Store,
    logger: silentLogger,
    metrics,
    encoder,
    health,
    maxMessageBytes: 64 * 1024,
    ackWaitMs: ACK_WAIT_MS,
  });
  const messages = [
    streamMessage(1, 'host-a'),
    streamMessage(2, 'host-b'),
    streamMessage(3, 'host-a', 'not json'),
  ];
  const batch = writer.prepare(messages as unknown as JsMsg[], performance.now());
  const acked = (): number[] =>
    messages.filter((message) => message.ack.mock.calls.length > 0).map((message) => message.seq);
  return { writer, batch, messages, acked, insertTsv, jsPublish, ncPublish, metrics, health };
}

/** The value of a counter without labels. */
async function count(counter: { get(): Promise<{ values: { value: number }[] }> }) {
  return (await counter.get()).values[0]?.value ?? 0;
}

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

describe('the ingest batch writer', () => {
  it('acknowledges the messages only once the rows are stored and the refused dead-lettered', async () => {
    const fakes = writerOnFakes();
    let storeAnswers = (): void => undefined;
    fakes.insertTsv.mockImplementationOnce(
      () => new Promise<void>((resolve) => (storeAnswers = resolve)),
    );
    const written = fakes.writer.write(fakes.batch);
    await vi.advanceTimersByTimeAsync(0);
    expect(fakes.insertTsv).toHaveBeenCalledTimes(1);
    const [table, columns, payload] = fakes.insertTsv.mock.calls[0] ?? [];
    expect([table, columns]).toEqual(['results', RESULT_COLUMNS]);
    expect(payload?.split('\n')).toHaveLength(5);
    expect(fakes.acked()).toEqual([]);

    storeAnswers();
    await written;
    expect(fakes.acked()).toEqual([1, 2, 3]);
    expect(fakes.jsPublish).toHaveBeenCalledTimes(1);
    const [subject, entry, options] = fakes.jsPublish.mock.calls[0] as unknown as [
      string,
      Uint8Array,
      { msgID: string },
    ];
    expect(subject).toBe(DLQ_SUBJECT);
    expect(options).toEqual({ msgID: 'dlq-results-3' });
    expect(deadLetterCodec.decode(entry, 1024 * 1024)).toMatchObject({
      ok: true,
      value: { streamSequence: 3, code: 'BERTH_ERR_NOT_JSON' },
    });
    expect(await count(fakes.metrics.storedResults)).toBe(2);
    expect(await count(fakes.metrics.storedRows)).toBe(4);
  });

  it('announces which hosts had results stored, after acknowledging them', async () => {
    const fakes = writerOnFakes();
    fakes.ncPublish.mockImplementation(() => {
      expect(fakes.acked()).toEqual([1, 2, 3]);
    });
    await fakes.writer.write(fakes.batch);
    expect(fakes.ncPublish).toHaveBeenCalledTimes(1);
    const [subject, notice] = fakes.ncPublish.mock.calls[0] as [string, Uint8Array];
    expect(subject).toBe(STORED_SUBJECT);
    expect(storedNoticeCodec.decode(notice, 64 * 1024)).toMatchObject({
      ok: true,
      value: { type: 'stored', results: 2, hosts: ['host-a', 'host-b'] },
    });
  });

  it('retries a store that fails, keeps the messages alive meanwhile and reports it', async () => {
    const fakes = writerOnFakes();
    for (let failures = 0; failures < 6; failures += 1) {
      fakes.insertTsv.mockRejectedValueOnce(new Error('connection refused'));
    }
    const written = fakes.writer.write(fakes.batch);
    await vi.advanceTimersByTimeAsync(0);
    expect(fakes.health.report()).toEqual({
      healthy: false,
      problems: ['batch not written: connection refused'],
    });
    expect(fakes.acked()).toEqual([]);

    await vi.advanceTimersByTimeAsync(60_000);
    await written;
    expect(fakes.insertTsv).toHaveBeenCalledTimes(7);
    expect(fakes.acked()).toEqual([1, 2, 3]);
    for (const message of fakes.messages) expect(message.working).toHaveBeenCalled();
    expect(await count(fakes.metrics.storeRetries)).toBe(6);
    expect(fakes.health.report()).toEqual({ healthy: true, problems: [] });
  });

  it('holds a waiting batch whose encoding failed without an unhandled rejection, and encodes it again', async () => {
    const real = createBatchEncoder({ threads: 0 });
    // A plain function, not a vi.fn: a spy watches the promises it returns, which handles them.
    let encodings = 0;
    const encode: BatchEncoder['encode'] = (messages, maxMessageBytes) => {
      encodings += 1;
      return encodings === 1
        ? Promise.reject(new Error('the encoder thread exited'))
        : real.encode(messages, maxMessageBytes);
    };
    const unhandled = vi.fn();
    process.on('unhandledRejection', unhandled);
    try {
      // Real time passes while the batch waits, so Node gets to look for unhandled rejections.
      vi.useRealTimers();
      const fakes = writerOnFakes({ encode, close: () => real.close() });
      await sleep(20);
      expect(unhandled).not.toHaveBeenCalled();
      vi.useFakeTimers();
      const written = fakes.writer.write(fakes.batch);
      await vi.advanceTimersByTimeAsync(60_000);
      await written;
      expect(encodings).toBe(2);
      expect(fakes.acked()).toEqual([1, 2, 3]);
      expect(await count(fakes.metrics.storeRetries)).toBe(1);
    } finally {
      process.off('unhandledRejection', unhandled);
    }
  });

  it('writes message by message when the store refuses the batch, dead-lettering only what it refuses', async () => {
    const fakes = writerOnFakes();
    const refused = new BerthError('BERTH_ERR_STORE_QUERY', 'Cannot parse input');
    fakes.insertTsv
      .mockRejectedValueOnce(refused)
      .mockResolvedValueOnce()
      .mockRejectedValueOnce(refused);
    await fakes.writer.write(fakes.batch);
    expect(fakes.insertTsv).toHaveBeenCalledTimes(3);
    expect(fakes.acked()).toEqual([1, 2, 3]);
    const deadLettered = fakes.jsPublish.mock.calls.map(
      (call) => (call as unknown as [string, Uint8Array, { msgID: string }])[2].msgID,
    );
    expect(deadLettered.sort()).toEqual(['dlq-results-2', 'dlq-results-3']);
    expect(await count(fakes.metrics.storedResults)).toBe(1);
    expect(await count(fakes.metrics.storedRows)).toBe(2);
  });

  it('after the deadline leaves a batch it cannot write unacknowledged, for redelivery', async () => {
    const fakes = writerOnFakes();
    fakes.insertTsv.mockRejectedValue(new Error('connection refused'));
    fakes.writer.giveUpAfter(Date.now() + 1000);
    const written = fakes.writer.write(fakes.batch);
    await vi.advanceTimersByTimeAsync(5_000);
    await written;
    expect(fakes.acked()).toEqual([]);
    expect(fakes.jsPublish).not.toHaveBeenCalled();
    expect(fakes.ncPublish).not.toHaveBeenCalled();
    expect(fakes.health.report().healthy).toBe(false);
  });
});
