import { BerthError } from '../../contracts/index.ts';
import type { DriverConfig } from './agent-config.ts';
import { agentDir } from './agent-dir.ts';
import type { PlatformDriver } from './drivers/driver.ts';
import { createDrivers } from './drivers/registry.ts';
import { matchDrivers, unknownPlatformsMessage } from './drivers/select.ts';
import { runnerBundle } from './runner-bundle.ts';

/** Shows the guest image being built (once, the first time a VM platform is used). */
export function printImageStep(done: number, total: number, what: string): void {
  process.stderr.write(`guest image [${done}/${total}] ${what}\n`);
}

/**
 * The drivers the names pick (all when there are none): a platform (`vm`) picks each of its
 * drivers, `platform:runtime` (`vm:libvirt`) one.
 */
export async function selectDrivers(
  config: DriverConfig,
  platforms: readonly string[],
  option = '--platforms',
): Promise<PlatformDriver[]> {
  const drivers = createDrivers(await runnerBundle(config.dataDir), agentDir(config.dataDir), {
    libvirtUri: config.libvirtUri,
    containersPerVm: config.containersPerVm,
    dockerEngine: config.dockerEngine,
    libvirtDaemon: config.libvirtDaemon,
    onImageStep: printImageStep,
  });
  const { selected, unknown } = matchDrivers(drivers, platforms);
  if (unknown.length > 0) {
    throw new BerthError(
      'BERTH_ERR_UNKNOWN_PLATFORM',
      `${option}: ${unknownPlatformsMessage(unknown, drivers)}`,
    );
  }
  return selected;
}

/** The bare process driver among the drivers, as a suite's memory baseline. */
export function baselineOf(drivers: readonly PlatformDriver[]): { baseline?: PlatformDriver } {
  const baseline = drivers.find((driver) => driver.platform === 'process');
  return baseline === undefined ? {} : { baseline };
}

/** Lets go of what the drivers started for their instances (a Docker engine of Berth's own). */
export async function closeDrivers(drivers: readonly PlatformDriver[]): Promise<void> {
  await Promise.all(drivers.map((driver) => driver.close?.() ?? Promise.resolve()));
}
