import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { BerthError } from '../../contracts/index.ts';

export interface ChildServerOptions {
  /** A name for messages: "nats-server", "clickhouse-server". */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd?: string;
  /** Called with each output line until it returns a value; that value means "ready". */
  readonly readyWhen: (line: string) => string | undefined;
  readonly startTimeoutMs?: number;
  /** Time between SIGTERM and SIGKILL when stopping. */
  readonly stopGraceMs?: number;
}

export interface ChildServer {
  readonly pid: number;
  /** What readyWhen returned for the line that said the server is ready. */
  readonly readyValue: string;
  /** The last lines the server printed, for error messages. */
  recentOutput(): string[];
  /** True until the process has exited. */
  running(): boolean;
  /** SIGTERM, then SIGKILL after the grace period; resolves when the process is gone. */
  stop(): Promise<void>;
  /** SIGKILL at once, as a crash would. */
  kill(): Promise<void>;
}

const KEPT_LINES = 40;

/** Children still running; killed if this process exits without stopping them. */
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * Starts a server program as a child process and resolves once it says it is ready. The
 * child has a process group of its own, so a Ctrl-C at the terminal reaches only Berth,
 * which stops the server after the clients that still need it.
 */
export async function startChildServer(options: ChildServerOptions): Promise<ChildServer> {
  const child = spawn(options.command, [...options.args], {
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const recent: string[] = [];
  let exited = child.exitCode !== null;
  running.add(child);
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => {
      resolve();
    });
    // A program that could not be started emits 'error' and never 'exit'.
    child.once('error', () => {
      if (child.pid === undefined) resolve();
    });
  }).then(() => {
    exited = true;
    running.delete(child);
  });

  const ready = new Promise<string>((resolve, reject) => {
    let settled = false;
    const onLine = (line: string): void => {
      recent.push(line);
      if (recent.length > KEPT_LINES) recent.shift();
      if (settled) return;
      const value = options.readyWhen(line);
      if (value !== undefined) {
        settled = true;
        resolve(value);
      }
    };
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on('line', onLine);
    }
    child.once('error', (error) => {
      settled = true;
      const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
      reject(
        new BerthError(
          missing ? 'BERTH_ERR_MISSING_PROGRAM' : 'BERTH_ERR_SERVER_START',
          missing
            ? `${options.name}: the program ${options.command} is not installed (run: npm run setup)`
            : `${options.name}: could not start ${options.command}`,
          { cause: error },
        ),
      );
    });
    // 'close', not 'exit': by then its output has been read to the end, last lines included.
    child.once('close', (code, signal) => {
      if (settled) return;
      settled = true;
      reject(
        new BerthError(
          'BERTH_ERR_SERVER_START',
          `${options.name} exited before it was ready (${signal ?? `code ${code}`}); last output:\n${recent.join('\n')}`,
        ),
      );
    });
  });

  const timeoutMs = options.startTimeoutMs ?? 30_000;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(
        new BerthError(
          'BERTH_ERR_SERVER_START',
          `${options.name} was not ready after ${timeoutMs} ms; last output:\n${recent.join('\n')}`,
        ),
      );
    }, timeoutMs);
  });

  const signalAndWait = async (signal: NodeJS.Signals, graceMs: number): Promise<void> => {
    if (exited) return;
    child.kill(signal);
    const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exit;
    clearTimeout(killer);
  };

  let readyValue: string;
  try {
    readyValue = await Promise.race([ready, timeout]);
  } catch (error) {
    await signalAndWait('SIGKILL', 0);
    throw error;
  } finally {
    clearTimeout(timer);
  }

  return {
    pid: pidOf(child),
    readyValue,
    recentOutput: () => [...recent],
    running: () => !exited,
    stop: () => signalAndWait('SIGTERM', options.stopGraceMs ?? 10_000),
    kill: () => signalAndWait('SIGKILL', 0),
  };
}

function pidOf(child: ChildProcess): number {
  if (child.pid === undefined) throw new BerthError('BERTH_ERR_SERVER_START', 'no pid');
  return child.pid;
}
