import { describe, expect, it } from 'vitest';
import { dedupedResults, resultTsv, RESULT_COLUMNS } from '../../lib/storage/results.ts';
import { sql } from '../../lib/storage/sql.ts';
import type { ResultBatch } from '../../contracts/index.ts';
import { hostileString, seededRandom } from '../../support/random.ts';
import { makeResult } from '../../support/results.ts';
import { storeForBlock } from '../../support/hooks.ts';
import { BACKENDS } from '../../support/servers.ts';

const random = seededRandom(7);
const HOSTILE = [
  'tab\there',
  'new\nline',
  'carriage\rreturn',
  'back\\slash',
  'trailing backslash\\',
  '\\N',
  'nul\u0000byte',
  'quote \' and " and `',
  'unicode é 😀 \u0301',
  '\b\f\u0001\u001f\u007f',
  "'); DROP TABLE results; --",
  ...Array.from({ length: 200 }, () => hostileString(random, 6)),
];

describe.each(BACKENDS)('rows with hostile strings round-trip through %s', (backend) => {
  const store = storeForBlock(backend);

  it('stores every free-text field exactly as given', async () => {
    const batches: ResultBatch[] = HOSTILE.map((text, index) => {
      const batch = makeResult(index, 'host-t', 1);
      return {
        ...batch,
        platform: { ...batch.platform, runtimeVersion: text, settings: { note: text } },
        workload: { ...batch.workload, version: text.slice(0, 64) },
        metrics: batch.metrics.map((metric) => ({ ...metric, unit: text.slice(0, 32) || 'x' })),
      };
    });
    const body = batches.map((batch) => resultTsv(batch, 1_764_000_000_000)).join('');
    await store().insertTsv('results', RESULT_COLUMNS, body);

    const rows = await store().query<{
      result_id: string;
      runtime_version: string;
      settings: string;
      workload_version: string;
      unit: string;
    }>(sql`SELECT result_id, runtime_version, settings, workload_version, unit
           FROM (${dedupedResults({ hostId: 'host-t' })}) ORDER BY taken_at_ms`);
    expect(rows).toHaveLength(HOSTILE.length);
    rows.forEach((row, index) => {
      const text = HOSTILE[index] ?? '';
      expect(row.result_id).toBe(batches[index]?.id);
      expect(row.runtime_version).toBe(text);
      expect(JSON.parse(row.settings)).toEqual({ note: text });
      expect(row.workload_version).toBe(text.slice(0, 64));
      expect(row.unit).toBe(text.slice(0, 32) || 'x');
    });
    const [count] = await store().query<{ n: string | number }>(
      sql`SELECT count() AS n FROM results`,
    );
    expect(Number(count?.n)).toBe(HOSTILE.length);
  });

  it('stores string arrays exactly as given (the audit log keeps result ids so)', async () => {
    const rows = HOSTILE.map((text, index) => ({
      advice_id: `a-${index}`,
      answered_at: 1_764_000_000,
      answered_at_ms: 1_764_000_000_000 + index,
      workload: text,
      top_placement: 'vm',
      confidence: 0.5,
      question: '{}',
      answer: '{}',
      evidence_ids: [text, `${text}'`, '', "\\'"],
    }));
    await store().insert('advice', rows);
    const stored = await store().query<{ workload: string; evidence_ids: string[] }>(
      sql`SELECT workload, evidence_ids FROM advice ORDER BY answered_at_ms`,
    );
    expect(stored.map((row) => row.evidence_ids)).toEqual(rows.map((row) => row.evidence_ids));
    expect(stored.map((row) => row.workload)).toEqual(HOSTILE);
  });
});
