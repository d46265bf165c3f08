import { readFileSync } from 'node:fs';
import type { HostInventory } from '../../contracts/index.ts';
import { checkoutPath } from '../../lib/checkout.ts';
import { cgroupVersion } from './cgroups.ts';
import type { PlatformDriver } from './drivers/driver.ts';
import { readHostFacts } from './host-facts.ts';

/** The CPU flags that matter for placement: hardware virtualisation and running under a hypervisor. */
const INTERESTING_FLAGS = ['vmx', 'svm', 'hypervisor', 'aes', 'avx', 'avx2', 'avx512f', 'sse4_2'];

function packageVersion(): string {
  const text = readFileSync(checkoutPath('package.json'), 'utf8');
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
  const [facts, platforms] = await Promise.all([readHostFacts(), platformAvailability(drivers)]);
  const { os, hypervisor, virtualised } = facts;
  return {
    schemaVersion: 1,
    type: 'inventory',
    hostId,
    sentAt: Date.now(),
    agentVersion: packageVersion(),
    cpu: {
      model: facts.cpuModel.slice(0, 256),
      cores: facts.physicalCores,
      threads: facts.threads,
      flags: facts.flags.filter((flag) => INTERESTING_FLAGS.includes(flag)),
    },
    memoryBytes: facts.memoryBytes,
    os: {
      family: os.family.slice(0, 32),
      distro: os.distro.slice(0, 128),
      release: os.release.slice(0, 128),
      kernel: os.kernel.slice(0, 128),
      arch: os.arch.slice(0, 32),
    },
    virtualised: {
      is: virtualised,
      ...(hypervisor === undefined ? {} : { hypervisor: hypervisor.slice(0, 64) }),
    },
    cgroup: cgroupVersion(),
    platforms,
  };
}
