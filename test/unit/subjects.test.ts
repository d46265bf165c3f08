import { describe, expect, it } from 'vitest';
import {
  BerthError,
  DLQ_SUBJECT,
  hostIdOfResultsSubject,
  INVENTORY_SUBJECTS,
  inventorySubject,
  isSafeToken,
  jobProgressSubject,
  jobsSubject,
  RESULTS_SUBJECTS,
  resultsSubject,
} from '../../contracts/index.ts';

const builders = [
  ['resultsSubject', resultsSubject, 'berth.results.'],
  ['inventorySubject', inventorySubject, 'berth.inventory.'],
  ['jobsSubject', jobsSubject, 'berth.jobs.'],
  ['jobProgressSubject', jobProgressSubject, 'berth.progress.'],
] as const;

/** The error a call throws, or a failure when it throws nothing. */
function thrownBy(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error, got none');
}

const UNSAFE = [
  '',
  'a.b',
  'a*',
  '*',
  '>',
  'a>',
  'a b',
  ' a',
  'a\t',
  'a\nb',
  'a\u0000',
  '-x',
  '_x',
  'x'.repeat(65),
  'hôte',
  'host-😀',
  'ｈｏｓｔ',
  'a/b',
  'a$b',
];

describe('subject builders', () => {
  it('build one subject per host', () => {
    expect(resultsSubject('host-a_1')).toBe('berth.results.host-a_1');
    expect(inventorySubject('h')).toBe('berth.inventory.h');
    expect(jobsSubject('h')).toBe('berth.jobs.h');
    expect(jobProgressSubject('h')).toBe('berth.progress.h');
    expect([DLQ_SUBJECT, RESULTS_SUBJECTS, INVENTORY_SUBJECTS]).toEqual([
      'berth.dlq',
      'berth.results.*',
      'berth.inventory.*',
    ]);
  });

  it.each(['a', '0', 'A-Z_0-9', 'host-a', '9lives', 'x'.repeat(64), 'a-', 'a_'])(
    'accept the safe id %j',
    (hostId) => {
      expect(isSafeToken(hostId)).toBe(true);
      for (const [, build, prefix] of builders) expect(build(hostId)).toBe(`${prefix}${hostId}`);
    },
  );

  it.each(UNSAFE)('refuse the id %j with BERTH_ERR_UNSAFE_ID', (hostId) => {
    expect(isSafeToken(hostId)).toBe(false);
    for (const [name, build] of builders) {
      const error = thrownBy(() => build(hostId));
      expect(error, name).toBeInstanceOf(BerthError);
      expect((error as BerthError).code, name).toBe('BERTH_ERR_UNSAFE_ID');
      expect((error as BerthError).message, name).toContain(`host id ${JSON.stringify(hostId)}`);
    }
  });

  it('refuse values that are not strings at all', () => {
    for (const value of [undefined, null, 42, ['a'], { toString: () => 'a' }]) {
      expect(isSafeToken(value)).toBe(false);
      const error = thrownBy(() => resultsSubject(value as unknown as string));
      expect((error as BerthError).code).toBe('BERTH_ERR_UNSAFE_ID');
    }
  });
});

describe('hostIdOfResultsSubject', () => {
  it('reads the host back from the subject a builder made', () => {
    expect(hostIdOfResultsSubject('berth.results.host-a')).toBe('host-a');
    expect(hostIdOfResultsSubject(resultsSubject('x'.repeat(64)))).toBe('x'.repeat(64));
  });

  it.each([
    'berth.results',
    'berth.results.',
    'berth.results.a.b',
    'berth.results.*',
    'berth.results.>',
    'berth.results.-x',
    `berth.results.${'x'.repeat(65)}`,
    'berth.results.hôte',
    'berth.jobs.host-a',
    'berth.inventory.host-a',
    'other.results.host-a',
    'BERTH.results.host-a',
    '.berth.results.host-a',
    'berth..results.host-a',
    '',
  ])('gives nothing for %j', (subject) => {
    expect(hostIdOfResultsSubject(subject)).toBeUndefined();
  });
});
