import { batchFor, deliverBatch } from './result-batches.ts';
import type { PlatformContext } from './suite-run.ts';

/** Every workload in one instance; with several runners in it, one result per runner. */
export async function measureWorkloads(context: PlatformContext): Promise<void> {
  const { run, driver, emit, aborted } = context;
  const args = [
    '--workloads',
    run.suite.workloads.join(','),
    '--time-cap-ms',
    String(run.suite.timeCapMs),
    '--min-time-ms',
    String(run.suite.minSampleMs),
  ];
  const instance = await driver.start({
    id: `${run.runId}-${driver.platform}-w`,
    runnerArgs: args,
  });
  try {
    for await (const { line } of instance.lines) {
      if (aborted()) return;
      const container = instance.runners > 1 ? line.instance : undefined;
      // With several runners, the first one's lines move the progress on.
      const step = container === undefined || container === 'c1';
      if (line.type === 'result') {
        await deliverBatch(
          context,
          batchFor(context, instance.settings, line.workload, line.metrics, container),
        );
        if (step) emit({ kind: 'step', platform: driver.platform, what: line.workload });
      } else if (line.type === 'error') {
        emit({
          kind: 'workload-failed',
          platform: driver.platform,
          workload: line.workload ?? '(runner)',
          message: container === undefined ? line.message : `${container}: ${line.message}`,
        });
        if (step)
          emit({ kind: 'step', platform: driver.platform, what: line.workload ?? 'runner' });
      }
    }
  } finally {
    await instance.stop();
  }
}
