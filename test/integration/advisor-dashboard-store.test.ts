import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../lib/logger.ts';
import { resultRows } from '../../lib/storage/results.ts';
import { openAuditLog } from '../../services/advisor/audit-log.ts';
import { loadResultValues } from '../../services/advisor/result-values.ts';
import { CONTAINER, PROCESS } from '../../support/advice-fixtures.ts';
import { goodQuestion, platformResults } from '../../support/advisor.ts';
import { storeForBlock } from '../../support/hooks.ts';
import { BACKENDS } from '../../support/servers.ts';
import type { Advice } from '../../contracts/advice.ts';

const TAKEN_AT = 1_764_000_000_000;

/** An answer as the audit log keeps it, answered at `answeredAt`. */
function answerAt(id: string, answeredAt: number): Advice {
  return {
    schemaVersion: 1,
    id,
    answeredAt,
    question: goodQuestion({ workload: id }),
    options: [],
    ruledOut: [],
    confidence: { value: 0.5, restsOn: [] },
    whatWouldChange: [],
    hosts: [],
  };
}

/** The SQL of the dashboard's reads, on both backends (clickhouse-server 18.16 and chDB). */
describe.each(BACKENDS)('the dashboard reads on %s', (backend) => {
  const store = storeForBlock(backend);

  it('reads the values of deduplicated results, newest first, per series', async () => {
    const batches = [0, 1, 2].flatMap((index) =>
      [PROCESS, CONTAINER].flatMap((figures) =>
        platformResults('host-v', figures, TAKEN_AT + index * 1000, ['cpu-sha256']),
      ),
    );
    const rows = batches.flatMap((batch) => resultRows(batch, TAKEN_AT));
    // Each row twice, as a re-delivered batch would be written: FINAL keeps one.
    await store().insert('results', rows);
    await store().insert('results', rows);

    const all = await loadResultValues(store(), { workload: 'cpu-sha256', limit: 10 });
    expect(all.truncated).toBe(false);
    expect(all.series.map((series) => series.platform)).toEqual(['container', 'process']);
    for (const series of all.series) {
      expect(series.values.map((value) => value.takenAt)).toEqual([
        TAKEN_AT + 2000,
        TAKEN_AT + 1000,
        TAKEN_AT,
      ]);
    }

    const newest = await loadResultValues(store(), {
      workload: 'cpu-sha256',
      metric: 'throughput',
      hostId: 'host-v',
      platform: 'process',
      limit: 2,
    });
    expect(newest.series).toHaveLength(1);
    expect(newest.series[0]?.values.map((value) => value.takenAt)).toEqual([
      TAKEN_AT + 2000,
      TAKEN_AT + 1000,
    ]);

    const hostile = await loadResultValues(store(), {
      workload: "cpu-sha256' OR 1=1 --",
      limit: 10,
    });
    expect(hostile.series).toEqual([]);
  });

  it('lists the audit log newest first, by limit and before', async () => {
    const audit = openAuditLog(store(), silentLogger, { flushEveryMs: 60_000 });
    try {
      for (const [index, id] of ['adv-a', 'adv-b', 'adv-c'].entries()) {
        audit.record(answerAt(id, TAKEN_AT + index * 1000), []);
      }
      await audit.flush();
      audit.record(answerAt('adv-d', TAKEN_AT + 3000), []);

      const ids = async (page: { limit: number; before?: number }): Promise<string[]> =>
        (await audit.list(page)).map((summary) => summary.id);
      expect(await ids({ limit: 10 })).toEqual(['adv-d', 'adv-c', 'adv-b', 'adv-a']);
      expect(await ids({ limit: 2 })).toEqual(['adv-d', 'adv-c']);
      expect(await ids({ limit: 2, before: TAKEN_AT + 2000 })).toEqual(['adv-b', 'adv-a']);
      expect(await audit.list({ limit: 1, before: TAKEN_AT + 1 })).toEqual([
        {
          id: 'adv-a',
          answeredAt: TAKEN_AT,
          workload: 'adv-a',
          topPlacement: '',
          confidence: 0.5,
        },
      ]);
    } finally {
      await audit.stop();
    }
  });

  it('gives an answer by id before it is written, and from the store once written', async () => {
    const audit = openAuditLog(store(), silentLogger, { flushEveryMs: 60_000, recent: 0 });
    try {
      const answer = answerAt('adv-unwritten', TAKEN_AT + 5000);
      audit.record(answer, []);
      expect(audit.pending()).toBe(1);
      expect(await audit.get('adv-unwritten')).toEqual(answer);
      await audit.flush();
      expect(audit.pending()).toBe(0);
      expect(await audit.get('adv-unwritten')).toEqual(answer);
      expect(await audit.get('adv-never')).toBeUndefined();
    } finally {
      await audit.stop();
    }
  });
});
