import { describe, expect, it } from 'vitest';
import { resultBatchCodec, resultsSubject } from '../../contracts/index.ts';
import { RESULT_COLUMNS } from '../../lib/storage/results.ts';
import { encodeBatch, packBatch, type BatchInput } from '../../services/ingest/encode-batch.ts';
import { createBatchEncoder } from '../../services/ingest/encoder-pool.ts';
import { makeResult, makeResultV2 } from '../../support/results.ts';

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

describe('encodeBatch with version 1 and version 2 batches', () => {
  const fieldsOf = (payload: string): Map<string, string> => {
    const fields = payload.split('\n')[0]?.split('\t') ?? [];
    expect(fields).toHaveLength(RESULT_COLUMNS.length);
    return new Map(RESULT_COLUMNS.map((column, index) => [column, fields[index] ?? '']));
  };

  it('writes the rounds and comparison of a version 2 batch, and their defaults for version 1', () => {
    const v1 = makeResult(1, 'host-a', 1);
    const v2 = makeResultV2(3, 'host-a', 1);
    const encoded = encodeBatch(
      input([v1, v2].map((batch) => ({ data: resultBatchCodec.encode(batch), msgId: batch.id }))),
    );
    expect(encoded.refused).toEqual([]);
    expect(encoded.rows).toBe(2);
    const first = fieldsOf(encoded.payload.slice(encoded.lineStart[0], encoded.lineEnd[0]));
    const second = fieldsOf(encoded.payload.slice(encoded.lineStart[1], encoded.lineEnd[1]));
    expect(Object.fromEntries(first)).toMatchObject({
      schema_version: '1',
      rounds: '1',
      round_seed: '',
      disturbed_rounds: '0',
      host_fingerprint: '',
      uncalibrated: '0',
      round_values: '[]',
      baseline: '',
      ratio: '\\N',
      ratio_low: '\\N',
      ratio_high: '\\N',
      ratio_rounds: '\\N',
      round_ratios: '[]',
      verdict: '',
      margin: '\\N',
      comparison_method: '',
      rounds_to_decide: '\\N',
    });
    const metric = v2.metrics[0];
    expect(Object.fromEntries(second)).toMatchObject({
      schema_version: '2',
      rounds: String(v2.rounds.count),
      round_seed: v2.rounds.seed,
      disturbed_rounds: String(v2.rounds.disturbed),
      host_fingerprint: v2.hostFingerprint,
      uncalibrated: '1',
      round_values: `[${metric?.roundValues?.join(',') ?? ''}]`,
      baseline: 'process:node',
      ratio: String(metric?.comparison?.ratio),
      ratio_low: String(metric?.comparison?.ci95[0]),
      ratio_high: String(metric?.comparison?.ci95[1]),
      ratio_rounds: String(metric?.comparison?.rounds),
      round_ratios: `[${metric?.comparison?.perRound.join(',') ?? ''}]`,
      verdict: 'unclear',
      margin: '0.03',
      comparison_method: 't',
      rounds_to_decide: '12',
    });
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
