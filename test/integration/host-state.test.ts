import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  isDisturbed,
  parseCpuTimes,
  parseProcessStat,
  startHostSample,
  type HostSample,
} from '../../agents/host-agent/host-state.ts';

const execProgram = promisify(execFile);

/** A single-threaded CPU hog that ends itself after 10 s should it outlive its test. */
const HOG_SOURCE = 'const end = Date.now() + 10_000; while (Date.now() < end);';

/** How long a hog runs inside a sample. */
const HOG_MS = 1_000;

/** Slack for the clock ticks the two readings of the CPU line and the hog split, cores. */
const TOLERANCE_CORES = 0.05;

/** Least a hog must have used for what is asserted of it to mean anything, cores. */
const HOG_RAN_CORES = 0.05;

interface Hog {
  readonly pid: number;
  stop(): Promise<void>;
}

/** A hog that is this process's child: Berth's own, as the agent's instances are. */
function ownHog(): Hog {
  const child = spawn(process.execPath, ['-e', HOG_SOURCE], { stdio: 'ignore' });
  const exited = once(child, 'exit');
  if (child.pid === undefined) throw new Error('the hog did not start');
  return {
    pid: child.pid,
    stop: async () => {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** A hog outside this process's tree: the shell that starts it exits, so init adopts it. */
async function foreignHog(): Promise<Hog> {
  const { stdout } = await execProgram('sh', [
    '-c',
    `"${process.execPath}" -e '${HOG_SOURCE}' </dev/null >/dev/null 2>&1 & echo $!`,
  ]);
  const pid = Number(stdout.trim());
  return {
    pid,
    stop: () => {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
      return Promise.resolve();
    },
  };
}

/** A sample of an interval in which a hog ran, and the cores the hog itself used. */
async function sampleWithHog(
  startHog: () => Hog | Promise<Hog>,
): Promise<{ sample: HostSample; hogCores: number }> {
  const before = parseCpuTimes(await readFile('/proc/stat', 'utf8'));
  const handle = await startHostSample();
  const hog = await startHog();
  try {
    await sleep(HOG_MS);
    const hogTicks = parseProcessStat(await readFile(`/proc/${hog.pid}/stat`, 'utf8'))?.cpu ?? 0;
    const after = parseCpuTimes(await readFile('/proc/stat', 'utf8'));
    const sample = await handle.finish();
    return { sample, hogCores: (hogTicks / (after.total - before.total)) * after.cpus };
  } finally {
    await hog.stop();
  }
}

describe('host state under a CPU hog', () => {
  it("counts a hog outside Berth as foreign load, the same hog in Berth's tree as its own", async () => {
    // Other work on this shared host comes and goes, so the hog outside must raise the foreign
    // load over the hog inside by half of what it used in at least one of three pairs.
    let raised = false;
    for (let attempt = 0; attempt < 3 && !raised; attempt += 1) {
      const outside = await sampleWithHog(foreignHog);
      expect(outside.hogCores).toBeGreaterThan(HOG_RAN_CORES);
      expect(outside.sample.foreignLoadCores).toBeGreaterThan(outside.hogCores - TOLERANCE_CORES);
      const disturbance = isDisturbed(outside.sample);
      expect(disturbance.disturbed).toBe(true);
      expect(disturbance.why).toMatch(/foreign load [\d.]+ cores over 0.5 cores/);

      const inside = await sampleWithHog(ownHog);
      expect(inside.hogCores).toBeGreaterThan(HOG_RAN_CORES);
      expect(inside.sample.ownCores).toBeGreaterThan(inside.hogCores - TOLERANCE_CORES);

      raised =
        inside.sample.foreignLoadCores < outside.sample.foreignLoadCores - outside.hogCores / 2;
    }
    expect(raised).toBe(true);
  });
});
