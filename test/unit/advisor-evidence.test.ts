import { describe, expect, it } from 'vitest';
import type { AdviceOption, Evidence } from '../../contracts/advice.ts';
import { HOSTS_PER_EVIDENCE } from '../../contracts/evidence-hosts.ts';
import { figureQuality, hostFactor, QUALITY } from '../../services/advisor/engine/confidence.ts';
import { advise } from '../../services/advisor/engine/engine.ts';
import { roundTo } from '../../services/advisor/engine/format.ts';
import { PUBLISHED_FIGURES, PUBLISHED_SOURCES } from '../../services/advisor/engine/published.ts';
import type { EngineAnswer } from '../../services/advisor/engine/types.ts';
import {
  CONTAINER,
  DAY_MS,
  engineInput,
  hostInfo,
  kvmHostEvidence,
  NOW,
  platformRows,
  PROCESS,
  question,
  thisHostEvidence,
  VM_TCG,
} from '../../support/advice-fixtures.ts';

const optionOf = (
  answer: EngineAnswer,
  placement: string,
  runtime = placement === 'container' ? 'runc' : 'qemu-microvm',
): AdviceOption => {
  const option = answer.options.find(
    (each) => each.placement === placement && each.runtime === runtime,
  );
  if (option === undefined) throw new Error(`no option ${placement}/${runtime}`);
  return option;
};

const throughputOf = (option: AdviceOption): Evidence[] =>
  option.evidence.filter((item) => item.metric === 'throughput');

const partValue = (option: AdviceOption, name: string): number =>
  option.parts.find((part) => part.name === name)?.value ?? Number.NaN;

/** Only the bare process and the container measured; the VMs offered but never run. */
const withoutVmEvidence = [PROCESS, CONTAINER].flatMap((figures) =>
  platformRows('host-a', figures),
);

describe('published figures', () => {
  it('keep every published source, and every figure names a known source and its unit', () => {
    expect(Object.keys(PUBLISHED_SOURCES).sort()).toEqual(
      [
        'felter2015',
        'firecracker2020',
        'kata2019',
        'lightvm2017',
        'papersSummary',
        'sharma2016',
      ].sort(),
    );
    for (const figure of PUBLISHED_FIGURES) {
      expect(PUBLISHED_SOURCES[figure.source].citation.length).toBeGreaterThan(10);
      expect(['ms', 'MiB', 'ratio']).toContain(figure.unit);
    }
  });

  it('mark the figures no source states outright as unverified', () => {
    const unverified = PUBLISHED_FIGURES.filter((figure) => figure.unverified).map(
      (figure) => figure.claim,
    );
    expect(unverified).toEqual(
      expect.arrayContaining([
        'about half of native random-I/O IOPS',
        'Docker NAT networking costs about 20% of throughput',
      ]),
    );
  });
});

describe('missing evidence', () => {
  const full = advise(engineInput());
  const missing = advise(engineInput({ evidence: withoutVmEvidence }));

  it('falls back to published figures, labelled as such with their source', () => {
    const vm = optionOf(missing, 'vm');
    const startup = vm.evidence.find((item) => item.metric === 'startup');
    expect(startup).toMatchObject({ source: 'published', value: 125, accel: 'kvm', samples: 0 });
    expect(startup?.note).toContain('Firecracker');
    expect(vm.reasons.join(' ')).toContain('Published figures stand in');
    const civ = optionOf(missing, 'container-in-vm');
    expect(civ.evidence.find((item) => item.metric === 'memory-overhead')?.note).toContain('Kata');
  });

  it('lowers the confidence', () => {
    expect(missing.confidence.value).toBeLessThan(full.confidence.value);
    expect(missing.confidence.restsOn[0]).toMatch(/\d+ published/);
  });

  it('asks the host that offers the platform for a fresh run', () => {
    expect(full.refresh).toEqual([]);
    expect(missing.refresh).toEqual(['host-a']);
    expect(optionOf(missing, 'vm').reasons.join(' ')).toContain('Fresh runs wanted from host-a');
  });

  it('does not ask a host whose agent cannot run the platform', () => {
    const noVms = hostInfo('host-a', {
      platforms: hostInfo().platforms.map((offered) =>
        offered.platform.includes('vm') ? { ...offered, available: false } : offered,
      ),
    });
    expect(advise(engineInput({ evidence: withoutVmEvidence, hosts: [noVms] })).refresh).toEqual(
      [],
    );
  });

  it('with no evidence and no hosts still answers, from published figures, with low confidence', () => {
    const answer = advise(engineInput({ evidence: [], hosts: [] }));
    expect(answer.options.map((option) => option.placement).sort()).toEqual(
      ['container', 'container-in-vm', 'vm'].sort(),
    );
    expect(answer.refresh).toEqual([]);
    expect(answer.hosts).toEqual([]);
    expect(answer.evidenceIds).toEqual([]);
    expect(answer.confidence.value).toBeLessThan(0.4);
    expect(answer.confidence.restsOn.join(' ')).toContain('No host measured these options');
    for (const option of answer.options) {
      expect(option.evidence.every((item) => item.source === 'published')).toBe(true);
    }
  });

  it('names a sensitivity with no figure at all and leaves it out of the throughput part', () => {
    const answer = advise(
      engineInput({
        evidence: withoutVmEvidence,
        question: question({ sensitivity: ['cpu', 'network'] }),
      }),
    );
    const vm = optionOf(answer, 'vm');
    expect(vm.reasons.join(' ')).toContain(
      'No figure, measured or published, for network throughput',
    );
    expect(partValue(vm, 'throughput')).toBeCloseTo(0.95, 5);
  });

  it('a bare process with no throughput leaves the ratios to published figures', () => {
    const noBaseline = thisHostEvidence().filter(
      (row) => !(row.platform === 'process' && row.metric === 'throughput'),
    );
    const container = optionOf(advise(engineInput({ evidence: noBaseline })), 'container');
    const cpu = throughputOf(container).filter((item) => item.workload === 'cpu-sha256');
    expect(cpu).toMatchObject([{ source: 'published', value: 0.97 }]);
  });
});

describe('stale evidence', () => {
  const old = { latestAt: NOW - 10 * DAY_MS };
  const fresh = advise(engineInput());
  const stale = advise(engineInput({ evidence: thisHostEvidence('host-a', old) }));

  it('is used, labelled stale, with a lower confidence, and its host asked again', () => {
    const container = optionOf(stale, 'container');
    expect(container.evidence.every((item) => item.stale)).toBe(true);
    expect(container.evidence[0]?.latestAt).toBe(old.latestAt);
    expect(stale.confidence.value).toBeLessThan(fresh.confidence.value);
    expect(stale.confidence.restsOn.join(' ')).toContain('Stale');
    expect(container.reasons.join(' ')).toContain(
      'Stale evidence (newest result older than 7 days)',
    );
    expect(stale.refresh).toEqual(['host-a']);
  });

  it('gives way to fresh evidence of another host, and the stale host is asked again', () => {
    const answer = advise(
      engineInput({
        evidence: [...thisHostEvidence('host-a', old), ...thisHostEvidence('host-b')],
        hosts: [hostInfo('host-a'), hostInfo('host-b')],
      }),
    );
    const container = optionOf(answer, 'container');
    expect(container.evidence.every((item) => !item.stale)).toBe(true);
    expect(container.evidence.every((item) => item.hosts.join() === 'host-b')).toBe(true);
    expect(answer.refresh).toEqual(['host-a']);
  });

  it('a stale baseline makes its ratios stale too', () => {
    const evidence = thisHostEvidence().map((row) =>
      row.platform === 'process' ? { ...row, ...old } : row,
    );
    const container = optionOf(advise(engineInput({ evidence })), 'container');
    expect(throughputOf(container).every((item) => item.stale)).toBe(true);
  });
});

describe('TCG evidence', () => {
  const answer = advise(engineInput());

  it('is never read as what a VM costs: throughput comes from published KVM figures', () => {
    for (const placement of ['vm', 'container-in-vm']) {
      const option = optionOf(answer, placement);
      const scored = throughputOf(option).filter((item) => !item.used.includes('not used'));
      expect(scored.length).toBeGreaterThan(0);
      for (const item of scored) {
        expect(item.source).toBe('published');
        expect(item.accel).toBe('kvm');
      }
      expect(partValue(option, 'throughput')).toBeGreaterThan(0.5);
      expect(option.reasons.join(' ')).toContain('Measured under TCG emulation on host-a');
    }
  });

  it('is shown, labelled, as not used', () => {
    const emulated = throughputOf(optionOf(answer, 'vm')).filter((item) =>
      item.used.includes('not used'),
    );
    expect(emulated).toHaveLength(7);
    for (const item of emulated) {
      expect(item).toMatchObject({ source: 'measured', accel: 'tcg' });
      expect(item.note).toContain('TCG emulation');
      expect(item.value).toBeLessThan(0.1);
    }
  });

  it('changing the TCG throughput changes nothing in the score', () => {
    const slower = thisHostEvidence().map((row) =>
      row.accel === 'tcg' && row.metric === 'throughput' ? { ...row, mean: row.mean / 10 } : row,
    );
    const other = advise(engineInput({ evidence: slower }));
    expect(optionOf(other, 'vm').parts).toEqual(optionOf(answer, 'vm').parts);
  });

  it('labels TCG start-up and memory, and lowers the confidence against KVM evidence', () => {
    const vm = optionOf(answer, 'vm');
    expect(vm.evidence.find((item) => item.metric === 'startup')).toMatchObject({
      source: 'measured',
      accel: 'tcg',
      value: VM_TCG.startupMs,
    });
    const onKvm = advise(engineInput({ evidence: kvmHostEvidence('host-a') }));
    expect(onKvm.confidence.value).toBeGreaterThan(answer.confidence.value);
    expect(answer.confidence.restsOn.join(' ')).toContain(
      'vm/qemu-microvm was measured under TCG emulation only',
    );
  });

  it('a KVM host in the fleet gives the VM measured throughput, and TCG rows are left aside', () => {
    const fleet = advise(
      engineInput({
        evidence: [...thisHostEvidence(), ...kvmHostEvidence()],
        hosts: [hostInfo('host-a'), hostInfo('host-kvm')],
      }),
    );
    const vm = optionOf(fleet, 'vm');
    for (const item of throughputOf(vm)) {
      expect(item).toMatchObject({ source: 'measured', accel: 'kvm', hosts: ['host-kvm'] });
    }
    expect(vm.evidence.find((item) => item.metric === 'startup')?.value).toBe(280);
  });
});

describe('which hosts count', () => {
  const fleet = engineInput({
    evidence: [...thisHostEvidence('host-a'), ...kvmHostEvidence('host-kvm')],
    hosts: [hostInfo('host-a'), hostInfo('host-kvm')],
  });

  it('only the hosts the question names', () => {
    const answer = advise({ ...fleet, question: question({ hosts: ['host-kvm'] }) });
    const hosts = new Set(
      answer.options.flatMap((option) => option.evidence.flatMap((item) => item.hosts)),
    );
    expect([...hosts]).toEqual(['host-kvm']);
    expect(answer.hosts.map((fit) => fit.hostId)).toEqual(['host-kvm']);
    expect(answer.evidenceIds.every((id) => id.startsWith('r-host-kvm-'))).toBe(true);
  });

  it('an empty list of hosts counts them all', () => {
    expect(advise({ ...fleet, question: question({ hosts: [] }) })).toEqual(advise(fleet));
  });

  it('an unknown host id is no error: it has no evidence, and the confidence says so', () => {
    const answer = advise({ ...fleet, question: question({ hosts: ['host-gone'] }) });
    expect(answer.evidenceIds).toEqual([]);
    expect(answer.hosts).toEqual([]);
    expect(answer.confidence.restsOn.join(' ')).toContain('No inventory or evidence for host-gone');
  });

  it('averages over hosts and lists them', () => {
    const answer = advise(
      engineInput({
        evidence: [...thisHostEvidence('host-a'), ...kvmHostEvidence('host-kvm')],
        hosts: [hostInfo('host-a'), hostInfo('host-kvm')],
      }),
    );
    const startup = optionOf(answer, 'container').evidence[0];
    expect(startup).toMatchObject({ hosts: ['host-a', 'host-kvm'], value: 150, samples: 40 });
  });

  it('names the first hosts by name, and counts them all, when a figure has many', () => {
    const many = Array.from({ length: HOSTS_PER_EVIDENCE + 3 }, (_, index) => `host-${index + 10}`);
    const answer = advise(
      engineInput({
        evidence: many.flatMap((hostId) => thisHostEvidence(hostId)),
        hosts: many.map((hostId) => hostInfo(hostId)),
      }),
    );
    const startup = optionOf(answer, 'container').evidence[0];
    expect(startup?.hosts).toEqual(many.slice(0, HOSTS_PER_EVIDENCE));
    expect(startup?.hostCount).toBe(many.length);
    expect(answer.confidence.restsOn).toContain(
      `Measured on ${many.length} hosts: host-10, host-11, host-12, host-13, host-14 and 6 more.`,
    );
  });

  it('names every host, with no count, when a figure has few', () => {
    const startup = optionOf(advise(fleet), 'container').evidence[0];
    expect(startup?.hosts).toEqual(['host-a', 'host-kvm']);
    expect(startup).not.toHaveProperty('hostCount');
  });
});

describe('result ids behind the answer', () => {
  it('are those of the figures used, TCG rows shown included, and not the unused metrics', () => {
    const answer = advise(engineInput());
    expect(answer.evidenceIds).toContain('r-host-a-container-runc-instance-startup');
    expect(answer.evidenceIds).toContain('r-host-a-process-node-cpu-sha256-throughput');
    expect(answer.evidenceIds).toContain('r-host-a-vm-qemu-microvm-cpu-sha256-throughput');
    expect(answer.evidenceIds.some((id) => id.endsWith('-latency'))).toBe(false);
    expect(answer.evidenceIds.some((id) => id.endsWith('-density'))).toBe(false);
    expect([...answer.evidenceIds].sort()).toEqual(answer.evidenceIds);
  });

  it('include the start-up behind a start-up budget ruling', () => {
    const answer = advise(
      engineInput({ question: question({ startupBudgetMs: 1_000, trust: 'untrusted' }) }),
    );
    expect(answer.options).toEqual([]);
    expect(answer.evidenceIds).toEqual([
      'r-host-a-container-in-vm-qemu-microvm-instance-startup',
      'r-host-a-vm-qemu-microvm-instance-startup',
    ]);
  });
});

describe('confidence', () => {
  it.each<[string, Parameters<typeof figureQuality>[0], number]>([
    ['no figure', undefined, QUALITY.missing],
    ['measured, fresh', figure({}), QUALITY.measured],
    ['measured, stale', figure({ stale: true }), QUALITY.staleFactor],
    ['measured under TCG', figure({ tcg: true }), QUALITY.tcgFactor],
    ['measured, few samples', figure({ samples: 3 }), QUALITY.fewSamplesFactor],
    [
      'measured across host states',
      figure({ mixedStateHosts: ['host-a'] }),
      QUALITY.mixedHostStatesFactor,
    ],
    ['published', figure({ source: 'published' }), QUALITY.published],
    [
      'published, unverified',
      figure({ source: 'published', unverified: true }),
      QUALITY.publishedUnverified,
    ],
  ])('a figure %s is worth %d', (_name, each, quality) => {
    expect(figureQuality(each)).toBeCloseTo(quality, 10);
  });

  it('orders the kinds of figure: fresh > stale, TCG > published > unverified > none', () => {
    expect(QUALITY.measured).toBeGreaterThan(QUALITY.tcgFactor);
    expect(QUALITY.tcgFactor).toBeGreaterThan(QUALITY.staleFactor);
    expect(QUALITY.staleFactor).toBeGreaterThan(QUALITY.published);
    expect(QUALITY.published).toBeGreaterThan(QUALITY.publishedUnverified);
    expect(QUALITY.publishedUnverified).toBeGreaterThan(QUALITY.missing);
  });

  it('grows with the number of hosts', () => {
    expect(hostFactor(0)).toBeLessThan(hostFactor(1));
    expect(hostFactor(1)).toBeLessThan(hostFactor(2));
    expect(hostFactor(5)).toBe(1);
  });

  it('is higher with two hosts than with one, for the same figures', () => {
    const one = advise(engineInput({ evidence: kvmHostEvidence('host-a') }));
    const two = advise(
      engineInput({
        evidence: [...kvmHostEvidence('host-a'), ...kvmHostEvidence('host-b')],
        hosts: [hostInfo('host-a'), hostInfo('host-b')],
      }),
    );
    expect(two.confidence.value).toBeGreaterThan(one.confidence.value);
    expect(two.confidence.restsOn).toContain('Measured on 2 hosts: host-a and host-b.');
  });

  it('is a little lower where an option was measured across host states, and names it', () => {
    const oneState = kvmHostEvidence('host-a').map((row) => ({ ...row, hostStates: 1 }));
    const moved = oneState.map((row) =>
      row.platform === 'container' ? { ...row, hostStates: 2 } : row,
    );
    const steady = advise(engineInput({ evidence: oneState }));
    const answer = advise(engineInput({ evidence: moved }));
    expect(steady.confidence.value).toBe(
      advise(engineInput({ evidence: kvmHostEvidence('host-a') })).confidence.value,
    );
    expect(answer.confidence.value).toBeLessThan(steady.confidence.value);
    expect(answer.confidence.value).toBeGreaterThanOrEqual(
      roundTo(steady.confidence.value * QUALITY.mixedHostStatesFactor, 2),
    );
    expect(answer.confidence.restsOn).toContain(
      `Figures of container/runc on host-a merge results from more than one host state of the same host (its kernel, CPU settings or runtime versions changed between runs), so they count less (× ${QUALITY.mixedHostStatesFactor}).`,
    );
    expect(steady.confidence.restsOn.join(' ')).not.toContain('host state');
  });

  it('counts a throughput ratio across host states when the bare process it divides by was', () => {
    const moved = kvmHostEvidence('host-a').map((row) =>
      row.platform === 'process' && row.metric === 'throughput' ? { ...row, hostStates: 2 } : row,
    );
    const restsOn = advise(engineInput({ evidence: moved })).confidence.restsOn.join(' ');
    expect(restsOn).toContain('Figures of container/runc on host-a and vm/qemu-microvm on host-a');
  });

  it('is lower with few samples, and says which figure had the fewest', () => {
    const few = kvmHostEvidence('host-a').map((row) =>
      row.platform === 'container' && row.metric === 'startup' ? { ...row, samples: 3 } : row,
    );
    const answer = advise(engineInput({ evidence: few }));
    expect(answer.confidence.value).toBeLessThan(
      advise(engineInput({ evidence: kvmHostEvidence('host-a') })).confidence.value,
    );
    expect(answer.confidence.restsOn.join(' ')).toContain(
      'Fewest samples behind a measured figure: 3 (container/runc start-up), fewer than 5',
    );
  });
});

function figure(
  changes: Partial<Exclude<Parameters<typeof figureQuality>[0], undefined>>,
): Parameters<typeof figureQuality>[0] {
  return {
    value: 1,
    source: 'measured',
    stale: false,
    tcg: false,
    unverified: false,
    samples: 20,
    hosts: ['host-a'],
    byHost: new Map(),
    evidence: [],
    resultIds: [],
    origin: 'measured on host-a',
    interval: undefined,
    results: 20,
    uncalibratedResults: 0,
    mixedStateHosts: [],
    ...changes,
  };
}
