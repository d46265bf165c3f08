import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { agentDir } from '../../agents/host-agent/agent-dir.ts';
import { podmanRunDir } from '../../agents/host-agent/drivers/container-podman.ts';
import { podmanStorageDir } from '../../agents/host-agent/drivers/registry.ts';
import { newRunId } from '../../agents/host-agent/ids.ts';
import { runnerBundle } from '../../agents/host-agent/runner-bundle.ts';
import { agentRssStep } from './agent-memory.ts';
import { leftoversOf } from './leftovers.ts';
import type { DriversBenchOptions } from './options.ts';
import { progress, say } from './output.ts';
import { comparisonStep } from './published-comparison.ts';
import { spreadStep } from './spread.ts';
import { startupStep } from './startup.ts';

/**
 * `npm run bench -- drivers`: each platform's start-up through Berth's driver against the
 * bare runtime started by hand with the same inputs, launches interleaved; the agent's idle
 * memory; the run-to-run spread of a CPU kernel on the process platform.
 */
export async function benchDrivers(options: DriversBenchOptions): Promise<void> {
  const controller = new AbortController();
  const onSignal = (): void => {
    if (controller.signal.aborted) process.exit(130);
    progress('stopping: tearing down what runs (a second signal exits at once)');
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const temporary = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'berth-bench-drivers-')));
  await mkdir(dataDir, { recursive: true });
  const runId = newRunId();
  let failure: Error | undefined;
  try {
    say(
      `drivers benchmark: ${availableParallelism()} cores, Linux ${release()}, node ${process.version}; run ${runId}, data in ${dataDir}${temporary ? ' (temporary)' : ''}`,
    );
    say();
    const runnerPath = await runnerBundle(dataDir);
    const results = await startupStep(options, dataDir, runnerPath, runId, controller.signal);
    const agentRss = await agentRssStep(dataDir, controller.signal);
    await spreadStep(options, dataDir, runId, controller.signal);
    comparisonStep(results, agentRss);
  } catch (error) {
    failure = controller.signal.aborted
      ? new Error('interrupted')
      : error instanceof Error
        ? error
        : new Error(String(error));
  }
  const left = await leftoversOf(runId, dataDir);
  if (temporary) {
    await rm(dataDir, { recursive: true, force: true });
    // Berth's own podman keeps its run-time state under /run, named by its storage, now gone.
    await rm(podmanRunDir(podmanStorageDir(agentDir(dataDir))), { recursive: true, force: true });
  } else {
    for (const entry of left.filter((item) => item.startsWith('folder '))) {
      await rm(entry.slice('folder '.length), { recursive: true, force: true });
    }
  }
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  if (failure !== undefined) {
    if (left.length > 0) progress(`left behind: ${left.join(', ')}`);
    throw failure;
  }
  if (left.length > 0) throw new Error(`left behind: ${left.join(', ')}`);
  say(
    `left behind: nothing (no container, libvirt domain, process, cgroup or folder of run ${runId})`,
  );
}
