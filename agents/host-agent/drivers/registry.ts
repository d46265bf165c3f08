import type { PlatformDriver } from './driver.ts';
import { createProcessDriver } from './process.ts';

/** Every platform driver Berth knows, in the order a suite runs them: the baseline first. */
export function createDrivers(runnerPath: string): PlatformDriver[] {
  return [createProcessDriver(runnerPath)];
}
