import { describe, expect, it } from 'vitest';
import { loadSeriesSummaries } from '../../lib/storage/results.ts';
import { CONTAINER, PROCESS } from '../../support/advice-fixtures.ts';
import { platformResults, seedResults } from '../../support/advisor.ts';
import { advisorStackForBlock } from '../../support/hooks.ts';

describe('the evidence held in memory', () => {
  const running = advisorStackForBlock();

  it('reads again only the hosts a stored notice names, keeping the others, and matches a whole read', async () => {
    const stack = running();
    await seedResults(stack, [
      ...platformResults('cache-a', PROCESS),
      ...platformResults('cache-a', CONTAINER),
    ]);
    const before = stack.evidence.rows().filter((row) => row.hostId === 'cache-a');
    expect(before.length).toBeGreaterThan(0);

    await seedResults(stack, platformResults('cache-b', PROCESS));
    const rows = stack.evidence.rows();
    expect(rows.filter((row) => row.hostId === 'cache-a')).toEqual(before);
    expect(rows.some((row) => row.hostId === 'cache-b')).toBe(true);
    expect(rows).toEqual(await loadSeriesSummaries(stack.ingest.testStore.store));
  });
});
