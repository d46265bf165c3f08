import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { selfJoinCommands, type Cgroup } from '../agents/host-agent/cgroups.ts';

export const BERTH_BIN = fileURLToPath(new URL('../bin/berth.js', import.meta.url));

export interface BerthProcess {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first stdout line matching pattern; rejects if the process exits first. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Resolves with the exit code (or the signal name). */
  exited(): Promise<number | string>;
}

/**
 * Tests outside test/quiet run two files at a time on two cores, so each is the other's
 * foreign load: the suites they start do not judge rounds disturbed by it (test/quiet does).
 * Nor do they start a libvirtd of Berth's own for their inventories: one runs per host at a
 * time, so every agent run would wait for another file's; the tests of vm:libvirt ask for it.
 */
export const SHARED_HOST_ENV: Readonly<Record<string, string>> = {
  BERTH_MAX_FOREIGN_LOAD: '64',
  BERTH_LIBVIRT_DAEMON: 'system',
  BERTH_LOAD_WORKLOAD: 'off',
};

/**
 * Runs `berth <args>` as a child process with the given environment added to this one's,
 * warnings-only logs and SHARED_HOST_ENV; in `cgroup` from its first instruction when one is
 * given (a shell joins it, then becomes the process), so what the process reads of its CPU
 * limit at start is the cgroup's.
 */
export function spawnBerth(
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
  cgroup?: Pick<Cgroup, 'selfJoinFiles'>,
): BerthProcess {
  const [command, commandArgs] =
    cgroup === undefined
      ? [process.execPath, [BERTH_BIN, ...args]]
      : [
          '/bin/sh',
          [
            '-c',
            `${selfJoinCommands(cgroup)} && exec "$0" "$@"`,
            process.execPath,
            BERTH_BIN,
            ...args,
          ],
        ];
  const child = spawn(command, commandArgs, {
    env: { ...process.env, BERTH_LOG_LEVEL: 'warn', ...SHARED_HOST_ENV, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exit = once(child, 'exit').then(([code, signal]) =>
    code === null ? String(signal) : Number(code),
  );
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited: () => exit,
    waitForLine: (pattern, timeoutMs = 30_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms; stderr:\n${err}`));
        }, timeoutMs);
        const check = (): void => {
          const line = out.split('\n').find((candidate) => pattern.test(candidate));
          if (line !== undefined) {
            cleanup();
            resolve(line);
          }
        };
        const onExit = (): void => {
          cleanup();
          reject(
            new Error(`berth ${args.join(' ')} exited before printing ${pattern}; stderr:\n${err}`),
          );
        };
        const cleanup = (): void => {
          clearTimeout(timer);
          child.stdout.off('data', check);
          child.off('exit', onExit);
        };
        child.stdout.on('data', check);
        child.once('exit', onExit);
        check();
      }),
  };
}

/** Runs `berth <args>` to the end. */
export async function runBerth(
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
): Promise<{ code: number | string; stdout: string; stderr: string }> {
  const process = spawnBerth(args, env);
  const code = await process.exited();
  return { code, stdout: process.stdout(), stderr: process.stderr() };
}

export interface IngestWorkerOptions {
  readonly natsUrl: string;
  readonly clickhouseUrl: string;
  readonly database: string;
  readonly dataDir: string;
  readonly ackWaitMs: number;
  /** The cgroup the worker runs in from its start (to hold it to a CPU quota). */
  readonly cgroup?: Pick<Cgroup, 'selfJoinFiles'>;
}

/**
 * `berth ingest` as its own process against a ClickHouse server, resolved once it says it is
 * ready, with that line (which holds the metrics address).
 */
export async function startIngestWorker(
  options: IngestWorkerOptions,
): Promise<{ worker: BerthProcess; ready: string }> {
  const worker = spawnBerth(
    ['ingest'],
    {
      NATS_URL: options.natsUrl,
      CLICKHOUSE_URL: options.clickhouseUrl,
      CLICKHOUSE_DATABASE: options.database,
      BERTH_DATA_DIR: options.dataDir,
      BERTH_METRICS_PORT: '0',
      BERTH_INGEST_BATCH_SIZE: '500',
      BERTH_INGEST_ACK_WAIT_MS: String(options.ackWaitMs),
    },
    options.cgroup,
  );
  const ready = await worker.waitForLine(/berth ingest ready/);
  return { worker, ready };
}
