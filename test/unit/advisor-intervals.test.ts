import { TypeCompiler } from '@sinclair/typebox/compiler';
import { describe, expect, it } from 'vitest';
import { AdviceV1, type AdviceOption } from '../../contracts/advice.ts';
import { adviceOf } from '../../services/advisor/advisor.ts';
import { advise } from '../../services/advisor/engine/engine.ts';
import { gatherFacts } from '../../services/advisor/engine/facts.ts';
import { lifetimeThresholds } from '../../services/advisor/engine/what-would-change.ts';
import type { EngineAnswer } from '../../services/advisor/engine/types.ts';
import {
  CONTAINER,
  engineInput,
  hostInfo,
  platformRows,
  PROCESS,
  question,
  VM_KVM,
  withIntervals,
  type PlatformFigures,
} from '../../support/advice-fixtures.ts';

const HOUR_S = 3_600;
const DAY_S = 86_400;

/** A KVM host's process, runc container and VM, with the VM and container as given. */
const kvmHost = (container: PlatformFigures, vm: PlatformFigures = VM_KVM): EngineAnswer =>
  advise(
    engineInput({
      evidence: [PROCESS, container, vm].flatMap((figures) => platformRows('host-kvm', figures)),
      hosts: [],
      question: question({ lifetimeSeconds: HOUR_S, instances: 10 }),
    }),
  );

const names = (options: readonly AdviceOption[]): string[] =>
  options.map((option) => `${option.placement}/${option.runtime}`);

const optionNamed = (answer: EngineAnswer, placement: string): AdviceOption => {
  const option = answer.options.find((each) => each.placement === placement);
  if (option === undefined) throw new Error(`no ${placement} option`);
  return option;
};

const adviceChecker = TypeCompiler.Compile(AdviceV1);

describe('score intervals', () => {
  it('are the score at both ends, with no tie, where no figure has an interval', () => {
    const answer = kvmHost(CONTAINER);
    for (const option of answer.options) {
      expect(option.scoreInterval).toEqual([option.score, option.score]);
      expect(option.tiedWithTop).toBe(false);
      for (const part of option.parts) {
        expect([part.low, part.high]).toEqual([part.points, part.points]);
      }
    }
    expect(answer.tieBreak).toBeUndefined();
    expect(names(answer.options)).toEqual([
      'container/runc',
      'container-in-vm/qemu-microvm',
      'vm/qemu-microvm',
    ]);
  });

  it("give the throughput part the points at the ratios' interval ends, and sum the parts", () => {
    const answer = kvmHost(withIntervals(CONTAINER, 0.2));
    const container = optionNamed(answer, 'container');
    for (const part of container.parts) {
      if (part.name === 'throughput') {
        expect(part.low).toBeLessThan(part.points);
        expect(part.high).toBeGreaterThan(part.points);
      } else {
        expect([part.low, part.high]).toEqual([part.points, part.points]);
      }
    }
    const sum = (values: readonly number[]): number =>
      Math.round(values.reduce((total, value) => total + value, 0) * 10) / 10;
    expect(container.scoreInterval).toEqual([
      sum(container.parts.map((part) => part.low)),
      sum(container.parts.map((part) => part.high)),
    ]);
    const throughput = container.parts.find((part) => part.name === 'throughput');
    expect(throughput?.why).toMatch(/cpu 99% \[79%–118%\] \(measured\)/);
  });

  it('keep the answer valid against the strict schema', () => {
    const answer = kvmHost(withIntervals(CONTAINER, 0.2));
    expect(answer.tieBreak).toBeDefined();
    expect(adviceChecker.Check(adviceOf(question(), answer, 0))).toBe(true);
  });
});

describe('ties', () => {
  it('overlapping intervals tie with the top score, and stronger isolation goes first', () => {
    const plain = kvmHost(CONTAINER);
    const answer = kvmHost(withIntervals(CONTAINER, 0.2), withIntervals(VM_KVM, 0.2));
    const container = optionNamed(answer, 'container');
    const inVm = optionNamed(answer, 'container-in-vm');
    expect(container.score).toBe(optionNamed(plain, 'container').score);
    expect(container.score).toBeGreaterThan(inVm.score);
    expect(names(answer.options)).toEqual([
      'container-in-vm/qemu-microvm',
      'container/runc',
      'vm/qemu-microvm',
    ]);
    expect(answer.options.map((option) => option.tiedWithTop)).toEqual([true, true, false]);
    expect(answer.tieBreak?.rule).toBe('stronger-isolation');
    expect(answer.tieBreak?.sentence).toContain('are tied within measurement error');
    expect(answer.tieBreak?.sentence).toContain(
      'container-in-vm/qemu-microvm first because stronger isolation breaks a tie',
    );
    expect(container.reasons.join(' ')).toContain(
      'Tied within measurement error with container-in-vm/qemu-microvm (78.5), scoring 81.7 [76.9–82.6]; container-in-vm/qemu-microvm first because stronger isolation',
    );
    expect(optionNamed(answer, 'vm').reasons.join(' ')).not.toContain('Tied');
  });

  it('gives the hosts that fit each option tied with the top', () => {
    const answer = advise(
      engineInput({
        evidence: [PROCESS, withIntervals(CONTAINER, 0.3)].flatMap((figures) =>
          platformRows('host-a', figures),
        ),
        hosts: [hostInfo('host-a')],
        question: question({ lifetimeSeconds: 900, instances: 10 }),
      }),
    );
    const tied = answer.options.filter((option) => option.tiedWithTop);
    expect(tied.length).toBeGreaterThan(1);
    expect([...new Set(answer.hosts.map((fit) => fit.placement))].sort()).toEqual(
      tied.map((option) => option.placement).sort(),
    );
  });

  it('a clear gap gives no tie: the order is by score as without intervals', () => {
    const answer = kvmHost(withIntervals(CONTAINER, 0.005), withIntervals(VM_KVM, 0.005));
    expect(names(answer.options)).toEqual(names(kvmHost(CONTAINER).options));
    expect(answer.options.every((option) => !option.tiedWithTop)).toBe(true);
    expect(answer.tieBreak).toBeUndefined();
    expect(answer.options.flatMap((option) => option.reasons).join(' ')).not.toContain('Tied');
  });

  it('tied options of the same isolation keep the higher score first, and say so', () => {
    const vmLike = (runtime: string, ratio: number): PlatformFigures =>
      withIntervals(
        {
          ...VM_KVM,
          runtime,
          ratios: Object.fromEntries(
            Object.keys(VM_KVM.ratios).map((workload) => [workload, ratio]),
          ) as PlatformFigures['ratios'],
        },
        0.1,
      );
    const answer = advise(
      engineInput({
        evidence: [PROCESS, vmLike('qemu-microvm', 0.9), vmLike('libvirt', 0.88)].flatMap(
          (figures) => platformRows('host-kvm', figures),
        ),
        hosts: [],
        question: question({ lifetimeSeconds: 30 * 86_400, instances: 1 }),
      }),
    );
    expect(names(answer.options).slice(0, 2)).toEqual(['vm/qemu-microvm', 'vm/libvirt']);
    expect(answer.tieBreak?.rule).toBe('higher-score');
  });
});

describe('what would change the answer', () => {
  const long = question({ lifetimeSeconds: 30 * DAY_S, instances: 1 });
  const { below } = lifetimeThresholds(long, gatherFacts(engineInput({ question: long })));
  const at = below?.at ?? Number.NaN;
  const changesAt = (lifetimeSeconds: number): string[] =>
    advise(engineInput({ question: { ...long, lifetimeSeconds } })).whatWouldChange;

  it("drops a lifetime within the margin of the question's, and says such changes are left out", () => {
    expect(below).toBeDefined();
    const near = changesAt(at * 1.02);
    expect(near.join(' ')).not.toContain('lifetime, ');
    expect(near).toContain(
      "A lifetime or instance count within 3% of the question's (the equivalence margin) would change the first option; such changes are inside measurement error and not reported.",
    );
    expect(near.join(' ')).not.toContain('stays first');
  });

  it('reports a lifetime beyond the margin', () => {
    const far = changesAt(at * 1.05);
    expect(far[0]).toMatch(/^Below a .+ lifetime, .+ ranks first instead of vm\/qemu-microvm\.$/);
    expect(far.join(' ')).not.toContain('equivalence margin');
  });
});

describe('confidence', () => {
  const confidence = (answer: EngineAnswer): number => answer.confidence.value;

  it('is the same for intervals inside the margin as without intervals', () => {
    expect(confidence(kvmHost(withIntervals(CONTAINER, 0.01)))).toBe(
      confidence(kvmHost(CONTAINER)),
    );
  });

  it('is lower for wider intervals, and names the widest', () => {
    const narrow = kvmHost(withIntervals(CONTAINER, 0.05));
    const wide = kvmHost(withIntervals(CONTAINER, 0.2));
    expect(confidence(narrow)).toBeLessThan(confidence(kvmHost(CONTAINER)));
    expect(confidence(wide)).toBeLessThan(confidence(narrow));
    expect(confidence(wide)).toBeGreaterThanOrEqual(0);
    expect(wide.confidence.restsOn.join(' ')).toMatch(
      /figures with a 95% interval from interleaved rounds; the widest is container\/runc .+ throughput, .+, wider than ± the 3% equivalence margin/,
    );
  });

  it('is lower for results from uncalibrated runs, and says why', () => {
    const calibrated = kvmHost(withIntervals(CONTAINER, 0.01));
    const uncalibrated = kvmHost(withIntervals(CONTAINER, 0.01, 1));
    expect(confidence(uncalibrated)).toBeLessThan(confidence(calibrated));
    expect(uncalibrated.confidence.restsOn.join(' ')).toContain(
      'came from runs whose calibration canary missed',
    );
    expect(calibrated.confidence.restsOn.join(' ')).not.toContain('calibration canary');
  });
});
