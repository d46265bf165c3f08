import { describe, expect, it } from 'vitest';
import type { AdviceOption, AdviceQuestion } from '../../contracts/advice.ts';
import {
  fleetCapacity,
  hostsFor,
  type HostCapacity,
  type OptionCapacity,
} from '../../services/advisor/engine/capacity.ts';
import { advise } from '../../services/advisor/engine/engine.ts';
import { inputFacts } from '../../services/advisor/engine/facts.ts';
import type { EvidenceRow } from '../../services/advisor/engine/types.ts';
import {
  CONTAINER,
  CONTAINER_IN_VM_TCG,
  engineInput,
  hostInfo,
  loadMemoryRows,
  MIB,
  platformRows,
  PROCESS,
  question,
  VM_TCG,
  type PlatformFigures,
} from '../../support/advice-fixtures.ts';

const DAY_S = 86_400;

/** A capacity whose hosts hold these many instances each. */
const capacity = (fits: readonly number[]): OptionCapacity => ({
  option: { placement: 'vm', runtime: 'qemu-microvm' },
  hosts: fits.map((each, index) => ({
    hostId: `h${index}`,
    fits: each,
    known: true,
    why: () => '',
  })),
  largestFirst: [...fits].sort((a, b) => b - a),
  known: true,
});

const evidenceOf = (vm: PlatformFigures = VM_TCG): ReturnType<typeof platformRows> =>
  [PROCESS, CONTAINER, vm, CONTAINER_IN_VM_TCG].flatMap((figures) =>
    platformRows('host-a', figures),
  );

const densityOf = (option: AdviceOption | undefined): AdviceOption['parts'][number] | undefined =>
  option?.parts.find((part) => part.name === 'density');

const byPlacement = (options: readonly AdviceOption[], placement: string): AdviceOption =>
  options.find((option) => option.placement === placement) ?? expect.fail(`no ${placement}`);

describe('hosts needed', () => {
  it('fills the largest hosts first', () => {
    expect(hostsFor(capacity([9, 40, 9]), 40)).toEqual({ hosts: 1, held: true });
    expect(hostsFor(capacity([9, 40, 9]), 45)).toEqual({ hosts: 2, held: true });
    expect(hostsFor(capacity([9, 40, 9]), 58)).toEqual({ hosts: 3, held: true });
  });

  it('counts more hosts like the largest beyond what the hosts hold', () => {
    expect(hostsFor(capacity([9, 40, 9]), 59)).toEqual({ hosts: 4, held: false });
    // 58 on the three, the other 82 on three more hosts of 40.
    expect(hostsFor(capacity([9, 40, 9]), 140)).toEqual({ hosts: 6, held: false });
  });

  it('has no count when no host holds one instance', () => {
    expect(hostsFor(capacity([0, 0]), 1)).toBeUndefined();
    expect(hostsFor(capacity([]), 1)).toBeUndefined();
  });
});

describe('density in hosts', () => {
  // A long-lived service with 100 MiB of its own, 10 at once: one 24 GiB host holds them on
  // every option, whatever each option's overhead.
  const roomy = question({ lifetimeSeconds: 30 * DAY_S, instances: 10, memoryMiB: 100 });

  it('with capacity not binding, density does not change the ranking', () => {
    const asMeasured = advise(engineInput({ question: roomy, evidence: evidenceOf() }));
    const heavierVm = advise(
      engineInput({
        question: roomy,
        evidence: evidenceOf({ ...VM_TCG, memoryOverheadMiB: 900, memoryPeakMiB: 910 }),
      }),
    );
    const ranking = (options: readonly AdviceOption[]): [string, number][] =>
      options.map((option) => [option.placement, option.score]);
    expect(ranking(heavierVm.options)).toEqual(ranking(asMeasured.options));
    for (const option of asMeasured.options) {
      expect(option.hostsNeeded).toBe(1);
      expect(densityOf(option)?.value).toBe(1);
      expect(densityOf(option)?.why).toContain('as few as any option');
    }
  });

  // Three hosts of 4 GiB: 20 instances of 100 MiB take one host as containers (101.5 MiB each,
  // 40 a host) and all three as VMs (420 MiB each, 9 a host).
  const small = [
    hostInfo('host-a', { memoryBytes: 4_096 * MIB }),
    hostInfo('host-b', { memoryBytes: 4_096 * MIB }),
    hostInfo('host-c', { memoryBytes: 4_096 * MIB }),
  ];
  const tight = question({ lifetimeSeconds: 30 * DAY_S, instances: 20, memoryMiB: 100 });

  it('with capacity binding, the hosts needed decide the density part and its sentence names them', () => {
    const answer = advise(engineInput({ question: tight, evidence: evidenceOf(), hosts: small }));
    const container = byPlacement(answer.options, 'container');
    const vm = byPlacement(answer.options, 'vm');
    expect(container.hostsNeeded).toBe(1);
    expect(vm.hostsNeeded).toBe(3);
    expect(vm.fits).toEqual([
      { hostId: 'host-a', fits: 9 },
      { hostId: 'host-b', fits: 9 },
      { hostId: 'host-c', fits: 9 },
    ]);
    expect(densityOf(container)?.value).toBe(1);
    expect(densityOf(vm)?.value).toBeCloseTo(1 / 3, 3);
    expect(densityOf(vm)?.why).toContain(
      '20 instances need 3 hosts as vm/qemu-microvm; container/runc needs 1.',
    );
    expect(answer.verdict).toMatch(/^Run it as container\/runc \(score [\d.]+/);
    expect(answer.verdict).toContain('1 host as container/runc');
    expect(answer.verdict).toContain('3 as vm/qemu-microvm');
    expect(answer.verdict).not.toContain('beyond');
  });

  it('a lighter VM that needs fewer hosts scores more for density, in proportion', () => {
    const lighter = { ...VM_TCG, memoryOverheadMiB: 200, memoryPeakMiB: 210 };
    const answer = advise(
      engineInput({ question: tight, evidence: evidenceOf(lighter), hosts: small }),
    );
    const vm = byPlacement(answer.options, 'vm');
    // 300 MiB an instance: 13 a host, so 20 take two hosts.
    expect(vm.hostsNeeded).toBe(2);
    expect(densityOf(vm)?.value).toBe(0.5);
  });

  it('beyond what the hosts hold, hosts like the largest are counted, and the answer says so', () => {
    const many = { ...tight, instances: 100 };
    const answer = advise(engineInput({ question: many, evidence: evidenceOf(), hosts: small }));
    const vm = byPlacement(answer.options, 'vm');
    expect(vm).toMatchObject({ hostsNeeded: 12, fleetHolds: false });
    expect(byPlacement(answer.options, 'container')).toMatchObject({
      hostsNeeded: 3,
      fleetHolds: true,
    });
    // 27 on the three hosts, the other 73 on hosts like the largest (9 each): 3 + 9.
    expect(densityOf(vm)?.why).toContain('100 instances need 12 hosts as vm/qemu-microvm');
    expect(densityOf(vm)?.why).toContain("the question's 3 hosts hold 27");
    expect(answer.verdict).toContain('100 instances need 3 hosts as container/runc');
    expect(answer.verdict).toContain('12 as vm/qemu-microvm');
    expect(answer.verdict).toMatch(/beyond the question's hosts for [^)]*vm\/qemu-microvm/);
  });

  it("without the workload's own memory, the hosts are not counted, and the verdict says for which", () => {
    const answer = advise(
      engineInput({
        question: question({ lifetimeSeconds: 30 * DAY_S, instances: 20 }),
        evidence: platformRows('host-a', CONTAINER),
        hosts: small,
      }),
    );
    const container = byPlacement(answer.options, 'container');
    expect(container.hostsNeeded).toBeUndefined();
    expect(densityOf(container)?.value).toBe(0.5);
    expect(answer.verdict).toMatch(/hosts not counted for .*container\/runc/);
    expect(answer.verdict).not.toContain('instances need');
  });

  it('with every option ruled out, the verdict names them once each', () => {
    const answer = advise(
      engineInput({ question: question({ trust: 'untrusted', startupBudgetMs: 1_000 }) }),
    );
    expect(answer.options).toEqual([]);
    expect(answer.verdict).toMatch(/^No option fits: the rules ruled out .*container\/runc/);
    expect(answer.verdict).not.toContain('/any');
  });

  it('with no host inventory, density is memory per instance, and the verdict says hosts were not counted', () => {
    const answer = advise(engineInput({ question: tight, evidence: evidenceOf(), hosts: [] }));
    expect(answer.options[0]?.hostsNeeded).toBeUndefined();
    expect(answer.options[0]?.fits).toBeUndefined();
    expect(densityOf(byPlacement(answer.options, 'vm'))?.why).toMatch(/^No host to count in/);
    expect(answer.verdict).toContain('no host inventory to count hosts in');
  });
});

describe('capacities counted once per facts and what of the question they read', () => {
  it('reuses a count across lifetimes, instance counts and trust, and counts again for another memory or OS need', () => {
    const asked = question({ lifetimeSeconds: 30 * DAY_S, instances: 20 });
    const facts = inputFacts(
      engineInput({ question: asked, evidence: evidenceOf(), hosts: [hostInfo('host-a')] }),
    );
    const vmOf = (varied: AdviceQuestion) => {
      const vm = facts.options.find((each) => each.option.placement === 'vm');
      return vm === undefined ? undefined : fleetCapacity(varied, facts, [vm])?.of(vm.option);
    };
    const counted = vmOf(asked);
    expect(counted?.hosts[0]?.fits).toBeGreaterThan(0);
    const again = vmOf({ ...asked, lifetimeSeconds: 60, instances: 500, trust: 'untrusted' });
    expect(again).toBe(counted);
    // The sentence still says what each question wants.
    expect(counted?.hosts[0]?.why(20)).toContain('; 20 wanted;');
    expect(again?.hosts[0]?.why(500)).toContain('; 500 wanted;');
    const sized = vmOf({ ...asked, memoryMiB: 1024 });
    expect(sized).not.toBe(counted);
    expect(sized?.hosts[0]?.fits).toBeLessThan(counted?.hosts[0]?.fits ?? 0);
    expect(vmOf({ ...asked, os: { family: 'linux', kernel: '>=99' } })).not.toBe(counted);
  });
});

describe('capacity from memory at load', () => {
  const small = hostInfo('host-a', { memoryBytes: 4_096 * MIB });
  const others = [
    hostInfo('host-b', { memoryBytes: 4_096 * MIB }),
    hostInfo('host-c', { memoryBytes: 4_096 * MIB }),
  ];
  const long = question({ lifetimeSeconds: 30 * DAY_S, instances: 20 });

  /** What each host holds on each option, and why, for this question and evidence. */
  const hostsOn = (
    asked: AdviceQuestion,
    evidence: readonly EvidenceRow[],
    placement: string,
  ): readonly HostCapacity[] => {
    const facts = inputFacts(engineInput({ question: asked, evidence, hosts: [small, ...others] }));
    const fleet = fleetCapacity(asked, facts, facts.options);
    const option = facts.options.find((each) => each.option.placement === placement);
    return (option === undefined ? undefined : fleet?.of(option.option))?.hosts ?? [];
  };

  it('counts the memory per instance at load where the host measured it, at the smallest step at or above what it holds, and says so', () => {
    const evidence = [
      ...evidenceOf(),
      ...loadMemoryRows('host-a', VM_TCG, { 1: 400, 4: 380, 16: 350 }),
    ];
    const [hostA, hostB] = hostsOn(long, evidence, 'vm');
    // 4,096 ÷ 400 = 10 > 1 and ÷ 380 = 10 > 4, but ÷ 350 = 11 ≤ 16: the step of 16 counts.
    expect(hostA).toMatchObject({ hostId: 'host-a', fits: 11 });
    expect(hostA?.why(long.instances)).toBe(
      '4 GiB of memory ÷ 350 MiB per instance (memory per instance at load with 16 running, measured here; the smallest step measured at or above the 11 it holds) = 11; 20 wanted; VMs here run under TCG emulation.',
    );
    // host-b measured no density at load: 10 MiB own + 320 MiB overhead, as before.
    expect(hostB).toMatchObject({ hostId: 'host-b', fits: 12 });
    expect(hostB?.why(long.instances)).toContain(
      '(10 MiB own + 320 MiB overhead, measured on host-a',
    );
  });

  it('takes the largest step measured when the host holds more than any step ran', () => {
    const evidence = [...evidenceOf(), ...loadMemoryRows('host-a', CONTAINER, { 1: 14, 8: 13 })];
    const [hostA] = hostsOn(long, evidence, 'container');
    expect(hostA).toMatchObject({ fits: 315 });
    expect(hostA?.why(long.instances)).toContain(
      'memory per instance at load with 8 running, measured here; the largest step measured, below the 315 it holds',
    );
  });

  it("with the question's own memory, the overhead at load is the option's memory less the bare process's at the same step", () => {
    const sized = { ...long, memoryMiB: 100 };
    const evidence = [
      ...evidenceOf(),
      ...loadMemoryRows('host-a', VM_TCG, { 1: 400, 16: 350 }),
      ...loadMemoryRows('host-a', PROCESS, { 1: 12, 16: 50 }),
    ];
    const [hostA] = hostsOn(sized, evidence, 'vm');
    // Step 1: 100 + 388 = 488, 8 a host > 1; step 16: 100 + 300 = 400, 10 ≤ 16. Idle: 420, 9.
    expect(hostA).toMatchObject({ fits: 10 });
    expect(hostA?.why(long.instances)).toContain(
      "100 MiB own + 300 MiB overhead at load with 16 running: 350 MiB per instance less the bare process's 50 MiB, measured here",
    );

    const unpaired = [...evidenceOf(), ...loadMemoryRows('host-a', VM_TCG, { 16: 350 })];
    const [idle] = hostsOn(sized, unpaired, 'vm');
    expect(idle).toMatchObject({ fits: 9 });
    expect(idle?.why(long.instances)).toContain(
      'Memory at load was measured here, but at no step the bare process measured too, so the idle overhead counts.',
    );
  });

  it("shows the memory at load it counted with in the option's evidence, and its ids in the audit log", () => {
    const evidence = [
      ...evidenceOf(),
      ...loadMemoryRows('host-a', VM_TCG, { 1: 400, 4: 380, 16: 350 }),
    ];
    const answer = advise(engineInput({ question: long, evidence, hosts: [small, ...others] }));
    const vm = byPlacement(answer.options, 'vm');
    expect(vm.fits).toEqual([
      { hostId: 'host-a', fits: 11 },
      { hostId: 'host-b', fits: 12 },
      { hostId: 'host-c', fits: 12 },
    ]);
    const atLoad = vm.evidence.filter((item) => item.workload === 'density-load');
    expect(atLoad).toEqual([
      expect.objectContaining({
        metric: 'memory-per-instance-at-16',
        value: 350,
        hosts: ['host-a'],
        used: 'mean memory per instance at load with 16 running: what each host holds',
      }),
    ]);
    expect(answer.evidenceIds).toContain(
      'r-host-a-vm-qemu-microvm-density-load-memory-per-instance-at-16',
    );
    expect(answer.evidenceIds).not.toContain(
      'r-host-a-vm-qemu-microvm-density-load-memory-per-instance-at-4',
    );
  });
});
