import { describe, expect, it } from 'vitest';
import type { ResultBatch } from '../../contracts/index.ts';
import {
  driverName,
  matchDrivers,
  selectableNames,
  unknownPlatformsMessage,
} from '../../agents/host-agent/drivers/select.ts';
import { summarise } from '../../agents/host-agent/summary.ts';
import { makeResult } from '../../support/results.ts';

const DRIVERS = [
  { platform: 'process', runtime: 'node' },
  { platform: 'container', runtime: 'runc' },
  { platform: 'container', runtime: 'crun' },
  { platform: 'container', runtime: 'docker' },
  { platform: 'vm', runtime: 'qemu-microvm' },
  { platform: 'container-in-vm', runtime: 'qemu-microvm' },
  { platform: 'vm', runtime: 'libvirt' },
];

const names = (selected: readonly { platform: string; runtime: string }[]): string[] =>
  selected.map(driverName);

describe('platform selection', () => {
  it('picks one driver by platform:runtime', () => {
    expect(names(matchDrivers(DRIVERS, ['vm:libvirt']).selected)).toEqual(['vm:libvirt']);
    expect(names(matchDrivers(DRIVERS, ['vm:qemu-microvm']).selected)).toEqual(['vm:qemu-microvm']);
  });

  it('picks every driver of a platform by its name, in the registry order', () => {
    expect(names(matchDrivers(DRIVERS, ['vm']).selected)).toEqual([
      'vm:qemu-microvm',
      'vm:libvirt',
    ]);
    expect(names(matchDrivers(DRIVERS, ['container']).selected)).toEqual([
      'container:runc',
      'container:crun',
      'container:docker',
    ]);
  });

  it('picks each driver once, whatever order and overlap the names have', () => {
    const { selected, unknown } = matchDrivers(DRIVERS, ['vm:libvirt', 'process', 'vm']);
    expect(names(selected)).toEqual(['process:node', 'vm:qemu-microvm', 'vm:libvirt']);
    expect(unknown).toEqual([]);
  });

  it('picks every driver when no name is given', () => {
    expect(matchDrivers(DRIVERS, []).selected).toEqual(DRIVERS);
  });

  it('returns the names that pick nothing, and says which names exist', () => {
    const { selected, unknown } = matchDrivers(DRIVERS, [
      'mainframe',
      'vm:xen',
      'libvirt',
      'process',
    ]);
    expect(names(selected)).toEqual(['process:node']);
    expect(unknown).toEqual(['mainframe', 'vm:xen', 'libvirt']);
    expect(unknownPlatformsMessage(unknown, DRIVERS)).toBe(
      'unknown mainframe, vm:xen, libvirt (known: process, container, vm, container-in-vm, ' +
        'process:node, container:runc, container:crun, container:docker, vm:qemu-microvm, ' +
        'container-in-vm:qemu-microvm, vm:libvirt)',
    );
  });

  it('lists each platform name once', () => {
    expect(selectableNames(DRIVERS).filter((name) => name === 'vm')).toHaveLength(1);
  });
});

describe('summarise with two drivers of one platform', () => {
  const withRuntime = (index: number, runtime: string, value: number): ResultBatch => {
    const batch = makeResult(index, 'h', 1);
    return {
      ...batch,
      platform: { ...batch.platform, runtime },
      metrics: batch.metrics.map((metric) => ({ ...metric, value })),
    };
  };

  it('gives each runtime of the platform a column of its own', () => {
    const rows = summarise([
      withRuntime(0, 'node', 100),
      withRuntime(2, 'qemu-microvm', 25),
      withRuntime(6, 'libvirt', 50),
    ]);
    expect(rows).toEqual([
      {
        workload: 'cpu-sha256',
        metric: 'metric-0',
        unit: 'ops/s',
        process: '100 (1.00x)',
        'vm:qemu-microvm': '25 (0.25x)',
        'vm:libvirt': '50 (0.50x)',
      },
    ]);
  });
});
