import { readFileSync } from 'node:fs';
import si from 'systeminformation';
import type { HostInventory } from '../../contracts/index.ts';
import { cgroupVersion } from './cgroups.ts';
import type { PlatformDriver } from './drivers/driver.ts';

/** The CPU flags that matter for placement: hardware virtualisation and running under a hypervisor. */
const INTERESTING_FLAGS = ['vmx', 'svm', 'hypervisor', 'aes', 'avx', 'avx2', 'avx512f', 'sse4_2'];

function packageVersion(): string {
  const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
  return (JSON.parse(text) as { version: string }).version;
}

export type PlatformAvailability = HostInventory['platforms'][number];

/** Each platform with whether it can run here, and why not where it cannot. */
export function platformAvailability(
  drivers: readonly PlatformDriver[],
): Promise<PlatformAvailability[]> {
  return Promise.all(
    drivers.map(async (driver) => {
      const availability = await driver.availability();
      return {
        platform: driver.platform,
        runtime: driver.runtime,
        available: availability.available,
        ...(availability.reason === undefined
          ? {}
          : { reason: availability.reason.slice(0, 1024) }),
        ...(availability.version === undefined
          ? {}
          : { version: availability.version.slice(0, 128) }),
        ...(availability.accel === undefined ? {} : { accel: availability.accel }),
      };
    }),
  );
}

/**
 * What this host is and which platforms it can measure, each with the reason where it
 * cannot. Published on berth.inventory.<hostId>.
 */
export async function collectInventory(
  hostId: string,
  drivers: readonly PlatformDriver[],
): Promise<HostInventory> {
  const [cpu, flagText, memory, os, system] = await Promise.all([
    si.cpu(),
    si.cpuFlags(),
    si.mem(),
    si.osInfo(),
    si.system(),
  ]);
  const flags = flagText.split(/\s+/).filter((flag) => flag !== '');
  const platforms = await platformAvailability(drivers);
  const virtualised = system.virtual || flags.includes('hypervisor');
  return {
    schemaVersion: 1,
    type: 'inventory',
    hostId,
    sentAt: Date.now(),
    agentVersion: packageVersion(),
    cpu: {
      model: `${cpu.manufacturer} ${cpu.brand}`.trim().slice(0, 256),
      cores: Math.max(1, cpu.physicalCores),
      threads: Math.max(1, cpu.cores),
      flags: flags.filter((flag) => INTERESTING_FLAGS.includes(flag)),
    },
    memoryBytes: memory.total,
    os: {
      family: os.platform.slice(0, 32),
      distro: os.distro.slice(0, 128),
      release: os.release.slice(0, 128),
      kernel: os.kernel.slice(0, 128),
      arch: os.arch.slice(0, 32),
    },
    virtualised: {
      is: virtualised,
      ...(virtualised && system.virtualHost !== undefined && system.virtualHost !== ''
        ? { hypervisor: system.virtualHost.slice(0, 64) }
        : {}),
    },
    cgroup: cgroupVersion(),
    platforms,
  };
}
