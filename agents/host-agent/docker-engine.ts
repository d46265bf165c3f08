import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { openSync, closeSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { alive, stopProcess } from './daemon-process.ts';

const execProgram = promisify(execFile);

/**
 * Which Docker engine the container:docker platform uses: `system` the one DOCKER_HOST (or
 * /var/run/docker.sock) reaches, never starting one; `own` one Berth starts for itself, with
 * its data under the data folder, stopped when the process that started it ends; `auto` the
 * system's when it answers, else Berth's own.
 */
export type DockerEngineMode = 'auto' | 'own' | 'system';

/** How long `docker version` may take to hear from an engine. */
export const ENGINE_TIMEOUT_MS = 5_000;

/** How long an engine Berth starts may take to answer. */
const START_TIMEOUT_MS = 30_000;

/** How long an engine Berth stops may take to exit before it is killed. */
const STOP_TIMEOUT_MS = 15_000;

/** An engine the Docker CLI reaches with `-H host`. */
export interface DockerEndpoint {
  /** The CLI's -H value: unix:///… */
  readonly host: string;
  /** The engine's version (`docker version`'s server). */
  readonly version: string;
  /** Whether Berth started this engine (and stops it). */
  readonly owned: boolean;
}

/** The engine a Docker driver uses, found or started once, and let go by close(). */
export interface DockerEngine {
  /** The engine to use; rejects with why there is none. */
  endpoint(): Promise<DockerEndpoint>;
  /** Stops the engine when Berth started it and nothing else in this process still uses it. */
  close(): Promise<void>;
}

/** The host the system's engine is reached at. */
export function systemDockerHost(env: NodeJS.ProcessEnv = process.env): string {
  const host = env['DOCKER_HOST']?.trim();
  return host === undefined || host === '' ? 'unix:///var/run/docker.sock' : host;
}

/** Why no Docker engine answered, from how `docker version` failed. */
export function dockerUnavailableReason(error: unknown): string {
  const failure = error as { code?: unknown; killed?: boolean; stderr?: string; message?: string };
  if (failure.code === 'ENOENT') return 'docker is not installed (apt-get install docker.io)';
  if (failure.killed === true) {
    return `no Docker engine answers within ${ENGINE_TIMEOUT_MS / 1000} s`;
  }
  const said = failure.stderr?.trim() ?? '';
  return `no Docker engine answers: ${said === '' ? (failure.message ?? 'unknown error') : said}`;
}

/** The server version of the engine at host; rejects as `docker version` failed. */
async function engineVersion(host: string): Promise<string> {
  const { stdout } = await execProgram(
    'docker',
    ['-H', host, 'version', '--format', '{{.Server.Version}}'],
    { timeout: ENGINE_TIMEOUT_MS },
  );
  return stdout.trim();
}

/**
 * Where an engine of Berth's own keeps its state: its data root (images, containers) in the
 * agent's folder, its run-time files and socket in a short folder under /run (a unix socket's
 * path may not be longer than 107 bytes, and the agent's folder can be deep).
 */
export interface OwnEngineLayout {
  readonly dataRoot: string;
  readonly execRoot: string;
  readonly pidFile: string;
  readonly logFile: string;
  readonly host: string;
}

export function ownEngineLayout(engineDir: string): OwnEngineLayout {
  const tag = createHash('sha256').update(engineDir).digest('hex').slice(0, 12);
  const execRoot = join('/run', `berth-docker-${tag}`);
  return {
    dataRoot: join(engineDir, 'data'),
    execRoot,
    pidFile: join(engineDir, 'dockerd.pid'),
    logFile: join(engineDir, 'dockerd.log'),
    host: `unix://${join(execRoot, 'docker.sock')}`,
  };
}

/**
 * dockerd's arguments for an engine of Berth's own: no iptables rules and no bridge (its
 * containers run with --network none), so starting it changes nothing on the host's network.
 */
export function ownEngineArgs(layout: OwnEngineLayout): string[] {
  return [
    '--data-root',
    layout.dataRoot,
    '--exec-root',
    layout.execRoot,
    '--pidfile',
    layout.pidFile,
    '-H',
    layout.host,
    '--iptables=false',
    '--ip6tables=false',
    '--bridge=none',
  ];
}

/** Removes every container of an engine of Berth's own (only Berth's are ever in it). */
async function removeEveryContainer(host: string): Promise<void> {
  const { stdout } = await execProgram('docker', ['-H', host, 'ps', '-aq'], {
    timeout: ENGINE_TIMEOUT_MS,
  });
  const left = stdout.split('\n').filter(Boolean);
  if (left.length > 0) await execProgram('docker', ['-H', host, 'rm', '-f', ...left]);
}

/**
 * Stops an engine of Berth's own that an earlier process left running (one killed before it
 * could stop it), from its pid file, with its containers. True when there was one.
 */
export async function stopLeftoverOwnEngine(engineDir: string): Promise<boolean> {
  const layout = ownEngineLayout(engineDir);
  const pid = Number((await readFile(layout.pidFile, 'utf8').catch(() => '')).trim());
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return false;
  const command = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  if (!command.includes(layout.dataRoot)) return false;
  await removeEveryContainer(layout.host).catch(() => undefined);
  await stopProcess(pid, STOP_TIMEOUT_MS);
  await rm(layout.execRoot, { recursive: true, force: true });
  return true;
}

/** A started engine of Berth's own. */
interface OwnEngine {
  readonly endpoint: DockerEndpoint;
  readonly pid: number;
  users: number;
}

/** Engines of Berth's own this process started, by folder: every driver of a folder shares one. */
const ownEngines = new Map<string, Promise<OwnEngine>>();

async function startOwnEngine(engineDir: string): Promise<OwnEngine> {
  const layout = ownEngineLayout(engineDir);
  await stopLeftoverOwnEngine(engineDir);
  await mkdir(layout.dataRoot, { recursive: true });
  const log = openSync(layout.logFile, 'a');
  let child;
  try {
    child = spawn('dockerd', ownEngineArgs(layout), {
      detached: true,
      stdio: ['ignore', log, log],
    });
  } finally {
    closeSync(log);
  }
  const spawned = await new Promise<number>((resolve, reject) => {
    child.once('spawn', () => {
      resolve(child.pid ?? 0);
    });
    child.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        new Error(
          error.code === 'ENOENT'
            ? 'dockerd is not installed (apt-get install docker.io)'
            : `dockerd did not start: ${error.message}`,
        ),
      );
    });
  });
  child.unref();
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const version = await engineVersion(layout.host).catch(() => undefined);
    if (version !== undefined) {
      // Any container still in it is an earlier run's, stopped with the engine it ran in.
      await removeEveryContainer(layout.host);
      return { endpoint: { host: layout.host, version, owned: true }, pid: spawned, users: 0 };
    }
    const exited = child.exitCode ?? child.signalCode;
    if (exited !== null || Date.now() > deadline) {
      await stopProcess(spawned, STOP_TIMEOUT_MS);
      const tail = (await readFile(layout.logFile, 'utf8').catch(() => ''))
        .trim()
        .split('\n')
        .slice(-3)
        .join(' | ');
      const what =
        exited === null
          ? `did not answer within ${START_TIMEOUT_MS / 1000} s`
          : `exited (${exited})`;
      throw new Error(`the Docker engine Berth started ${what} (${layout.logFile}: ${tail})`);
    }
    await sleep(100);
  }
}

/**
 * The engine of the container:docker platform, by mode: the system's (asked until it first
 * answers, then kept), or one of Berth's own in engineDir, started on the first endpoint()
 * and kept until close() (auto asks the system's engine again only after that).
 */
export function dockerEngine(mode: DockerEngineMode, engineDir: string): DockerEngine {
  let holding = false;
  let system: DockerEndpoint | undefined;
  const own = async (): Promise<DockerEndpoint> => {
    let engine = ownEngines.get(engineDir);
    // An engine that has gone (it crashed, or was stopped as an earlier agent's) is started anew.
    if (engine !== undefined && !alive((await engine.catch(() => undefined))?.pid ?? 0)) {
      ownEngines.delete(engineDir);
      engine = undefined;
      holding = false;
    }
    if (engine === undefined) {
      engine = startOwnEngine(engineDir);
      ownEngines.set(engineDir, engine);
      engine.catch(() => ownEngines.delete(engineDir));
    }
    const started = await engine;
    if (!holding) {
      holding = true;
      started.users += 1;
    }
    return started.endpoint;
  };
  return {
    endpoint: async () => {
      // The host's engine, once it answered, is not asked again: a CLI round trip per
      // instance would count in every start-up measured.
      if (system !== undefined) return system;
      if (mode !== 'own' && !holding) {
        const host = systemDockerHost();
        try {
          system = { host, version: await engineVersion(host), owned: false };
          return system;
        } catch (error) {
          if (mode === 'system') throw new Error(dockerUnavailableReason(error));
        }
      }
      return own();
    },
    close: async () => {
      if (!holding) return;
      holding = false;
      const engine = ownEngines.get(engineDir);
      if (engine === undefined) return;
      const started = await engine;
      started.users -= 1;
      if (started.users > 0) return;
      ownEngines.delete(engineDir);
      await stopProcess(started.pid, STOP_TIMEOUT_MS);
      await rm(ownEngineLayout(engineDir).execRoot, { recursive: true, force: true });
    },
  };
}
