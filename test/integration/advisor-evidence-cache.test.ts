import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEvidence } from '../../services/advisor/evidence-query.ts';
import { CONTAINER, PROCESS } from '../helpers/advice-fixtures.ts';
import {
  platformResults,
  seedResults,
  startAdvisorStack,
  type AdvisorStack,
} from '../helpers/advisor.ts';
import { cleanUp } from '../helpers/servers.ts';

describe('the evidence held in memory', () => {
  let stack: AdvisorStack;

  beforeAll(async () => {
    stack = await startAdvisorStack();
  });

  afterAll(async () => {
    await cleanUp(() => stack.stop());
  });

  it('reads again only the hosts a stored notice names, keeping the others, and matches a whole read', async () => {
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
    expect(rows).toEqual(await loadEvidence(stack.ingest.testStore.store));
  });
});
