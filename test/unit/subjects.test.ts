import { describe, expect, it } from 'vitest';
import {
  BerthError,
  hostIdOfResultsSubject,
  inventorySubject,
  jobProgressSubject,
  jobsSubject,
  resultsSubject,
} from '../../contracts/index.ts';

const builders = [resultsSubject, inventorySubject, jobsSubject, jobProgressSubject];

describe('subject builders', () => {
  it('build one subject per host', () => {
    expect(resultsSubject('host-a_1')).toBe('berth.results.host-a_1');
    expect(inventorySubject('h')).toBe('berth.inventory.h');
    expect(jobsSubject('h')).toBe('berth.jobs.h');
    expect(jobProgressSubject('h')).toBe('berth.progress.h');
  });

  it.each(['', 'a.b', 'a*', '>', 'a b', '-x', '_x', 'x'.repeat(65), 'hôte', 'a\nb', 'a\u0000'])(
    'refuse the host id %j',
    (hostId) => {
      for (const build of builders) {
        expect(() => build(hostId)).toThrow(BerthError);
        try {
          build(hostId);
        } catch (error) {
          expect((error as BerthError).code).toBe('BERTH_ERR_UNSAFE_ID');
        }
      }
    },
  );

  it('accept the longest safe id', () => {
    expect(resultsSubject('x'.repeat(64))).toBe(`berth.results.${'x'.repeat(64)}`);
  });

  it('read the host back from a results subject, and nothing from other subjects', () => {
    expect(hostIdOfResultsSubject('berth.results.host-a')).toBe('host-a');
    expect(hostIdOfResultsSubject('berth.results.a.b')).toBeUndefined();
    expect(hostIdOfResultsSubject('berth.jobs.host-a')).toBeUndefined();
    expect(hostIdOfResultsSubject('other.results.host-a')).toBeUndefined();
    expect(hostIdOfResultsSubject('berth.results.*')).toBeUndefined();
  });
});
