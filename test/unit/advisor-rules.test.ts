import { describe, expect, it } from 'vitest';
import type { AdviceQuestion } from '../../contracts/advice.ts';
import { advise } from '../../services/advisor/engine/engine.ts';
import { profileOf } from '../../services/advisor/engine/placements.ts';
import { hostOsFamily, kernelMeets, RULES } from '../../services/advisor/engine/rules.ts';
import type { EvidenceRow, HostInfo } from '../../services/advisor/engine/types.ts';
import {
  engineInput,
  evidenceRow,
  GVISOR,
  hostInfo,
  platformRows,
  question,
  thisHostEvidence,
} from '../../support/advice-fixtures.ts';

/**
 * A fleet with every kind of option: runc, gVisor (measured), Kata (offered, not measured),
 * VM and container-in-VM under TCG, and a VM in a container (its start-up measured).
 */
const RICH_HOST = hostInfo('host-a', {
  platforms: [
    ...hostInfo().platforms,
    { platform: 'container', runtime: 'runsc', available: true },
    { platform: 'container', runtime: 'kata-runtime', available: true },
  ],
});
const RICH_EVIDENCE: EvidenceRow[] = [
  ...thisHostEvidence(),
  ...platformRows('host-a', GVISOR),
  evidenceRow({
    hostId: 'host-a',
    platform: 'vm-in-container',
    runtime: 'qemu-microvm',
    accel: 'tcg',
    workload: 'instance',
    metric: 'startup',
    mean: 4_700,
    p95: 5_400,
  }),
];

const ALL = [
  'container/kata-runtime',
  'container/runc',
  'container/runsc',
  'container-in-vm/qemu-microvm',
  'vm/qemu-microvm',
  'vm-in-container/qemu-microvm',
].sort();

function ruledOutBy(
  changes: Partial<AdviceQuestion>,
  evidence: readonly EvidenceRow[] = RICH_EVIDENCE,
  hosts: readonly HostInfo[] = [RICH_HOST],
): { ranked: string[]; ruled: Map<string, string[]>; sentences: string[] } {
  const answer = advise(engineInput({ question: question(changes), evidence, hosts }));
  const ruled = new Map<string, string[]>();
  for (const entry of answer.ruledOut) {
    const name = `${entry.placement}/${entry.runtime ?? ''}`;
    ruled.set(entry.rule, [...(ruled.get(entry.rule) ?? []), name].sort());
  }
  return {
    ranked: answer.options.map((option) => `${option.placement}/${option.runtime}`).sort(),
    ruled,
    sentences: answer.ruledOut.map((entry) => entry.sentence),
  };
}

const SHARED_KERNEL = ['container/runc', 'container/runsc'];

describe('hard rules', () => {
  it('with no rule in play, rules nothing out and ranks every option', () => {
    const { ranked, ruled } = ruledOutBy({});
    expect(ruled.size).toBe(0);
    expect(ranked).toEqual(ALL);
  });

  it.each<{
    name: string;
    changes: Partial<AdviceQuestion>;
    rule: string;
    out: string[];
    words: string[];
  }>([
    {
      name: 'another OS family (windows)',
      changes: { os: { family: 'windows' } },
      rule: 'os-family',
      out: SHARED_KERNEL,
      words: ['windows', 'host-a runs linux', "shares the host's kernel"],
    },
    {
      name: 'another OS family (freebsd)',
      changes: { os: { family: 'freebsd' } },
      rule: 'os-family',
      out: SHARED_KERNEL,
      words: ['freebsd', 'host-a runs linux'],
    },
    {
      name: 'an OS Berth cannot name',
      changes: { os: { family: 'other' } },
      rule: 'os-family',
      out: SHARED_KERNEL,
      words: ['needs other'],
    },
    {
      name: 'a kernel range the host kernel does not meet',
      changes: { os: { family: 'linux', kernel: '>=6.8' } },
      rule: 'kernel-range',
      out: SHARED_KERNEL,
      words: ['>=6.8', 'kernel 6.1.0-56-amd64', 'does not meet it'],
    },
    {
      name: 'a kernel range below the host kernel',
      changes: { os: { family: 'linux', kernel: '<5.10' } },
      rule: 'kernel-range',
      out: SHARED_KERNEL,
      words: ['<5.10'],
    },
    {
      name: 'its own kernel modules',
      changes: { os: { family: 'linux', kernelModules: true } },
      rule: 'kernel-modules',
      out: SHARED_KERNEL,
      words: ['kernel modules', "host's kernel"],
    },
    {
      name: 'a dedicated full OS',
      changes: { os: { family: 'linux', fullOs: true } },
      rule: 'full-os',
      out: [...SHARED_KERNEL, 'container-in-vm/qemu-microvm', 'container/kata-runtime'],
      words: ['dedicated OS', 'runs it as a container'],
    },
    {
      name: 'untrusted code (gVisor measured, so it stays)',
      changes: { trust: 'untrusted' },
      rule: 'untrusted',
      out: ['container/runc'],
      words: ['VM boundary', "host's shared kernel"],
    },
    {
      name: 'a start-up budget the TCG VMs exceed',
      changes: { startupBudgetMs: 1_000 },
      rule: 'startup-budget',
      out: ['container-in-vm/qemu-microvm', 'vm-in-container/qemu-microvm', 'vm/qemu-microvm'],
      words: ['above the 1,000 ms budget', 'under TCG emulation', '5,200 ms'],
    },
    {
      name: 'a start-up budget below the container p95 (180 ms)',
      changes: { startupBudgetMs: 170 },
      rule: 'startup-budget',
      out: [
        'container-in-vm/qemu-microvm',
        'container/runc',
        'container/runsc',
        'vm-in-container/qemu-microvm',
        'vm/qemu-microvm',
      ],
      words: ['180 ms', 'above the 170 ms budget'],
    },
  ])('$name: rules out exactly $out by $rule', ({ changes, rule, out, words }) => {
    const { ranked, ruled, sentences } = ruledOutBy(changes);
    expect([...ruled.keys()]).toEqual([rule]);
    expect(ruled.get(rule)).toEqual([...out].sort());
    expect(ranked).toEqual(ALL.filter((name) => !out.includes(name)));
    for (const word of words) {
      expect(sentences.some((sentence) => sentence.includes(word))).toBe(true);
    }
  });

  it('a kernel range the host meets rules nothing out', () => {
    expect(ruledOutBy({ os: { family: 'linux', kernel: '>=6.1' } }).ruled.size).toBe(0);
  });

  it('a kernel range one host of several meets keeps the shared-kernel options', () => {
    const newer = hostInfo('host-b', { kernel: '6.12.9+bpo-amd64' });
    const { ruled } = ruledOutBy({ os: { family: 'linux', kernel: '>=6.8' } }, RICH_EVIDENCE, [
      RICH_HOST,
      newer,
    ]);
    expect(ruled.size).toBe(0);
  });

  it('the kernel range is checked on the hosts of the right OS family', () => {
    const bsd = hostInfo('host-bsd', { osFamily: 'freebsd', kernel: '14.1.0' });
    const { ruled } = ruledOutBy({ os: { family: 'linux', kernel: '>=14' } }, RICH_EVIDENCE, [
      RICH_HOST,
      bsd,
    ]);
    expect(ruled.get('kernel-range')).toEqual(SHARED_KERNEL);
  });

  it('untrusted code rules gVisor out where it was not measured, naming it a weaker boundary', () => {
    const unmeasured = RICH_EVIDENCE.filter((row) => row.runtime !== 'runsc');
    const { ruled, sentences } = ruledOutBy({ trust: 'untrusted' }, unmeasured);
    expect(ruled.get('untrusted')).toEqual(SHARED_KERNEL);
    expect(sentences.some((sentence) => /weaker boundary.*not measured/.test(sentence))).toBe(true);
  });

  it('untrusted code keeps a measured gVisor, with its weaker boundary in its reasons', () => {
    const answer = advise(
      engineInput({
        question: question({ trust: 'untrusted' }),
        evidence: RICH_EVIDENCE,
        hosts: [RICH_HOST],
      }),
    );
    const gvisor = answer.options.find((option) => option.runtime === 'runsc');
    expect(gvisor?.reasons.join(' ')).toContain('weaker boundary than a VM');
  });

  it('a start-up budget is not checked against published figures', () => {
    const { ranked, ruled } = ruledOutBy({ startupBudgetMs: 500 });
    expect(ranked).toContain('container/kata-runtime');
    expect(ruled.get('startup-budget')).not.toContain('container/kata-runtime');
  });

  it('several rules at once each name the option they rule out', () => {
    const { ruled, ranked } = ruledOutBy({
      os: { family: 'windows', fullOs: true },
      trust: 'untrusted',
    });
    expect(ruled.get('os-family')).toEqual(SHARED_KERNEL);
    expect(ruled.get('full-os')).toContain('container/runc');
    expect(ruled.get('untrusted')).toEqual(['container/runc']);
    expect(ranked).toEqual(['vm-in-container/qemu-microvm', 'vm/qemu-microvm'].sort());
  });

  it('with no host inventory, another OS is ruled out against an assumed Linux host', () => {
    const { ruled, sentences } = ruledOutBy({ os: { family: 'windows' } }, thisHostEvidence(), []);
    expect(ruled.get('os-family')).toEqual(['container/runc']);
    expect(sentences[0]).toContain('no host inventory');
  });

  it('with no host inventory, a kernel range cannot be checked and rules nothing out', () => {
    const answer = advise(
      engineInput({ question: question({ os: { family: 'linux', kernel: '>=7' } }), hosts: [] }),
    );
    expect(answer.ruledOut).toEqual([]);
    expect(answer.confidence.restsOn.join(' ')).toContain('kernel range cannot be checked');
  });

  it('every rule has an id, a summary, and a sentence that ends with a full stop', () => {
    expect(RULES.map((rule) => rule.id)).toEqual([
      'os-family',
      'kernel-range',
      'kernel-modules',
      'full-os',
      'untrusted',
      'startup-budget',
    ]);
    const { sentences } = ruledOutBy({
      os: { family: 'windows', kernel: '>=9', kernelModules: true, fullOs: true },
      trust: 'untrusted',
      startupBudgetMs: 100,
    });
    for (const sentence of sentences) expect(sentence).toMatch(/^[A-Z].*\.$/);
  });
});

describe('what the rules read', () => {
  it.each([
    ['6.1.0-56-amd64', '>=6.1', true],
    ['6.1.0-56-amd64', '>=6.8', false],
    ['6.18.44-fc-v782', '^6.8', true],
    ['5.10.0-30-cloud-amd64', '<6', true],
    ['not a kernel', '>=1', false],
  ])('kernel %s meets %s: %s', (kernel, range, meets) => {
    expect(kernelMeets(kernel, range)).toBe(meets);
  });

  it.each([
    ['linux', 'linux'],
    ['Linux', 'linux'],
    ['Windows', 'windows'],
    ['win32', 'windows'],
    ['freebsd', 'freebsd'],
    ['darwin', 'other'],
  ])('host OS %s is %s', (raw, family) => {
    expect(hostOsFamily(raw)).toBe(family);
  });

  it.each([
    ['container', 'runc', true, true, 'shared-kernel'],
    ['container', 'crun', true, true, 'shared-kernel'],
    ['container', 'runsc', true, true, 'user-space-kernel'],
    ['container', 'gvisor', true, true, 'user-space-kernel'],
    ['container', 'kata-runtime', false, true, 'vm-and-container'],
    ['vm', 'qemu-microvm', false, false, 'vm'],
    ['vm', 'libvirt', false, false, 'vm'],
    ['container-in-vm', 'qemu-microvm', false, true, 'vm-and-container'],
    ['vm-in-container', 'qemu-microvm', false, false, 'vm-and-container'],
    ['wasm', 'wasmtime', true, true, 'shared-kernel'],
  ])(
    '%s/%s: shares the host kernel %s, container-based %s, isolation %s',
    (placement, runtime, shares, containerBased, isolation) => {
      const profile = profileOf({ placement, runtime });
      expect(profile.sharesHostKernel).toBe(shares);
      expect(profile.containerBased).toBe(containerBased);
      expect(profile.isolation).toBe(isolation);
    },
  );
});
