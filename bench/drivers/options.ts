import type { DriverConfig } from '../../agents/host-agent/agent-config.ts';
import { selectDrivers } from '../../agents/host-agent/agent-drivers.ts';
import type { PlatformDriver } from '../../agents/host-agent/drivers/driver.ts';
import { SETTINGS } from '../../lib/config.ts';

/** What `npm run bench -- drivers` is asked to do (bench/main.ts parses it from the flags). */
export interface DriversBenchOptions {
  /** Start-up launches of each kind on the process and container platforms. */
  readonly launches: number;
  /** Start-up launches of each kind on the VM platforms (seconds each under TCG). */
  readonly vmLaunches: number;
  /** Platforms to time start-up on; every platform the agent knows when empty. */
  readonly platforms: readonly string[];
  /** Runs of cpu-sha256 on the process platform, each a new instance. */
  readonly spreadRuns: number;
  readonly timeCapMs: number;
  /** Caches (runner bundle, guest image) and instance folders; a temporary folder when undefined. */
  readonly dataDir: string | undefined;
}

/** The drivers the names pick, as an agent with default settings makes them over dataDir. */
export function defaultDrivers(
  dataDir: string,
  platforms: readonly string[],
): Promise<PlatformDriver[]> {
  const config: DriverConfig = {
    dataDir,
    libvirtUri: SETTINGS.libvirtUri.defaultValue,
    containersPerVm: SETTINGS.containersPerVm.defaultValue,
    dockerEngine: SETTINGS.dockerEngine.defaultValue,
    libvirtDaemon: SETTINGS.libvirtDaemon.defaultValue,
  };
  return selectDrivers(config, platforms);
}
