import { describe, expect, it } from 'vitest';
import { resultBatchCodec, resultsSubject } from '../../contracts/index.ts';
import { RESULT_COLUMNS } from '../../lib/storage/results.ts';
import { encodeBatch, packBatch, type BatchInput } from '../../services/ingest/encode-batch.ts';
import { createBatchEncoder } from '../../services/ingest/encoder-pool.ts';
import { makeResult } from '../helpers/results.ts';

function input(messages: { data: Uint8Array; msgId: string }[]): BatchInput {
  return packBatch(
    messages.map((message) => ({ ...message, subject: resultsSubject('host-a') })),
    64 * 1024,
    1_764_000_000_000,
  );
}

describe('encodeBatch', () => {
  const good = makeResult(1, 'host-a', 3);
  const other = makeResult(2, 'host-a', 1);

  it('turns each valid message into one TabSeparated line per metric, and refuses the rest', () => {
    const encoded = encodeBatch(
      input([
        { data: resultBatchCodec.encode(good), msgId: good.id },
        { data: new TextEncoder().encode('nope'), msgId: 'x' },
        { data: resultBatchCodec.encode(other), msgId: other.id },
        { data: resultBatchCodec.encode(other), msgId: '' },
      ]),
    );
    expect(encoded.rows).toBe(4);
    expect(encoded.refused).toEqual([
      expect.objectContaining({ index: 1, code: 'BERTH_ERR_NOT_JSON' }),
      expect.objectContaining({ index: 3, code: 'BERTH_ERR_MSG_ID' }),
    ]);
    expect([...encoded.lineStart]).toEqual([0, -1, encoded.lineEnd[0], -1]);

    const first = encoded.payload.slice(encoded.lineStart[0], encoded.lineEnd[0]);
    const lines = first.split('\n').filter((line) => line !== '');
    expect(lines).toHaveLength(3);
    const fields = lines[0]?.split('\t') ?? [];
    expect(fields).toHaveLength(RESULT_COLUMNS.length);
    expect(fields[RESULT_COLUMNS.indexOf('result_id')]).toBe(good.id);
    expect(fields[RESULT_COLUMNS.indexOf('metric')]).toBe('metric-0');
    expect(fields[RESULT_COLUMNS.indexOf('p75')]).toBe('\\N');

    const third = encoded.payload.slice(encoded.lineStart[2], encoded.lineEnd[2]);
    expect(third.split('\t')[0]).toBe(other.id);
  });
});

describe('the batch encoder', () => {
  it('gives the same batch on a worker thread as on this one', async () => {
    const messages = [1, 2, 3].map((index) => {
      const result = makeResult(index, 'host-a', 2);
      return {
        subject: resultsSubject('host-a'),
        data: resultBatchCodec.encode(result),
        msgId: result.id,
      };
    });
    messages.push({ subject: resultsSubject('host-b'), data: new Uint8Array([1]), msgId: 'x' });
    const here = createBatchEncoder({ threads: 0 });
    const threaded = createBatchEncoder({ threads: 1 });
    try {
      const [local, remote] = await Promise.all([
        here.encode(messages, 64 * 1024),
        threaded.encode(messages, 64 * 1024),
      ]);
      expect(remote.rows).toBe(6);
      expect(remote.refused).toEqual(local.refused);
      expect([...remote.lineStart]).toEqual([...local.lineStart]);
      expect(remote.payload.split('\t').length).toBe(local.payload.split('\t').length);
    } finally {
      await here.close();
      await threaded.close();
    }
  });
});
