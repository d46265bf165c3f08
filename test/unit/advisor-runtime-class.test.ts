import { describe, expect, it } from 'vitest';
import { runtimeClassOf } from '../../services/advisor/runtime-class.ts';
import { evidenceRow } from '../../support/advice-fixtures.ts';

const overhead = (hostId: string, mean: number, results: number, runtime = 'kata') =>
  evidenceRow({
    hostId,
    platform: 'container-in-vm',
    runtime,
    workload: 'instance',
    metric: 'memory-overhead',
    mean,
    results,
  });

describe('RuntimeClass export', () => {
  it('sets the pod overhead to the measured memory overhead, weighted by results and rounded up', () => {
    const exported = runtimeClassOf(
      { platform: 'container-in-vm', runtime: 'kata', handler: 'kata-qemu' },
      [
        overhead('host-a', 120.2, 3),
        overhead('host-b', 130.2, 1),
        overhead('host-c', 999, 5, 'other'),
        evidenceRow({
          hostId: 'host-a',
          platform: 'container-in-vm',
          runtime: 'kata',
          workload: 'instance',
          metric: 'memory-peak',
          mean: 400,
        }),
      ],
    );
    // (120.2 × 3 + 130.2) / 4 = 122.7 → 123 MiB
    expect(exported.memoryMiB).toBe(123);
    expect(exported.hosts).toEqual(['host-a', 'host-b']);
    expect(exported.results).toBe(4);
    expect(exported.yaml).toContain('kind: RuntimeClass');
    expect(exported.yaml).toContain('  name: berth-kata\n');
    expect(exported.yaml).toContain('handler: kata-qemu\n');
    expect(exported.yaml).toContain('    memory: "123Mi"\n');
    expect(exported.yaml).not.toMatch(/^\s+cpu:/m);
  });

  it('refuses a runtime it has no measurement of, saying what to run', () => {
    expect(() =>
      runtimeClassOf({ platform: 'vm', runtime: 'libvirt', handler: 'kata' }, [
        overhead('host-a', 100, 1),
      ]),
    ).toThrow(/no measured memory overhead for vm:libvirt/);
  });

  it.each([
    ['name', { name: 'Kata_Runtime' }],
    ['handler', { handler: 'bad handler' }],
  ])('refuses a %s that is not a DNS-1123 label', (field, override) => {
    expect(() =>
      runtimeClassOf(
        { platform: 'container-in-vm', runtime: 'kata', handler: 'kata', ...override },
        [overhead('host-a', 100, 1)],
      ),
    ).toThrow(new RegExp(`RuntimeClass ${field} .* is not a DNS-1123 label`));
  });
});
