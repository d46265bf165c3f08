import { describe, expect, it } from 'vitest';
import { advise } from '../../services/advisor/engine/engine.ts';
import { profileOf } from '../../services/advisor/engine/placements.ts';
import type { EngineAnswer, EvidenceRow } from '../../services/advisor/engine/types.ts';
import {
  engineInput,
  hostInfo,
  kvmHostEvidence,
  question,
  thisHostEvidence,
} from '../../support/advice-fixtures.ts';

/**
 * The start-up budget rule against the p95's 95% interval: where a reading gives the interval
 * (version 2 start-up), the rule compares its upper end; where it gives none (version 1), the
 * p95, as before. The fixtures' runc container starts in 150 ms, p95 180 ms.
 */

const RUNC = profileOf({ placement: 'container', runtime: 'runc' }).described;

type StartupFields = Pick<
  EvidenceRow,
  'p95' | 'startupP95' | 'startupP95Low' | 'startupP95High' | 'startupP95Exact' | 'startupBimodal'
>;

/** This host's evidence with the runc container's start-up row changed by `fields`. */
function withRuncStartup(fields: Partial<StartupFields>, hostId = 'host-a'): EvidenceRow[] {
  return thisHostEvidence(hostId).map((row) =>
    row.runtime === 'runc' && row.metric === 'startup' ? { ...row, ...fields } : row,
  );
}

/** The runc container's p95 is 200 ms, its 95% interval 150–340 ms, from enough launches. */
const INTERVAL: Partial<StartupFields> = {
  startupP95: 200,
  startupP95Low: 150,
  startupP95High: 340,
  startupP95Exact: true,
  startupBimodal: false,
};

/** The answer to the CI-job question with a start-up budget, over `evidence`. */
const answerWith = (budgetMs: number, evidence: readonly EvidenceRow[]): EngineAnswer =>
  advise(engineInput({ question: question({ startupBudgetMs: budgetMs }), evidence }));

/** The runc container's start-up-budget sentence: why it was ruled out, or its reason. */
function runcSentence(answer: EngineAnswer): { ruledOut: boolean; sentence: string | undefined } {
  const ruled = answer.ruledOut.find(
    (entry) => entry.runtime === 'runc' && entry.rule === 'startup-budget',
  );
  if (ruled !== undefined) return { ruledOut: true, sentence: ruled.sentence };
  const option = answer.options.find((each) => each.runtime === 'runc');
  return {
    ruledOut: false,
    sentence: option?.reasons.find((reason) => reason.includes('budget')),
  };
}

describe('the start-up budget rule and the p95 interval', () => {
  it.each<{
    name: string;
    budgetMs: number;
    evidence: readonly EvidenceRow[];
    ruledOut: boolean;
    sentence: string;
  }>([
    {
      name: 'a version 1 p95 within the budget',
      budgetMs: 300,
      evidence: thisHostEvidence(),
      ruledOut: false,
      sentence: 'Start-up p95 180 ms (measured on host-a) is within the 300 ms budget.',
    },
    {
      name: 'a version 1 p95 above the budget',
      budgetMs: 170,
      evidence: thisHostEvidence(),
      ruledOut: true,
      sentence: `The start-up p95 of ${RUNC} is 180 ms (measured on host-a), above the 170 ms budget.`,
    },
    {
      name: "a p95 within the budget whose interval's upper end is above it",
      budgetMs: 300,
      evidence: withRuncStartup(INTERVAL),
      ruledOut: true,
      sentence: `The start-up p95 of ${RUNC} is up to 340 ms (upper end of its 95% interval; point estimate 200 ms; measured on host-a), above the 300 ms budget.`,
    },
    {
      name: 'an upper end within the budget, though the p95 of the upper tails is above it',
      budgetMs: 300,
      evidence: withRuncStartup({ ...INTERVAL, p95: 400, startupP95High: 280 }),
      ruledOut: false,
      sentence:
        'Start-up p95 up to 280 ms (upper end of its 95% interval; point estimate 200 ms; measured on host-a) is within the 300 ms budget.',
    },
    {
      name: 'an upper end that too few launches bound (the slowest launch)',
      budgetMs: 300,
      evidence: withRuncStartup({ ...INTERVAL, startupP95Exact: false }),
      ruledOut: true,
      sentence: `The start-up p95 of ${RUNC} is up to 340 ms (upper end of its 95% interval; on host-a too few launches bound it, so the slowest launch; point estimate 200 ms; measured on host-a), above the 300 ms budget.`,
    },
    {
      name: 'one host with an interval and one without, averaged over hosts',
      budgetMs: 250,
      evidence: [...withRuncStartup(INTERVAL), ...kvmHostEvidence('host-b')],
      ruledOut: true,
      sentence: `The start-up p95 of ${RUNC} is up to 260 ms (upper end of its 95% interval; the p95 itself on host-b, with no interval; point estimate 190 ms; measured on host-a and host-b), above the 250 ms budget.`,
    },
  ])('$name', ({ budgetMs, evidence, ruledOut, sentence }) => {
    expect(runcSentence(answerWith(budgetMs, evidence))).toEqual({ ruledOut, sentence });
  });

  it('says what budget would let the option in from the upper end it compared', () => {
    const answer = answerWith(300, withRuncStartup(INTERVAL));
    expect(answer.options).toEqual([]);
    expect(answer.whatWouldChange.join(' ')).toContain('a budget of 340 ms or more lets it in');
  });

  it('shows the p95 and the upper end the rule compared as evidence', () => {
    const answer = answerWith(1_000, withRuncStartup(INTERVAL));
    const runc = answer.options.find((option) => option.runtime === 'runc');
    const startup = runc?.evidence.filter((item) => item.metric === 'startup') ?? [];
    expect(startup.map((item) => [item.value, item.used])).toEqual([
      [150, 'mean start-up'],
      [200, 'p95 start-up, averaged over hosts'],
      [
        340,
        "upper end of the p95's 95% interval over interleaved launches, averaged over hosts (the start-up budget rule)",
      ],
    ]);
    for (const item of startup) expect(item).not.toHaveProperty('note');
  });

  it('a version 1 start-up shows its mean and the p95 the rule compared, as before', () => {
    const answer = answerWith(1_000, thisHostEvidence());
    const runc = answer.options.find((option) => option.runtime === 'runc');
    const startup = runc?.evidence.filter((item) => item.metric === 'startup') ?? [];
    expect(startup.map((item) => [item.value, item.used])).toEqual([
      [150, 'mean start-up'],
      [180, 'p95 start-up, averaged over hosts (the start-up budget rule)'],
    ]);
  });

  it('names a bimodal start-up in its evidence', () => {
    const answer = answerWith(
      1_000,
      withRuncStartup({ ...INTERVAL, startupBimodal: true, startupP95High: 900 }),
    );
    const runc = answer.options.find((option) => option.runtime === 'runc');
    const startup = runc?.evidence.filter((item) => item.metric === 'startup') ?? [];
    expect(startup).toHaveLength(3);
    for (const item of startup) {
      expect(item.note).toBe(
        'bimodal start-up on host-a: its launches fall into two separate groups (a fast and a slow path), which a mean hides',
      );
    }
  });

  it('keeps the note TCG start-up already has beside the bimodal one', () => {
    const evidence = thisHostEvidence().map((row) =>
      row.platform === 'vm' && row.metric === 'startup'
        ? { ...row, ...INTERVAL, startupP95High: 5_000, startupBimodal: true }
        : row,
    );
    const answer = advise(engineInput({ evidence, hosts: [hostInfo()] }));
    const vm = answer.options.find((option) => option.placement === 'vm');
    const notes = vm?.evidence.filter((item) => item.metric === 'startup').map((item) => item.note);
    expect(notes).toHaveLength(3);
    for (const note of notes ?? []) {
      expect(note).toMatch(/^TCG emulation: .*; bimodal start-up on host-a: /);
    }
  });
});
