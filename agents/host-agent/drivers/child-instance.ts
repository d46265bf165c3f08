import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { RunnerLine } from '../../../contracts/index.ts';
import { runnerLines } from './runner-lines.ts';

export interface RunnerProcess {
  readonly child: ChildProcess;
  readonly launchedAt: number;
  readonly lines: AsyncIterable<{ line: RunnerLine; at: number }>;
  /** What the process wrote to stderr (the last 4 KiB), for error messages. */
  stderr(): string;
  /** Resolves when the process has exited. */
  readonly exited: Promise<void>;
  /** Closes the runner's standard input: a runner started with --hold then exits. */
  release(): void;
  /** Writes one line per runner to the input: runners started with --go begin their work. */
  go(runners: number): void;
}

/**
 * The one environment the runner gets on every platform (the OCI bundles and Docker set the
 * same). Inheriting the agent's would make platforms differ in what they do not measure:
 * NODE_EXTRA_CA_CERTS alone adds about 100 ms to node's start-up.
 */
export const RUNNER_ENV: Readonly<Record<string, string>> = {
  PATH: '/usr/local/bin:/usr/bin:/bin',
  HOME: '/tmp',
};

/**
 * Spawns a command whose standard output carries runner lines (a runner process, runc, a
 * QEMU serial console). Lines that are not runner JSON (a kernel's boot messages) are
 * skipped; a JSON line that breaks the contract ends the stream with an error. The lines end
 * once each of `runners` runners has printed "done". `env` replaces the environment (a
 * runner started directly gets RUNNER_ENV); without it the command inherits this process's.
 */
export function spawnRunner(
  command: string,
  args: readonly string[],
  runners = 1,
  env?: Readonly<Record<string, string>>,
): RunnerProcess {
  const launchedAt = performance.now();
  const child = spawn(command, [...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
    ...(env === undefined ? {} : { env: { ...env } }),
  });
  // The runner may have exited before its input is closed.
  child.stdin.on('error', () => undefined);
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4096);
  });
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      resolve();
    });
    child.once('error', () => {
      resolve();
    });
  });
  // The line reader is made when the lines are first asked for.
  async function* lines(): AsyncGenerator<{ line: RunnerLine; at: number }> {
    yield* runnerLines(createInterface({ input: child.stdout }), runners);
  }
  return {
    child,
    launchedAt,
    lines: lines(),
    stderr: () => stderr,
    exited,
    release: () => {
      child.stdin.end();
    },
    go: (runners) => {
      child.stdin.write('go\n'.repeat(runners));
    },
  };
}

/** Closes the runner's input, gives it graceMs to exit, then kills its process group. */
export async function endRunner(runner: RunnerProcess, graceMs = 2_000): Promise<void> {
  runner.release();
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    runner.exited,
    new Promise((resolve) => (timer = setTimeout(resolve, graceMs))),
  ]);
  clearTimeout(timer);
  await killGroup(runner);
}

/** Kills the whole process group (the platform and everything it started) and waits. */
export async function killGroup(runner: RunnerProcess): Promise<void> {
  const pid = runner.child.pid;
  if (pid !== undefined && runner.child.exitCode === null && runner.child.signalCode === null) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await runner.exited;
}
