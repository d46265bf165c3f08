import { readFileSync } from 'node:fs';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { describe, expect, it } from 'vitest';
import { AdviceV1, type Advice } from '../../contracts/advice.ts';
import { QUALITY } from '../../services/advisor/engine/confidence.ts';
import { advise } from '../../services/advisor/engine/engine.ts';
import { RULES } from '../../services/advisor/engine/rules.ts';
import * as scores from '../../services/advisor/engine/scores.ts';
import type { EngineAnswer, EngineInput } from '../../services/advisor/engine/types.ts';
import {
  DAY_MS,
  engineInput,
  GVISOR,
  hostInfo,
  kvmHostEvidence,
  NOW,
  platformRows,
  question,
  thisHostEvidence,
} from '../../support/advice-fixtures.ts';

const adviceChecker = TypeCompiler.Compile(AdviceV1);

/** The whole Advice the service would send: the engine's answer plus what the service adds. */
function asAdvice(input: EngineInput, answer: EngineAnswer): Advice {
  return {
    schemaVersion: 1,
    id: 'advice-1',
    answeredAt: input.now,
    question: input.question,
    options: answer.options,
    ruledOut: [...answer.ruledOut],
    confidence: answer.confidence,
    whatWouldChange: answer.whatWouldChange,
    hosts: answer.hosts,
  };
}

const INPUTS: readonly (readonly [string, EngineInput])[] = [
  ['this host, the CI job', engineInput()],
  [
    'a long-lived Windows service',
    engineInput({
      question: question({ os: { family: 'windows' }, lifetimeSeconds: 1e8, instances: 1 }),
    }),
  ],
  ['untrusted code', engineInput({ question: question({ trust: 'untrusted' }) })],
  [
    'every rule at once: nothing left',
    engineInput({
      question: question({
        os: { family: 'linux', kernel: '>=9', kernelModules: true, fullOs: true },
        trust: 'untrusted',
        startupBudgetMs: 100,
      }),
    }),
  ],
  ['no evidence, no hosts', engineInput({ evidence: [], hosts: [] })],
  [
    'stale evidence',
    engineInput({ evidence: thisHostEvidence('host-a', { latestAt: NOW - 30 * DAY_MS }) }),
  ],
  [
    'a fleet with KVM and gVisor',
    engineInput({
      question: question({ sensitivity: ['cpu', 'io'], memoryMiB: 512, startupBudgetMs: 2_000 }),
      evidence: [...thisHostEvidence(), ...kvmHostEvidence(), ...platformRows('host-kvm', GVISOR)],
      hosts: [hostInfo('host-a'), hostInfo('host-kvm')],
    }),
  ],
  [
    'one instance for a second',
    engineInput({ question: question({ lifetimeSeconds: 1, instances: 1 }) }),
  ],
  ['a million instances', engineInput({ question: question({ instances: 1_000_000 }) })],
];

describe('every answer', () => {
  it.each(INPUTS)('%s: checks against AdviceV1', (_name, input) => {
    const answer = advise(input);
    const advice = asAdvice(input, answer);
    const errors = [...adviceChecker.Errors(advice)].map(
      (error) => `${error.path}: ${error.message}`,
    );
    expect(errors).toEqual([]);
  });

  it.each(INPUTS)('%s: never offers the bare process, and ranks best first', (_name, input) => {
    const { options } = advise(input);
    expect(options.some((option) => option.placement === 'process')).toBe(false);
    for (let index = 1; index < options.length; index += 1) {
      expect(options[index]?.score).toBeLessThanOrEqual(options[index - 1]?.score ?? Infinity);
    }
  });

  it.each(INPUTS)('%s: is the same for the same input, in any order', (_name, input) => {
    const again = advise({
      ...input,
      evidence: [...input.evidence].reverse(),
      hosts: [...input.hosts].reverse(),
    });
    expect(again).toEqual(advise(input));
  });

  it('has a confidence between 0 and 1 that says what it rests on', () => {
    for (const [, input] of INPUTS) {
      const { confidence } = advise(input);
      expect(confidence.value).toBeGreaterThanOrEqual(0);
      expect(confidence.value).toBeLessThanOrEqual(1);
      expect(confidence.restsOn.at(-1)).toMatch(/^Confidence [\d.]+: mean figure quality/);
    }
  });

  it('does not read the clock: only input.now says what is stale', () => {
    const input = engineInput();
    const later = advise({ ...input, now: input.now + 30 * DAY_MS });
    expect(later.refresh).toEqual(['host-a']);
    expect(advise(input).refresh).toEqual([]);
  });
});

describe('docs/advisor.md', () => {
  const page = readFileSync(new URL('../../docs/advisor.md', import.meta.url), 'utf8');

  it('names every rule by its id', () => {
    for (const rule of RULES) expect(page).toContain(`\`${rule.id}\``);
  });

  it('gives every weight and constant of the scores and the confidence', () => {
    for (const [part, weight] of Object.entries(scores.WEIGHTS)) {
      expect(page).toMatch(new RegExp(`\\| ${part}\\s*\\| ${weight}\\s*\\|`));
    }
    for (const value of [
      scores.STARTUP_TOLERANCE,
      scores.MISSING_VALUE,
      scores.DENSE_INSTANCES,
      ...Object.values(scores.ISOLATION_VALUES),
      ...Object.values(QUALITY),
    ]) {
      expect(page).toContain(String(value));
    }
  });
});
