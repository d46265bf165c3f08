import { join } from 'node:path';
import { createRuncDriver } from './container-runc.ts';
import type { PlatformDriver } from './driver.ts';
import { createProcessDriver } from './process.ts';

/** Every platform driver Berth knows, in the order a suite runs them: the baseline first. */
export function createDrivers(runnerPath: string, agentDir: string): PlatformDriver[] {
  return [
    createProcessDriver(runnerPath, join(agentDir, 'scratch')),
    createRuncDriver(runnerPath, join(agentDir, 'bundles')),
  ];
}
