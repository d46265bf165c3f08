import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { agentDir } from '../../agents/host-agent/agent-dir.ts';
import { startNatsServer } from '../../lib/servers/nats-server.ts';
import { spawnBerth } from '../../support/cli.ts';
import { bounded, READY_TIMEOUT_MS } from './bounded-wait.ts';
import { median } from '../rounds.ts';
import { mb, progress, say, verdict } from './output.ts';
import { childrenOf, largestMappedFiles, rssSamples, statusField } from './proc-memory.ts';

/** The agent's idle RSS target, MB. */
export const RSS_TARGET_MB = 60;
/**
 * From the ready line to the idle samples: V8 keeps the start-up's garbage (module loading,
 * the platform checks, the inventory) until its memory reducer runs, some seconds into idle.
 */
const RSS_SETTLE_MS = 12_000;
/** When, after the ready line, one sample of the memory start-up left is taken. */
const RSS_EARLY_MS = 2_000;
const RSS_SAMPLES = 10;
const RSS_EVERY_MS = 500;

/** Idle RSS of node itself: `node -e` waiting on a timer. */
async function nodeBaselineRss(signal: AbortSignal): Promise<number> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)'], {
    stdio: 'ignore',
  });
  const exited = once(child, 'exit');
  try {
    await sleep(1_000, undefined, { signal });
    return Math.max(...(await rssSamples(child.pid ?? 0, 4, 250, signal)));
  } finally {
    child.kill('SIGKILL');
    await exited;
  }
}

/** What one agent's idle memory came to, bytes. */
interface AgentMemory {
  readonly pid: number;
  readonly threads: number;
  /** The largest of the idle samples. */
  readonly max: number;
  readonly min: number;
  readonly early: number;
  readonly peak: number;
  readonly anonymous: number;
  readonly fileBacked: number;
  readonly files: readonly (readonly [string, number])[];
  readonly children: string[];
  /** node -e's idle RSS, measured right after this agent. */
  readonly baseline: number;
}

/** Agents started one after another; their idle memory's median is the figure judged. */
const AGENTS = 3;

/**
 * The agent's idle memory: `berth agent start` against a nats-server of its own, in a private
 * folder (its host id, outbox and leftovers sweep touch nothing else) that shares the bench's
 * runner bundle and guest image, so it starts as an agent with its caches in place does. Its
 * VmRSS is sampled once it has sent its inventory and first heartbeat and printed its ready
 * line. Three agents in turn, each followed by node -e for a baseline, since an agent's idle
 * memory depends on when V8's memory reducer runs; returns the median of their largest
 * samples, bytes.
 */
export async function agentRssStep(dataDir: string, signal: AbortSignal): Promise<number> {
  const agents: AgentMemory[] = [];
  for (let index = 1; index <= AGENTS; index += 1) {
    agents.push(await oneAgent(dataDir, `${index}/${AGENTS}`, signal));
  }
  const last = agents[agents.length - 1];
  const medianMax = median(agents.map((agent) => agent.max));
  const medianBaseline = median(agents.map((agent) => agent.baseline));
  say(
    `agent idle memory: berth agent start (node bin/berth.js running the compiled build, ${last?.threads ?? 0} threads), ${AGENTS} agents one after another`,
  );
  say(
    `  each sampled ${RSS_SAMPLES} times over ${(RSS_SAMPLES * RSS_EVERY_MS) / 1000} s, from ${RSS_SETTLE_MS / 1000} s after its ready line (inventory and first heartbeat sent), once V8 has collected what start-up left`,
  );
  for (const [index, agent] of agents.entries()) {
    say(
      `  agent ${index + 1} (pid ${agent.pid}): VmRSS max ${mb(agent.max)}, min ${mb(agent.min)}; anonymous ${mb(agent.anonymous)}, file-backed ${mb(agent.fileBacked)}; ${RSS_EARLY_MS / 1000} s after the ready line ${mb(agent.early)}; VmHWM (its peak, during start-up) ${mb(agent.peak)}`,
    );
  }
  say(
    `  VmRSS max, median ${mb(medianMax)} [${mb(Math.min(...agents.map((agent) => agent.max)))}–${mb(Math.max(...agents.map((agent) => agent.max)))}]; target <= ${RSS_TARGET_MB} MB on the median: ${verdict(medianMax <= RSS_TARGET_MB * 1e6)}`,
  );
  say(
    `  largest files (agent ${agents.length}): ${(last?.files ?? []).map(([file, bytes]) => `${basename(file)} ${mb(bytes)}`).join(', ')}`,
  );
  say(
    last === undefined || last.children.length === 0
      ? '  child processes: none'
      : `  child processes, not counted above: ${last.children.join('; ')}`,
  );
  say(
    `  node's own idle baseline (node -e, a timer): median ${mb(medianBaseline)}; the agent adds ${mb(medianMax - medianBaseline)}`,
  );
  say();
  return medianMax;
}

/** One agent started, sampled idle and stopped; node -e measured after it. */
async function oneAgent(dataDir: string, which: string, signal: AbortSignal): Promise<AgentMemory> {
  const dir = await mkdtemp(join(dataDir, 'bench-agent-'));
  await mkdir(join(agentDir(dataDir), 'images'), { recursive: true });
  await mkdir(agentDir(dir), { recursive: true });
  await symlink(join(dataDir, 'runner'), join(dir, 'runner'));
  await symlink(join(agentDir(dataDir), 'images'), join(agentDir(dir), 'images'));
  progress(`agent ${which}: starting nats-server and berth agent start`);
  let nats: Awaited<ReturnType<typeof startNatsServer>> | undefined;
  let agent: ReturnType<typeof spawnBerth> | undefined;
  try {
    nats = await startNatsServer({ dataDir: join(dir, 'nats') });
    agent = spawnBerth(['agent', 'start'], { NATS_URL: nats.url, BERTH_DATA_DIR: dir });
    await bounded(
      agent.waitForLine(/berth agent ready/, READY_TIMEOUT_MS),
      signal,
      READY_TIMEOUT_MS,
      'berth agent start',
    );
    const pid = agent.child.pid ?? 0;
    const seconds = (RSS_SAMPLES * RSS_EVERY_MS) / 1000;
    progress(
      `agent ${which}: ready; sampling its memory for ${seconds} s from ${RSS_SETTLE_MS / 1000} s on`,
    );
    await sleep(RSS_EARLY_MS, undefined, { signal });
    const [early] = await rssSamples(pid, 1, 0, signal);
    await sleep(RSS_SETTLE_MS - RSS_EARLY_MS, undefined, { signal });
    const samples = await rssSamples(pid, RSS_SAMPLES, RSS_EVERY_MS, signal);
    const [peak, anonymous, fileBacked, threads] = await Promise.all(
      ['VmHWM', 'RssAnon', 'RssFile', 'Threads'].map((field) => statusField(pid, field)),
    );
    const files = await largestMappedFiles(pid, 3);
    const children = await childrenOf(pid);
    const childRss = await Promise.all(
      children.map((child) => statusField(child.pid, 'VmRSS').catch(() => 0)),
    );
    progress(`agent ${which}: measuring node -e for a baseline`);
    const baseline = await nodeBaselineRss(signal);
    return {
      pid,
      threads: threads ?? 0,
      max: Math.max(...samples),
      min: Math.min(...samples),
      early: early ?? 0,
      peak: peak ?? 0,
      anonymous: anonymous ?? 0,
      fileBacked: fileBacked ?? 0,
      files,
      children: children.map(
        (child, index) => `${child.command} (pid ${child.pid}) ${mb(childRss[index] ?? 0)}`,
      ),
      baseline,
    };
  } finally {
    if (agent !== undefined && agent.child.exitCode === null && agent.child.signalCode === null) {
      agent.child.kill('SIGTERM');
      await Promise.race([agent.exited(), sleep(15_000, undefined, { ref: false })]);
      agent.child.kill('SIGKILL');
      await agent.exited();
    }
    await nats?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
