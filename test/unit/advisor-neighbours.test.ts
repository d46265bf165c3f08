import { describe, expect, it } from 'vitest';
import type { AdviceOption, AdviceQuestion, ScorePart } from '../../contracts/advice.ts';
import { advise } from '../../services/advisor/engine/engine.ts';
import type { EngineAnswer, EvidenceRow } from '../../services/advisor/engine/types.ts';
import {
  CONTAINER,
  engineInput,
  hostInfo,
  interferenceRows,
  kvmHostEvidence,
  question,
  thisHostEvidence,
  VM_KVM,
  VM_TCG,
} from '../../support/advice-fixtures.ts';

/** A KVM host offering the bare process, runc containers and QEMU microvm VMs. */
const KVM_HOST = hostInfo('host-kvm', {
  platforms: [
    { platform: 'process', runtime: 'node', available: true, accel: 'none' },
    { platform: 'container', runtime: 'runc', available: true, accel: 'none' },
    { platform: 'vm', runtime: 'qemu-microvm', available: true, accel: 'kvm' },
  ],
});

/** An hour's life, 50 at once: containers first by a few points over VMs on this host. */
const hourly = (overrides: Partial<AdviceQuestion> = {}): AdviceQuestion =>
  question({ lifetimeSeconds: 3_600, instances: 50, ...overrides });

/**
 * The KVM host's evidence with noisy neighbours: the container slowed beside a CPU hog to 0.6
 * of alone and not beside an fsync storm; the VM the same beside both.
 */
const withNeighbours = (): EvidenceRow[] => [
  ...kvmHostEvidence('host-kvm'),
  ...interferenceRows('host-kvm', CONTAINER, { 'cpu-hog': 0.6, 'fsync-storm': 1 }),
  ...interferenceRows('host-kvm', VM_KVM, { 'cpu-hog': 0.99, 'fsync-storm': 1.01 }, 0.01),
];

const answerTo = (asked: AdviceQuestion, evidence = withNeighbours()): EngineAnswer =>
  advise(engineInput({ question: asked, evidence, hosts: [KVM_HOST] }));

const ranking = (answer: EngineAnswer): [string, number][] =>
  answer.options.map((option) => [`${option.placement}/${option.runtime}`, option.score]);

const optionOf = (answer: EngineAnswer, placement: string): AdviceOption =>
  answer.options.find((option) => option.placement === placement) ?? expect.fail(`no ${placement}`);

const isolationOf = (option: AdviceOption): ScorePart =>
  option.parts.find((part) => part.name === 'isolation') ?? expect.fail('no isolation part');

describe('noisy neighbours', () => {
  it('with neighbours own (or none named), interference results do not change the ranking or the evidence', () => {
    const without = answerTo(hourly(), kvmHostEvidence('host-kvm'));
    for (const asked of [hourly(), hourly({ neighbours: 'own' })]) {
      const answer = answerTo(asked);
      expect(ranking(answer)).toEqual(ranking(without));
      expect(ranking(answer)[0]?.[0]).toBe('container/runc');
      expect(answer.options.map((option) => option.parts)).toEqual(
        without.options.map((option) => option.parts),
      );
      expect(answer.evidenceIds).toEqual(without.evidenceIds);
      for (const option of answer.options) {
        expect(option.evidence.map((item) => item.workload)).not.toContain('interference');
      }
    }
  });

  it('with neighbours shared, a platform measured slower beside a CPU hog drops, and its isolation part names the antagonist and the slowdown', () => {
    const own = answerTo(hourly({ neighbours: 'own' }));
    const shared = answerTo(hourly({ neighbours: 'shared' }));
    expect(ranking(own)[0]?.[0]).toBe('container/runc');
    expect(ranking(shared)[0]?.[0]).toBe('vm/qemu-microvm');

    const container = isolationOf(optionOf(shared, 'container'));
    // 0.25 less the 0.2 lost on average over the two antagonists measured (0.4 and 0).
    expect(container.value).toBe(0.05);
    expect(container.points).toBeLessThan(isolationOf(optionOf(own, 'container')).points);
    expect(container.why).toContain('Other tenants share its hosts, so noisy neighbours count');
    expect(container.why).toContain(
      'beside a CPU hog 0.60× [0.57–0.63] of alone, measured on host-kvm',
    );
    expect(container.why).toContain('not slower beside an fsync storm');
    expect(container.why).toContain('not measured beside a memory-bandwidth hog and a fork storm');
    expect(container.why).toContain('0.25 − 0.2 = 0.05');
    // The interval's ends move the part: the low end loses more.
    expect(container.low).toBeLessThan(container.points);
    expect(container.high).toBeGreaterThan(container.points);

    const vm = isolationOf(optionOf(shared, 'vm'));
    expect(vm.value).toBe(0.9);
    expect(vm.why).toContain('not slower beside a CPU hog and an fsync storm');
    expect(vm.why).toContain('no throughput lost, so the isolation level counts in full');
  });

  it('with neighbours shared, the evidence lists the interference results used and the audit log their ids', () => {
    const shared = answerTo(hourly({ neighbours: 'shared' }));
    const container = optionOf(shared, 'container');
    const beside = container.evidence.filter((item) => item.workload === 'interference');
    expect(beside.map((item) => [item.metric, item.value])).toEqual([
      ['beside-cpu-hog', 0.6],
      ['beside-fsync-storm', 1],
    ]);
    expect(beside[0]?.hosts).toEqual(['host-kvm']);
    expect(beside[0]?.used).toContain('counted where its verdict is slower');
    expect(shared.evidenceIds).toContain('r-host-kvm-container-runc-interference-beside-cpu-hog');
  });

  it('an option with no interference result says it was not measured, and keeps its isolation level', () => {
    const shared = answerTo(hourly({ neighbours: 'shared' }), kvmHostEvidence('host-kvm'));
    const own = answerTo(hourly({ neighbours: 'own' }), kvmHostEvidence('host-kvm'));
    expect(ranking(shared)).toEqual(ranking(own));
    for (const option of shared.options) {
      const isolation = isolationOf(option);
      expect(isolation.why).toContain(
        'not measured beside noisy neighbours, so the isolation level alone counts',
      );
      expect(isolation.points).toBe(isolationOf(optionOf(own, option.placement)).points);
    }
  });

  it('untrusted code weighs noisy neighbours too, saying why', () => {
    const evidence = [
      ...kvmHostEvidence('host-kvm'),
      ...interferenceRows('host-kvm', VM_KVM, { 'fork-storm': 0.8 }),
    ];
    const trusted = answerTo(hourly(), evidence);
    const untrusted = answerTo(hourly({ trust: 'untrusted' }), evidence);
    expect(isolationOf(optionOf(trusted, 'vm')).value).toBe(0.9);
    const vm = isolationOf(optionOf(untrusted, 'vm'));
    expect(vm.value).toBe(0.7);
    expect(vm.why).toContain("Untrusted code means other tenants' code beside it");
    expect(vm.why).toContain('beside a fork storm 0.80× [0.76–0.84] of alone');
  });

  it('interference measured only under TCG emulation is shown but not counted, like TCG throughput', () => {
    const evidence = [
      ...thisHostEvidence(),
      ...interferenceRows('host-a', VM_TCG, { 'cpu-hog': 0.5 }),
    ];
    const answer = advise(engineInput({ question: question({ neighbours: 'shared' }), evidence }));
    const vm = optionOf(answer, 'vm');
    expect(isolationOf(vm).value).toBe(0.9);
    expect(isolationOf(vm).why).toContain(
      'not measured beside noisy neighbours on hardware (measured only under TCG emulation on host-a, not used)',
    );
    const shown = vm.evidence.find((item) => item.metric === 'beside-cpu-hog');
    expect(shown?.used).toContain('measured under TCG emulation, not used');
  });

  it('counts a slowdown only on the hosts whose verdict is slower, saying which were not, and never below 0', () => {
    const twoHosts = [
      ...withNeighbours(),
      ...kvmHostEvidence('host-kvm2'),
      ...interferenceRows('host-kvm2', CONTAINER, { 'cpu-hog': 1 }, 0.01),
    ];
    const container = isolationOf(
      optionOf(answerTo(hourly({ neighbours: 'shared' }), twoHosts), 'container'),
    );
    // CPU hog: (0.6 + 1) / 2 = 0.8 kept; fsync storm: 1 kept; lost (0.2 + 0) / 2 = 0.1.
    expect(container.value).toBe(0.15);
    expect(container.why).toContain(
      'beside a CPU hog 0.60× [0.57–0.63] of alone, measured on host-kvm (not slower on host-kvm2)',
    );

    const hogged = [
      ...kvmHostEvidence('host-kvm'),
      ...interferenceRows('host-kvm', CONTAINER, { 'cpu-hog': 0.5 }),
    ];
    const clamped = isolationOf(
      optionOf(answerTo(hourly({ neighbours: 'shared' }), hogged), 'container'),
    );
    expect(clamped.value).toBe(0);
    expect(clamped.why).toContain('comes off the isolation value: 0.25 − 0.5 leaves 0');
  });
});
