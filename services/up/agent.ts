import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { BerthError, describeError } from '../../contracts/index.ts';
import { checkoutPath } from '../../lib/checkout.ts';
import { SETTINGS, type Config } from '../../lib/config.ts';
import { NATS_SIGN_IN_SETTINGS, type NatsSignIn } from '../../lib/nats/sign-in.ts';
import type { Logger } from '../../lib/logger.ts';

/** What the local agent of `berth up` is started with. */
export type LocalAgentConfig = Config<
  'dataDir' | 'libvirtUri' | 'containersPerVm' | 'dockerEngine' | 'libvirtDaemon' | 'logLevel'
> &
  NatsSignIn & {
    readonly natsUrl: string;
  };

/** The variables of the NATS sign-in settings that are set, handed on as `berth up` read them. */
const signInEnv = (config: NatsSignIn): Record<string, string> =>
  Object.fromEntries(
    NATS_SIGN_IN_SETTINGS.flatMap((name) => {
      const value = config[name];
      return value === undefined ? [] : [[SETTINGS[name].env, value]];
    }),
  );

export interface LocalAgent {
  /** The host id once the agent is ready; undefined when it was stopped before. */
  readonly ready: Promise<string | undefined>;
  /** SIGTERM, then waits while the agent ends its run, removes its instances and flushes. */
  stop(): Promise<void>;
}

const BERTH_BIN = checkoutPath('bin', 'berth.js');
const READY = /^berth agent ready: host (\S+),/;
/** The agent checks every platform before it says it is ready (a crun trial container, …). */
const READY_TIMEOUT_MS = 120_000;
/** Long enough for a VM instance to be torn down and the outbox to be flushed (10 s). */
const STOP_TIMEOUT_MS = 60_000;
const LEVELS: Readonly<Record<number, 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal'>> = {
  10: 'trace',
  20: 'debug',
  30: 'info',
  40: 'warn',
  50: 'error',
  60: 'fatal',
};

/**
 * `berth agent start` as a child of `berth up`: the same agent as on any other host, with an
 * event loop of its own, so what it measures does not wait on ingest or the advisor. It runs
 * in a process group of its own (a Ctrl-C at the terminal reaches `berth up` alone, which
 * stops the agent first) and over an IPC channel, which the agent watches to stop if
 * `berth up` is killed. Its log lines are logged again here; other lines go to `print`.
 * Returns at once; `ready` says when (and whether) the agent is ready.
 */
export function startLocalAgent(
  config: LocalAgentConfig,
  logger: Logger,
  print: (line: string) => void,
): LocalAgent {
  const child = spawn(process.execPath, [BERTH_BIN, 'agent', 'start'], {
    env: {
      ...process.env,
      NATS_URL: config.natsUrl,
      BERTH_DATA_DIR: config.dataDir,
      BERTH_LIBVIRT_URI: config.libvirtUri,
      BERTH_DOCKER_ENGINE: config.dockerEngine,
      BERTH_LIBVIRT_DAEMON: config.libvirtDaemon,
      BERTH_CONTAINERS_PER_VM: String(config.containersPerVm),
      BERTH_LOG_LEVEL: config.logLevel,
      ...signInEnv(config),
    },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    detached: true,
  });
  const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => {
    child.once('exit', (code, signal) => {
      resolve([code, signal]);
    });
    child.once('error', (error) => {
      print(`local agent: ${describeError(error)}`);
      resolve([null, null]);
    });
  });
  let stopping = false;
  let started = false;
  const recent: string[] = [];
  if (child.stderr !== null) {
    createInterface({ input: child.stderr }).on('line', (line) => {
      recent.push(line);
      if (recent.length > 20) recent.shift();
      relayLog(line, logger, print);
    });
  }
  let timer: NodeJS.Timeout | undefined;
  const ready = new Promise<string | undefined>((resolve, reject) => {
    if (child.stdout !== null) {
      createInterface({ input: child.stdout }).on('line', (line) => {
        const hostId = READY.exec(line)?.[1];
        if (hostId !== undefined) {
          started = true;
          resolve(hostId);
        } else print(line);
      });
    }
    timer = setTimeout(() => {
      reject(
        new BerthError(
          'BERTH_ERR_SERVER_START',
          `the local agent was not ready after ${READY_TIMEOUT_MS / 1000} s`,
        ),
      );
    }, READY_TIMEOUT_MS);
    void exited.then(([code, signal]) => {
      if (stopping) {
        resolve(undefined);
        return;
      }
      const how = signal ?? `code ${code}`;
      reject(
        new BerthError(
          'BERTH_ERR_SERVER_START',
          `the local agent stopped (${how}): ${lastProblem(recent)}`,
        ),
      );
      logger.error(`the local agent stopped (${how})`);
    });
  }).finally(() => {
    clearTimeout(timer);
  });
  const stop = async (): Promise<void> => {
    stopping = true;
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
    child.kill('SIGTERM');
    const killer = setTimeout(() => {
      logger.error('the local agent did not stop in time: killing it');
      child.kill('SIGKILL');
    }, STOP_TIMEOUT_MS);
    const [code, signal] = await exited;
    clearTimeout(killer);
    // Before node has loaded the agent, SIGTERM ends it at once: it had started nothing.
    if (code !== 0 && !(signal === 'SIGTERM' && !started)) {
      throw new Error(`the local agent exited with ${signal ?? `code ${code}`}`);
    }
  };
  return { ready, stop };
}

/** A log line of the agent (pino JSON) logged again by this process's logger; else printed. */
function relayLog(line: string, logger: Logger, print: (line: string) => void): void {
  let entry: unknown;
  try {
    entry = JSON.parse(line);
  } catch {
    print(line);
    return;
  }
  if (typeof entry !== 'object' || entry === null || !('level' in entry) || !('msg' in entry)) {
    print(line);
    return;
  }
  const { level, msg, ...rest } = entry as { level: number; msg: unknown } & Record<
    string,
    unknown
  >;
  const fields = Object.fromEntries(
    Object.entries(rest).filter(([key]) => !['time', 'pid', 'hostname', 'name'].includes(key)),
  );
  logger[LEVELS[level] ?? 'info']({ part: 'agent', ...fields }, String(msg));
}

/** The message of the agent's last error log line, or its last line. */
function lastProblem(lines: readonly string[]): string {
  for (const line of [...lines].reverse()) {
    try {
      const entry = JSON.parse(line) as { level?: number; msg?: string; err?: unknown };
      if ((entry.level ?? 0) >= 50) return [entry.msg, entry.err].filter(Boolean).join(': ');
    } catch {
      if (line.trim() !== '') return line.trim();
    }
  }
  return lines.at(-1) ?? 'no output';
}
