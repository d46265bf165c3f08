import { describe, expect, it } from 'vitest';
import { advise } from '../../services/advisor/engine/engine.ts';
import {
  CONTAINER,
  engineInput,
  hostInfo,
  kvmHostEvidence,
  MIB,
  platformRows,
  PROCESS,
  question,
  thisHostEvidence,
  VM_KVM,
} from '../../support/advice-fixtures.ts';

const HOST_MIB = 24_105;
const DAY_S = 86_400;

describe('hosts that can take the workload', () => {
  it.each([
    ['the CI job in containers', question(), 'container', Math.floor(HOST_MIB / 11.5), true],
    [
      'the CI job with 1 GiB of its own',
      question({ memoryMiB: 1_024 }),
      'container',
      Math.floor(HOST_MIB / 1_025.5),
      false,
    ],
    [
      'one long-lived VM',
      question({ lifetimeSeconds: 30 * DAY_S, instances: 1 }),
      'vm',
      Math.floor(HOST_MIB / 330),
      true,
    ],
    [
      'untrusted code, 400 at once',
      question({ trust: 'untrusted' }),
      'container-in-vm',
      Math.floor(HOST_MIB / 345),
      false,
    ],
  ])('%s: fits from memory ÷ (own + overhead)', (_name, asked, placement, fits, enough) => {
    const answer = advise(engineInput({ question: asked }));
    expect(answer.options[0]?.placement).toBe(placement);
    expect(answer.hosts).toEqual([
      expect.objectContaining({ hostId: 'host-a', placement, fits, enough }),
    ]);
    expect(answer.hosts[0]?.why).toContain(`= ${fits.toLocaleString('en-US')}`);
  });

  it('enough is fits ≥ instances, at the edge too', () => {
    const fits = Math.floor(HOST_MIB / 11.5);
    const at = (instances: number): boolean | undefined =>
      advise(engineInput({ question: question({ instances }) })).hosts[0]?.enough;
    expect(at(fits)).toBe(true);
    expect(at(fits + 1)).toBe(false);
  });

  it("uses each host's own measured overhead, and lists the hosts by what they hold", () => {
    const heavy = platformRows('host-b', { ...CONTAINER, memoryOverheadMiB: 100 });
    const answer = advise(
      engineInput({
        evidence: [...thisHostEvidence('host-a'), ...platformRows('host-b', PROCESS), ...heavy],
        hosts: [hostInfo('host-b'), hostInfo('host-a')],
      }),
    );
    expect(answer.hosts.map((fit) => [fit.hostId, fit.fits])).toEqual([
      ['host-a', Math.floor(HOST_MIB / 11.5)],
      ['host-b', Math.floor(HOST_MIB / 110)],
    ]);
    expect(answer.hosts[1]?.why).toContain('measured here');
  });

  it('a host whose kernel the workload cannot share holds none, and says why', () => {
    const answer = advise(
      engineInput({
        question: question({ os: { family: 'linux', kernel: '>=6.8' } }),
        evidence: [...thisHostEvidence('host-a'), ...thisHostEvidence('host-b')],
        hosts: [hostInfo('host-a'), hostInfo('host-b', { kernel: '6.12.9+bpo-amd64' })],
      }),
    );
    expect(answer.options[0]?.placement).toBe('container');
    const byHost = new Map(answer.hosts.map((fit) => [fit.hostId, fit]));
    expect(byHost.get('host-a')).toMatchObject({ fits: 0, enough: false });
    expect(byHost.get('host-a')?.why).toContain('its kernel 6.1.0-56-amd64 does not meet >=6.8');
    expect(byHost.get('host-b')?.fits).toBeGreaterThan(400);
  });

  it('a host where the placement is not available holds none, with the reason', () => {
    const noContainers = hostInfo('host-b', {
      platforms: [
        { platform: 'process', runtime: 'node', available: true },
        { platform: 'container', runtime: 'runc', available: false, reason: 'runc not installed' },
      ],
    });
    const answer = advise(engineInput({ hosts: [hostInfo('host-a'), noContainers] }));
    expect(answer.hosts.find((fit) => fit.hostId === 'host-b')).toMatchObject({
      fits: 0,
      enough: false,
      why: 'container/runc is not available on host-b: runc not installed.',
    });
  });

  it('a host with less memory holds fewer', () => {
    const small = hostInfo('host-small', { memoryBytes: 2_048 * MIB });
    const answer = advise(
      engineInput({
        evidence: [...thisHostEvidence('host-a'), ...thisHostEvidence('host-small')],
        hosts: [hostInfo('host-a'), small],
      }),
    );
    expect(answer.hosts.find((fit) => fit.hostId === 'host-small')?.fits).toBe(
      Math.floor(2_048 / 11.5),
    );
  });

  it('options tied first are each given, with their runtime', () => {
    const kvm = platformRows('host-a', VM_KVM);
    const evidence = [
      ...kvmHostEvidence('host-a'),
      ...kvm.map((row) => ({ ...row, runtime: 'libvirt' })),
    ];
    const libvirtAvailable = hostInfo('host-a', {
      platforms: hostInfo().platforms.map((platform) =>
        platform.runtime === 'libvirt' ? { ...platform, available: true, accel: 'kvm' } : platform,
      ),
    });
    const answer = advise(
      engineInput({
        question: question({ lifetimeSeconds: 30 * DAY_S, instances: 1 }),
        evidence,
        hosts: [libvirtAvailable],
      }),
    );
    expect(answer.hosts.map((fit) => [fit.placement, fit.runtime, fit.fits])).toEqual([
      ['vm', 'libvirt', Math.floor(HOST_MIB / 300)],
      ['vm', 'qemu-microvm', Math.floor(HOST_MIB / 300)],
    ]);
  });

  it('an option no host of the question can run holds nothing: its density part says why', () => {
    const kvm = platformRows('host-a', VM_KVM);
    const answer = advise(
      engineInput({
        question: question({ lifetimeSeconds: 30 * DAY_S, instances: 1 }),
        evidence: [
          ...kvmHostEvidence('host-a'),
          ...kvm.map((row) => ({ ...row, runtime: 'libvirt' })),
        ],
      }),
    );
    const libvirt = answer.options.find((option) => option.runtime === 'libvirt');
    const density = libvirt?.parts.find((part) => part.name === 'density');
    expect(density?.value).toBe(0);
    expect(density?.why).toContain("libvirt's test driver runs no guest");
    expect(libvirt?.hostsNeeded).toBeUndefined();
    expect(answer.options[0]?.runtime).toBe('qemu-microvm');
  });

  it('a host with evidence but no inventory is not listed: its memory is unknown', () => {
    const answer = advise(
      engineInput({ evidence: [...thisHostEvidence('host-a'), ...thisHostEvidence('host-b')] }),
    );
    expect(answer.hosts.map((fit) => fit.hostId)).toEqual(['host-a']);
  });

  it('nothing ranked, no hosts listed', () => {
    const answer = advise(
      engineInput({ question: question({ trust: 'untrusted', startupBudgetMs: 1_000 }) }),
    );
    expect(answer.hosts).toEqual([]);
  });
});
