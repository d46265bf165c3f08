import { describe, expect, it } from 'vitest';
import type { AdviceOption, ScorePart } from '../../contracts/advice.ts';
import { advise } from '../../services/advisor/engine/engine.ts';
import { gatherFacts } from '../../services/advisor/engine/facts.ts';
import { ISOLATION_LEVELS, profileOf } from '../../services/advisor/engine/placements.ts';
import { compareRanked, rank, type RankedOption } from '../../services/advisor/engine/rank.ts';
import {
  containerLean,
  DENSE_INSTANCES,
  densityValue,
  ISOLATION_VALUES,
  lifetimeValue,
  LONG_LIFETIME_S,
  MISSING_VALUE,
  SHORT_LIFETIME_S,
  STARTUP_TOLERANCE,
  startupValue,
  throughputValue,
  WEIGHTS,
} from '../../services/advisor/engine/scores.ts';
import type { EvidenceRow } from '../../services/advisor/engine/types.ts';
import {
  CONTAINER,
  engineInput,
  hostInfo,
  platformRows,
  PROCESS,
  question,
  thisHostEvidence,
  VM_KVM,
} from '../../support/advice-fixtures.ts';

const DAY_S = 86_400;

const partOf = (option: AdviceOption | undefined, name: ScorePart['name']): ScorePart => {
  const part = option?.parts.find((each) => each.name === name);
  if (part === undefined) throw new Error(`no ${name} part`);
  return part;
};

const optionOf = (
  options: readonly AdviceOption[],
  placement: string,
  runtime: string,
): AdviceOption | undefined =>
  options.find((option) => option.placement === placement && option.runtime === runtime);

describe('weights', () => {
  it('sum to 1, each in [0, 1], one per part', () => {
    const weights = Object.values(WEIGHTS);
    expect(Object.keys(WEIGHTS).sort()).toEqual(
      ['density', 'isolation', 'lifetime', 'startup', 'throughput'].sort(),
    );
    expect(weights.reduce((sum, weight) => sum + weight, 0)).toBeCloseTo(1, 10);
    for (const weight of weights) expect(weight).toBeGreaterThan(0);
  });

  it('every part adds weight × value × 100 points, and the score is their sum', () => {
    for (const option of advise(engineInput()).options) {
      for (const part of option.parts) {
        expect(part.weight).toBe(WEIGHTS[part.name]);
        expect(part.points).toBeCloseTo(part.weight * part.value * 100, 0);
      }
      const sum = option.parts.reduce((total, part) => total + part.points, 0);
      expect(option.score).toBeCloseTo(sum, 5);
    }
  });
});

describe('start-up part: start-up amortised over the lifetime', () => {
  it.each([
    [150, 1],
    [150, 60],
    [150, 3_600],
    [4_500, 1],
    [4_500, 180],
    [4_500, 30 * DAY_S],
  ])('%d ms over a %d s life stays in (0, 1]', (startupMs, lifetime) => {
    const value = startupValue(startupMs, lifetime);
    expect(value).toBeGreaterThan(0);
    expect(value).toBeLessThanOrEqual(1);
  });

  it.each([150, 4_500])('a longer life makes a %d ms start-up matter less', (startupMs) => {
    const lives = [10, 60, 600, 3_600, DAY_S, 30 * DAY_S];
    const values = lives.map((life) => startupValue(startupMs, life));
    for (let index = 1; index < values.length; index += 1) {
      expect(values[index]).toBeGreaterThan(values[index - 1] ?? Infinity);
    }
  });

  it('a slower start scores lower over the same life', () => {
    expect(startupValue(4_500, 180)).toBeLessThan(startupValue(150, 180));
  });

  it('a start-up of the tolerated share of the life scores 0.5', () => {
    expect(startupValue(STARTUP_TOLERANCE * 100_000, 100)).toBeCloseTo(0.5, 10);
  });

  it('in an answer, a VM start-up part rises with the lifetime', () => {
    const at = (lifetimeSeconds: number): number =>
      partOf(
        optionOf(
          advise(engineInput({ question: question({ lifetimeSeconds }) })).options,
          'vm',
          'qemu-microvm',
        ),
        'startup',
      ).value;
    expect(at(60)).toBeLessThan(at(3_600));
    expect(at(3_600)).toBeLessThan(at(30 * DAY_S));
  });
});

describe('density part: memory overhead per instance, for the instance count', () => {
  it.each([
    [10, 0, 1_000, 1],
    [10, 10, 1_000, 0.5],
    [10, 30, 1_000, 0.25],
    [10, 320, 1, 1],
    [10, -2, 1_000, 1],
  ])('own %d MiB, overhead %d MiB, %d instances: %d', (own, overhead, instances, value) => {
    expect(densityValue(own, overhead, instances)).toBeCloseTo(value, 10);
  });

  it('more overhead gives a lower value', () => {
    const values = [0, 1.5, 30, 320, 3_000].map((overhead) => densityValue(10, overhead, 400));
    for (let index = 1; index < values.length; index += 1) {
      expect(values[index]).toBeLessThan(values[index - 1] ?? -Infinity);
    }
    for (const value of values) {
      expect(value).toBeGreaterThan(0);
      expect(value).toBeLessThanOrEqual(1);
    }
  });

  it('more instances make the same overhead count more', () => {
    const values = [1, 10, 100, DENSE_INSTANCES].map((count) => densityValue(10, 320, count));
    for (let index = 1; index < values.length; index += 1) {
      expect(values[index]).toBeLessThan(values[index - 1] ?? -Infinity);
    }
    expect(densityValue(10, 320, DENSE_INSTANCES * 10)).toBe(values[values.length - 1]);
  });

  it('in an answer, a measured overhead ten times larger lowers the part where hosts run short', () => {
    const heavier = thisHostEvidence().map((row) =>
      row.platform === 'vm' && row.metric === 'memory-overhead'
        ? { ...row, mean: row.mean * 10 }
        : row,
    );
    const density = (evidence: readonly EvidenceRow[], instances: number): number =>
      partOf(
        optionOf(
          advise(engineInput({ evidence, question: question({ instances }) })).options,
          'vm',
          'qemu-microvm',
        ),
        'density',
      ).value;
    // 400 VMs of 330 MiB take 6 hosts of 24 GiB, of 3,210 MiB 58; as containers they take 1.
    expect(density(thisHostEvidence(), 400)).toBeCloseTo(1 / 6, 3);
    expect(density(heavier, 400)).toBeCloseTo(1 / 58, 3);
    // 5 fit one host either way: the overhead does not matter there.
    expect(density(heavier, 5)).toBe(1);
    expect(density(thisHostEvidence(), 5)).toBe(1);
  });

  it("the question's own memory per instance replaces the bare process's peak", () => {
    const answer = advise(engineInput({ question: question({ memoryMiB: 2_048 }) }));
    const vm = partOf(optionOf(answer.options, 'vm', 'qemu-microvm'), 'density');
    expect(vm.why).toContain('2 GiB own + 320 MiB overhead');
    // 2,368 MiB an instance against 2,049.5 as containers: 400 take 40 hosts against 37.
    expect(vm.value).toBeCloseTo(37 / 40, 3);
  });
});

describe('throughput part: relative to the bare process', () => {
  it.each([
    [[1, 1], 1],
    [[0.5, 1], 0.75],
    [[1.2, 0.8], 0.9],
    [[-0.1, 0], 0],
  ])('ratios %j give %d', (ratios, value) => {
    expect(throughputValue(ratios)).toBeCloseTo(value, 10);
  });

  it('a lower ratio gives a lower part', () => {
    expect(throughputValue([0.6])).toBeLessThan(throughputValue([0.9]));
  });

  it('in an answer, a slower container gives a lower throughput part', () => {
    const slower = thisHostEvidence().map((row) =>
      row.platform === 'container' && row.metric === 'throughput'
        ? { ...row, mean: row.mean / 2 }
        : row,
    );
    const throughput = (evidence: readonly EvidenceRow[]): ScorePart =>
      partOf(
        optionOf(advise(engineInput({ evidence })).options, 'container', 'runc'),
        'throughput',
      );
    expect(throughput(slower).value).toBeCloseTo(throughput(thisHostEvidence()).value / 2, 2);
  });

  it('reads only the workloads of the sensitivities asked about', () => {
    const answer = advise(engineInput({ question: question({ sensitivity: ['io'] }) }));
    const container = optionOf(answer.options, 'container', 'runc');
    expect(partOf(container, 'throughput').value).toBeCloseTo(CONTAINER.ratios['file-fsync'], 3);
    const workloads = new Set(
      container?.evidence
        .filter((item) => item.metric === 'throughput')
        .map((item) => item.workload),
    );
    expect([...workloads]).toEqual(['file-fsync']);
  });

  it.each([
    ['cpu', ['cpu-sha256', 'cpu-gzip']],
    ['memory', ['memory-copy']],
    ['network', ['net-loopback']],
    ['syscall', ['syscall-fstat', 'process-spawn']],
  ] as const)('sensitivity %s reads %j', (sensitivity, expected) => {
    const answer = advise(engineInput({ question: question({ sensitivity: [sensitivity] }) }));
    const workloads = optionOf(answer.options, 'container', 'runc')
      ?.evidence.filter((item) => item.metric === 'throughput')
      .map((item) => item.workload);
    expect(workloads).toEqual(expected);
  });

  it('no sensitivity given weighs all five alike', () => {
    const all = advise(engineInput()).options[0];
    expect(partOf(all, 'throughput').why).toMatch(/cpu .*memory .*io .*network .*syscall/);
  });
});

describe('isolation part', () => {
  it('orders the levels: shared kernel < user-space kernel < VM < VM with a container', () => {
    const values = ISOLATION_LEVELS.map((level) => ISOLATION_VALUES[level]);
    for (let index = 1; index < values.length; index += 1) {
      expect(values[index]).toBeGreaterThan(values[index - 1] ?? Infinity);
    }
    expect(Math.max(...values)).toBeLessThanOrEqual(1);
    expect(Math.min(...values)).toBeGreaterThanOrEqual(0);
  });

  it('in an answer, a VM boundary scores above a shared kernel', () => {
    const { options } = advise(engineInput());
    const isolation = (placement: string, runtime: string): number =>
      partOf(optionOf(options, placement, runtime), 'isolation').value;
    expect(isolation('container', 'runc')).toBeLessThan(isolation('vm', 'qemu-microvm'));
    expect(isolation('vm', 'qemu-microvm')).toBeLessThan(
      isolation('container-in-vm', 'qemu-microvm'),
    );
  });
});

describe("lifetime part: the article's rule", () => {
  it.each([
    ['short-lived, one instance', 60, 1, 1],
    ['at the short end', SHORT_LIFETIME_S, 1, 1],
    ['long-lived, one instance', 30 * DAY_S, 1, 0],
    ['at the long end', LONG_LIFETIME_S, 1, 0],
    ['long-lived but dense', 30 * DAY_S, DENSE_INSTANCES, 1],
  ])('%s leans %d towards containers', (_name, lifetime, instances, lean) => {
    expect(containerLean(lifetime, instances)).toBeCloseTo(lean, 10);
  });

  it('leans less towards containers as the life grows', () => {
    const leans = [SHORT_LIFETIME_S, 3_600, DAY_S, LONG_LIFETIME_S].map((life) =>
      containerLean(life, 1),
    );
    for (let index = 1; index < leans.length; index += 1) {
      expect(leans[index]).toBeLessThan(leans[index - 1] ?? Infinity);
    }
  });

  it.each([
    ['a container', 1, 1, 1],
    ['a container', 1, 0, 0],
    ['a VM', 0, 1, 0],
    ['a VM', 0, 0, 1],
    ['both', 0.5, 1, 0.5],
    ['both', 0.5, 0, 0.5],
  ])('%s (share %d) at lean %d scores %d', (_kind, share, lean, value) => {
    expect(lifetimeValue(share, lean)).toBe(value);
  });

  it('in answers, short-lived work favours the container and long-lived work the VM', () => {
    const lifetime = (lifetimeSeconds: number, placement: string, runtime: string): number =>
      partOf(
        optionOf(
          advise(engineInput({ question: question({ lifetimeSeconds, instances: 1 }) })).options,
          placement,
          runtime,
        ),
        'lifetime',
      ).value;
    expect(lifetime(60, 'container', 'runc')).toBe(1);
    expect(lifetime(60, 'vm', 'qemu-microvm')).toBe(0);
    expect(lifetime(90 * DAY_S, 'container', 'runc')).toBe(0);
    expect(lifetime(90 * DAY_S, 'vm', 'qemu-microvm')).toBe(1);
  });
});

describe('missing figures', () => {
  it('a part with no figure at all scores the neutral value and says so', () => {
    const answer = advise(
      engineInput({
        evidence: [],
        hosts: [
          hostInfo('host-a', {
            platforms: [{ platform: 'container', runtime: 'runsc', available: true }],
          }),
        ],
      }),
    );
    const gvisor = optionOf(answer.options, 'container', 'runsc');
    for (const name of ['startup', 'density', 'throughput'] as const) {
      const part = partOf(gvisor, name);
      expect(part.value).toBe(MISSING_VALUE);
      expect(part.why).toContain('neither good nor bad');
    }
  });
});

describe('ties', () => {
  /** An option with that name and score; the order reads only names, isolation and score. */
  const ranked = (placement: string, runtime: string, score: number): RankedOption => {
    const figures = gatherFacts(engineInput({ evidence: [], hosts: [] })).options[0];
    if (figures === undefined) throw new Error('no options');
    const option = { placement, runtime };
    return {
      figures: { ...figures, option, profile: profileOf(option) },
      parts: [],
      score,
      interval: [score, score],
    };
  };

  it('on equal scores, the stronger isolation ranks first', () => {
    const order = [
      ranked('container', 'runc', 50),
      ranked('vm', 'qemu-microvm', 50),
      ranked('container-in-vm', 'qemu-microvm', 50),
      ranked('container', 'runsc', 50),
    ].sort(compareRanked);
    expect(
      order.map((each) => `${each.figures.option.placement}/${each.figures.option.runtime}`),
    ).toEqual([
      'container-in-vm/qemu-microvm',
      'vm/qemu-microvm',
      'container/runsc',
      'container/runc',
    ]);
  });

  it('on equal scores and isolation, placement then runtime by name', () => {
    const order = [ranked('vm', 'qemu-microvm', 50), ranked('vm', 'libvirt', 50)].sort(
      compareRanked,
    );
    expect(order.map((each) => each.figures.option.runtime)).toEqual(['libvirt', 'qemu-microvm']);
  });

  it('a higher score wins over stronger isolation', () => {
    const order = [ranked('vm', 'qemu-microvm', 50), ranked('container', 'runc', 50.1)].sort(
      compareRanked,
    );
    expect(order[0]?.figures.option.placement).toBe('container');
  });

  it('two runtimes of one placement with the same evidence tie, and rank by runtime name', () => {
    const kvmRows = platformRows('host-kvm', VM_KVM);
    const evidence = [
      ...platformRows('host-kvm', PROCESS),
      ...kvmRows,
      ...kvmRows.map((row) => ({ ...row, runtime: 'libvirt' })),
    ];
    const facts = gatherFacts(engineInput({ evidence, hosts: [] }));
    const { options } = rank(question({ lifetimeSeconds: 30 * DAY_S, instances: 1 }), facts);
    const vms = options.filter((option) => option.figures.option.placement === 'vm');
    expect(vms.map((option) => option.figures.option.runtime)).toEqual(['libvirt', 'qemu-microvm']);
    expect(vms[0]?.score).toBe(vms[1]?.score);
    expect(options[0]?.figures.option.placement).toBe('vm');
  });
});
