import { describe, expect, it } from 'vitest';
import { runtimeClassOf } from '../../services/advisor/runtime-class.ts';
import { DENSITY_LOAD_WORKLOAD, loadMetric } from '../../contracts/workloads.ts';
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
    expect(exported.memory).toMatchObject({
      source: 'idle',
      mebibytes: 123,
      hosts: ['host-a', 'host-b'],
      results: 4,
    });
    expect(exported.memory.description).toMatch(
      /^Memory: no density-at-load result for container-in-vm:kata, so the mean idle memory overhead/,
    );
    expect(exported.yaml).toContain('kind: RuntimeClass');
    expect(exported.yaml).toContain('  name: berth-kata\n');
    expect(exported.yaml).toContain('handler: kata-qemu\n');
    expect(exported.yaml).toContain('    memory: "123Mi"\n');
    expect(exported.yaml).not.toMatch(/^\s+cpu:/m);
    expect(exported.cpuLeftOut).toMatch(
      /^CPU is not set: no idle-cpu result for container-in-vm:kata/,
    );
    expect(exported.yaml).toContain('# CPU is not set: no idle-cpu result');
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

  describe('from density at load', () => {
    /** A runtime's (or the bare process's) memory per instance at load at one step. */
    const atLoad = (
      hostId: string,
      platform: string,
      runtime: string,
      instances: number,
      mean: number,
      p95 = mean,
      results = 1,
    ) =>
      evidenceRow({
        hostId,
        platform,
        runtime,
        workload: DENSITY_LOAD_WORKLOAD,
        metric: loadMetric('memory', instances),
        unit: 'MiB',
        mean,
        p95,
        results,
      });
    const idleCpu = (hostId: string, platform: string, runtime: string, mean: number) =>
      evidenceRow({
        hostId,
        platform,
        runtime,
        workload: 'instance',
        metric: 'idle-cpu',
        unit: 'millicores',
        mean,
        results: 2,
      });
    const evidence = [
      overhead('host-a', 120, 1, 'runc'),
      atLoad('host-a', 'container', 'runc', 1, 60),
      // At 4: host-a 50 − 35 + (54 − 50) = 19 over two results, host-b 48 − 36 = 12 over one.
      atLoad('host-a', 'container', 'runc', 4, 50, 54, 2),
      atLoad('host-b', 'container', 'runc', 4, 48),
      atLoad('host-a', 'process', 'node', 4, 35),
      atLoad('host-b', 'process', 'node', 4, 36),
      // At 16: host-a 40 − 30 + 6 = 16 only; the bare process did not measure it on host-b.
      atLoad('host-a', 'container', 'runc', 16, 40, 46),
      atLoad('host-a', 'process', 'node', 16, 30),
    ];
    const request = { platform: 'container', runtime: 'runc', handler: 'runc' };

    it('reads memory at the smallest step at or above the instances asked for, net of the bare process at that step, plus the p95 margin', () => {
      const exported = runtimeClassOf({ ...request, instances: 3 }, evidence);
      // (19 × 2 + 12) / 3 = 16.7 → 17 MiB
      expect(exported.memory).toMatchObject({
        source: 'at-load',
        step: 4,
        mebibytes: 17,
        hosts: ['host-a', 'host-b'],
        nettedOn: ['host-a', 'host-b'],
        results: 5,
      });
      expect(exported.memory.marginMiB).toBeCloseTo(8 / 3, 6);
      expect(exported.memory.resultIds).toEqual([
        'r-host-a-container-runc-density-load-memory-per-instance-at-4',
        'r-host-a-process-node-density-load-memory-per-instance-at-4',
        'r-host-b-container-runc-density-load-memory-per-instance-at-4',
        'r-host-b-process-node-density-load-memory-per-instance-at-4',
      ]);
      expect(exported.runtimeClass.overhead.podFixed.memory).toBe('17Mi');
      expect(exported.yaml).toContain('    memory: "17Mi"\n');
      const comments = exported.yaml
        .split('\n')
        .filter((line) => line.startsWith('#'))
        .map((line) => line.slice(2))
        .join(' ');
      expect(comments).toContain(
        'with 4 running (the smallest step measured at or above the 3 asked for',
      );
      expect(comments).toContain(
        "net of the bare process's memory per instance at the same step on host-a, host-b",
      );
      expect(comments).toContain("the series' p95");
      expect(comments).toContain('r-host-b-process-node-density-load-memory-per-instance-at-4');
      expect(comments).not.toContain('at-16');
      for (const line of exported.yaml.split('\n')) expect(line.length).toBeLessThanOrEqual(100);
    });

    it('takes the largest step when none reaches the instances asked for, or none is asked for', () => {
      for (const instances of [40, undefined]) {
        const exported = runtimeClassOf(
          { ...request, ...(instances === undefined ? {} : { instances }) },
          evidence,
        );
        expect(exported.memory).toMatchObject({ step: 16, mebibytes: 16, hosts: ['host-a'] });
        expect(exported.yaml).toContain('with 16 running (the largest step measured');
      }
    });

    it('sets podFixed.cpu from the idle CPU, net of the bare process, never below 1m', () => {
      const exported = runtimeClassOf({ ...request, instances: 3 }, [
        ...evidence,
        idleCpu('host-a', 'container', 'runc', 14.2),
        idleCpu('host-a', 'process', 'node', 2.1),
      ]);
      // 14.2 − 2.1 = 12.1 → 13m
      expect(exported.cpu).toMatchObject({ millicores: 13, nettedOn: ['host-a'], results: 4 });
      expect(exported.cpuLeftOut).toBeUndefined();
      expect(exported.runtimeClass.overhead.podFixed.cpu).toBe('13m');
      expect(exported.yaml).toMatch(/ {4}memory: "17Mi"\n {4}cpu: "13m"\n$/);
      expect(exported.yaml).toContain('r-host-a-process-node-instance-idle-cpu');

      const cheaper = runtimeClassOf(request, [
        ...evidence,
        idleCpu('host-a', 'container', 'runc', 1.5),
        idleCpu('host-a', 'process', 'node', 2.1),
      ]);
      expect(cheaper.cpu?.millicores).toBe(1);
      expect(cheaper.yaml).toContain('    cpu: "1m"\n');
    });

    it('refuses an instance count that is not a whole number of 1 or more', () => {
      expect(() => runtimeClassOf({ ...request, instances: 0 }, evidence)).toThrow(
        /instance count must be a whole number of 1 or more/,
      );
    });
  });
});
