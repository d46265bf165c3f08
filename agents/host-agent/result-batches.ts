import type { Platform, ResultBatch, ResultMetric } from '../../contracts/index.ts';
import type { Availability, Instance, PlatformDriver } from './drivers/driver.ts';
import { resultId } from './ids.ts';
import type { PlatformContext } from './suite-run.ts';

const RUNNER_VERSION = '1';

/** The platform as a result records it: driver, runtime version, accel and settings. */
function platformRecord(
  driver: PlatformDriver,
  availability: Availability,
  settings: Instance['settings'],
): Platform {
  return {
    name: driver.platform,
    runtime: driver.runtime,
    runtimeVersion: availability.version ?? 'unknown',
    accel: availability.accel ?? 'none',
    settings: { ...settings },
  };
}

/**
 * The result batch of one workload's metrics on the context's platform; `container` names
 * the runner when an instance holds several, and becomes part of the settings and the id.
 */
export function batchFor(
  context: PlatformContext,
  settings: Instance['settings'],
  workload: string,
  metrics: ResultMetric[],
  container?: string,
): ResultBatch {
  const { run, driver } = context;
  return {
    schemaVersion: 1,
    id: resultId(run.runId, driver.platform, driver.runtime, workload, container ?? ''),
    hostId: run.hostId,
    runId: run.runId,
    takenAt: Date.now(),
    platform: platformRecord(
      driver,
      context.availability,
      container === undefined ? settings : { ...settings, container },
    ),
    workload: { name: workload, version: RUNNER_VERSION },
    metrics,
  };
}

/** Hands a batch to the run (the agent's outbox), then reports it as a result. */
export async function deliverBatch(context: PlatformContext, batch: ResultBatch): Promise<void> {
  await context.run.deliver(batch);
  context.emit({ kind: 'result', batch });
}
