import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { availableParallelism, release, tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import type { Accel, ResultMetric, RunnerLine } from '../contracts/index.ts';
import { removeEmptyBerthCgroups } from '../agents/host-agent/cgroups.ts';
import {
  endRunner,
  RUNNER_ENV,
  spawnRunner,
  type RunnerProcess,
} from '../agents/host-agent/drivers/child-instance.ts';
import { writeBundle } from '../agents/host-agent/drivers/container-oci.ts';
import type {
  Availability,
  Instance,
  PlatformDriver,
} from '../agents/host-agent/drivers/driver.ts';
import { guestCommand, qemuArgs, type QemuMode } from '../agents/host-agent/drivers/vm-qemu.ts';
import { agentDir, selectDrivers, type DriverConfig } from '../agents/host-agent/run.ts';
import { SETTINGS } from '../lib/config.ts';
import { runnerBundle } from '../agents/host-agent/runner-bundle.ts';
import { metricFromSamples } from '../agents/host-agent/stats.ts';
import { newRunId } from '../agents/host-agent/suite.ts';
import { buildGuestImage, type GuestImage } from '../agents/host-agent/vm/guest-image.ts';
import { startNatsServer } from '../lib/servers/nats-server.ts';
import { spawnBerth } from '../test/helpers/cli.ts';
import { ociContainers, processesMatching } from '../test/helpers/leftovers.ts';

const run = promisify(execFile);

export interface DriversBenchOptions {
  /** Start-up launches of each kind on the process and container platforms. */
  readonly launches: number;
  /** Start-up launches of each kind on the VM platforms (seconds each under TCG). */
  readonly vmLaunches: number;
  /** Platforms to time start-up on; every platform the agent knows when empty. */
  readonly platforms: readonly string[];
  /** Runs of cpu-sha256 on the process platform, each a new instance. */
  readonly spreadRuns: number;
  readonly timeCapMs: number;
  /** Caches (runner bundle, guest image) and instance folders; a temporary folder when undefined. */
  readonly dataDir: string | undefined;
}

/** What the suite's start-up launches run: no workload, held until standard input closes. */
const STARTUP_ARGS = ['--workloads', '', '--hold'];
const QEMU = 'qemu-system-x86_64';
const UNSHARE = ['-m', '-p', '-f', '-n', '-u', '-i'];
/** As long as the VM driver waits for a guest's first line. */
const READY_TIMEOUT_MS = 60_000;
/** As the suite does: a failed launch (a guest that hangs in its boot) is tried once more. */
const LAUNCH_ATTEMPTS = 2;
const STARTUP_TARGET = 1.1;
const RSS_TARGET_MB = 80;
const SPREAD_TARGET = 0.02;
const RSS_SETTLE_MS = 2_000;
const RSS_SAMPLES = 10;
const RSS_EVERY_MS = 500;

type Lines = AsyncIterable<{ line: RunnerLine; at: number }>;
type Settings = Instance['settings'];

/** One launch of a variant, up to its teardown. */
interface Launch {
  /** performance.now() when the measured span begins. */
  readonly startedAt: number;
  /** performance.now() just before the platform's program was spawned. */
  readonly spawnedAt: number;
  /** Runners the launch holds; start-up runs to the last one's ready line. */
  readonly runners: number;
  readonly lines: Lines;
  /** Berth's instance, when the launch went through a driver. */
  readonly instance?: Instance;
  stop(): Promise<void>;
}

/** One way of starting the runner: Berth's driver, the bare runtime by hand, or a reference. */
interface Variant {
  readonly role: 'berth' | 'bare' | 'reference';
  /** Short, subject-safe: part of the instance ids. */
  readonly tag: string;
  readonly label: string;
  launch(id: string): Promise<Launch>;
}

interface Sample {
  /** Measured span: start of the launch to the runner's ready line. */
  readonly ms: number;
  /** Spawn of the platform's program to the ready line. */
  readonly spawnMs: number;
  readonly memoryBytes: number | undefined;
}

interface Summary {
  readonly p50: number;
  readonly mean: number;
  readonly stddev: number;
}

interface PlatformResult {
  readonly platform: string;
  readonly accel: Accel;
  readonly settings: Settings;
  readonly berth: Summary;
  readonly bare: Summary;
  readonly memoryBytes: number | undefined;
}

function say(line = ''): void {
  process.stdout.write(`${line}\n`);
}

function progress(line: string): void {
  process.stderr.write(`drivers: ${line}\n`);
}

function summarise(name: string, unit: string, samples: readonly number[]): Summary {
  const metric = metricFromSamples(name, unit, samples);
  return {
    p50: metric.percentiles?.p50 ?? metric.value,
    mean: metric.value,
    stddev: metric.stddev ?? 0,
  };
}

function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

function percent(fraction: number): string {
  return `${(fraction * 100).toFixed(2)}%`;
}

function verdict(met: boolean): string {
  return met ? 'met' : 'missed';
}

/** The work's value, unless the run is interrupted or timeoutMs passes first. */
async function bounded<T>(
  work: Promise<T>,
  signal: AbortSignal,
  timeoutMs: number,
  what: string,
): Promise<T> {
  // Whatever the work ends with after we stopped waiting is of no interest.
  work.catch(() => undefined);
  const controller = new AbortController();
  try {
    return await Promise.race([
      work,
      sleep(timeoutMs, undefined, { signal: AbortSignal.any([signal, controller.signal]) }).then(
        () => {
          throw new Error(`${what}: not done within ${timeoutMs} ms`);
        },
        () => {
          throw new Error('interrupted');
        },
      ),
    ]);
  } finally {
    controller.abort();
  }
}

/** When the last runner's ready line arrived; reads on to the done lines, as the suite does. */
async function readyAt(lines: Lines, runners: number, what: string): Promise<number> {
  const ready: number[] = [];
  for await (const item of lines) {
    if (item.line.type === 'ready') ready.push(item.at);
    if (item.line.type === 'error') throw new Error(`${what}: ${item.line.message}`);
  }
  if (ready.length < runners) {
    throw new Error(`${what}: ${ready.length} of ${runners} runners became ready`);
  }
  return Math.max(...ready);
}

async function timeLaunch(variant: Variant, id: string, signal: AbortSignal): Promise<Sample> {
  const launch = await variant.launch(id);
  try {
    const at = await bounded(
      readyAt(launch.lines, launch.runners, id),
      signal,
      READY_TIMEOUT_MS,
      id,
    );
    return {
      ms: at - launch.startedAt,
      spawnMs: at - launch.spawnedAt,
      memoryBytes: await launch.instance?.peakMemoryBytes(),
    };
  } finally {
    await launch.stop();
  }
}

/** timeLaunch, tried once more when the launch fails; the failed attempt is not timed. */
async function timeLaunchWithRetry(
  variant: Variant,
  id: string,
  signal: AbortSignal,
  onRetry: (message: string) => void,
): Promise<Sample> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await timeLaunch(variant, id, signal);
    } catch (error) {
      if (signal.aborted || attempt >= LAUNCH_ATTEMPTS) throw error;
      onRetry(error instanceof Error ? error.message : String(error));
    }
  }
}

/** Berth's driver, with the settings of its first instance, which the bare launches copy. */
interface BerthVariant extends Variant {
  readonly settings: () => Settings | undefined;
}

/** Berth's driver, timed from just before driver.start(): its own preparation counts. */
function berthVariant(driver: PlatformDriver): BerthVariant {
  let first: Settings | undefined;
  return {
    role: 'berth',
    tag: 'berth',
    label: 'Berth: driver.start() -> ready',
    settings: () => first,
    launch: async (id) => {
      const startedAt = performance.now();
      const instance = await driver.start({ id, runnerArgs: STARTUP_ARGS });
      first ??= instance.settings;
      return {
        startedAt,
        spawnedAt: instance.launchedAt,
        runners: instance.runners,
        lines: instance.lines,
        instance,
        stop: () => instance.stop(),
      };
    },
  };
}

/** A bare launch: timed from the spawn, ended by `cleanUp` after the runner is. */
function bareLaunch(
  runner: RunnerProcess,
  runners: number,
  cleanUp: () => Promise<unknown>,
  graceMs?: number,
): Launch {
  return {
    startedAt: runner.launchedAt,
    spawnedAt: runner.launchedAt,
    runners,
    lines: runner.lines,
    stop: async () => {
      await endRunner(runner, graceMs);
      await cleanUp();
    },
  };
}

/** The runner as a plain child process (optionally under a command such as unshare), no cgroup. */
function processVariant(
  role: 'bare' | 'reference',
  tag: string,
  label: string,
  runnerPath: string,
  scratchRoot: string,
  command: string,
  prefix: readonly string[],
): Variant {
  return {
    role,
    tag,
    label,
    launch: async (id) => {
      const scratchDir = join(scratchRoot, id);
      await mkdir(scratchDir, { recursive: true });
      const runner = spawnRunner(
        command,
        [...prefix, runnerPath, '--scratch', scratchDir, ...STARTUP_ARGS],
        1,
        RUNNER_ENV,
      );
      return bareLaunch(runner, 1, () => rm(scratchDir, { recursive: true, force: true }));
    },
  };
}

/** `runc run` by hand of a bundle written, before the span, by the driver's own writeBundle. */
function runcVariant(runnerPath: string, bundlesDir: string): Variant {
  return {
    role: 'bare',
    tag: 'bare',
    label: 'bare: runc run --bundle <same bundle> -> ready',
    launch: async (id) => {
      const bundleDir = join(bundlesDir, id);
      const scratchDir = join(bundleDir, 'scratch');
      await mkdir(scratchDir, { recursive: true });
      await writeBundle(
        'runc',
        bundleDir,
        id,
        [process.execPath, runnerPath, '--scratch', '/scratch', ...STARTUP_ARGS],
        dirname(runnerPath),
        scratchDir,
      );
      const runner = spawnRunner('runc', ['run', '--bundle', bundleDir, id]);
      return bareLaunch(runner, 1, async () => {
        await run('runc', ['delete', '--force', id]).catch(() => undefined);
        await removeEmptyBerthCgroups();
        await rm(bundleDir, { recursive: true, force: true });
      });
    },
  };
}

/**
 * QEMU by hand: the driver's own command line (qemuArgs) and guest command (guestCommand),
 * the same image, and the accel, memory, CPUs and containers per VM the driver reported for
 * its first instance.
 */
function qemuVariant(
  mode: QemuMode,
  runnerPath: string,
  imagesDir: string,
  bundlesDir: string,
  settings: () => Settings | undefined,
): Variant {
  let cached: Promise<GuestImage> | undefined;
  return {
    role: 'bare',
    tag: 'bare',
    label: `bare: ${QEMU}, same image/args/cmd -> ready`,
    launch: async (id) => {
      cached ??= buildGuestImage(imagesDir);
      const image = await cached;
      const { accel, memoryMiB, cpus, kernel, containersPerVm = 1 } = settings() ?? {};
      if (accel !== 'kvm' && accel !== 'tcg') {
        throw new Error(`${mode}: no Berth launch (or one without accel) to copy the guest from`);
      }
      if (typeof memoryMiB !== 'number' || typeof cpus !== 'number') {
        throw new Error(`${mode}: the driver's settings no longer say memoryMiB and cpus`);
      }
      if (typeof containersPerVm !== 'number' || kernel !== image.kernelVersion) {
        throw new Error(
          `${mode}: the driver reported containersPerVm or a kernel this bench cannot copy`,
        );
      }
      const bundleDir = join(bundlesDir, id);
      const scratchDir = join(bundleDir, 'scratch');
      await mkdir(scratchDir, { recursive: true });
      const cmdFile = join(bundleDir, 'cmd.sh');
      await writeFile(
        cmdFile,
        guestCommand(
          mode,
          [process.execPath, runnerPath, '--scratch', scratchDir, ...STARTUP_ARGS],
          containersPerVm,
        ),
      );
      const runner = spawnRunner(
        QEMU,
        qemuArgs(image, accel, memoryMiB, cpus, cmdFile, scratchDir),
        containersPerVm,
      );
      return bareLaunch(
        runner,
        containersPerVm,
        () => rm(bundleDir, { recursive: true, force: true }),
        0,
      );
    },
  };
}

const COLUMNS = `  ${''.padEnd(60)}${'p50 ms'.padStart(10)}${'mean ms'.padStart(10)}${'p50/bare'.padStart(10)}${'mean/bare'.padStart(11)}`;

function row(label: string, summary: Summary, bare: Summary): string {
  return `  ${label.padEnd(60)}${summary.p50.toFixed(1).padStart(10)}${summary.mean.toFixed(1).padStart(10)}${(summary.p50 / bare.p50).toFixed(2).padStart(10)}${(summary.mean / bare.mean).toFixed(2).padStart(11)}`;
}

interface Measured {
  readonly result: PlatformResult;
  readonly lines: string[];
}

/** Warm-up launch of each variant, then `launches` rounds of one launch of each, in turn. */
async function measurePlatform(
  driver: PlatformDriver,
  availability: Availability,
  launches: number,
  berth: BerthVariant,
  variants: readonly Variant[],
  runId: string,
  signal: AbortSignal,
): Promise<Measured> {
  const samples = new Map<Variant, Sample[]>(variants.map((variant) => [variant, []]));
  const retries = new Map<Variant, number>(variants.map((variant) => [variant, 0]));
  const launch = (variant: Variant, suffix: string): Promise<Sample> =>
    timeLaunchWithRetry(
      variant,
      `${runId}-${driver.platform}-${variant.tag}-${suffix}`,
      signal,
      (message) => {
        retries.set(variant, (retries.get(variant) ?? 0) + 1);
        progress(`${driver.platform}: ${variant.tag} launch failed, trying once more: ${message}`);
      },
    );
  progress(`${driver.platform}: one warm-up launch of each (${variants.length}), not measured`);
  for (const variant of variants) await launch(variant, 'w');
  for (let round = 1; round <= launches; round += 1) {
    const parts: string[] = [];
    for (const variant of variants) {
      const sample = await launch(variant, String(round));
      samples.get(variant)?.push(sample);
      parts.push(`${variant.tag} ${sample.ms.toFixed(0)} ms`);
    }
    progress(`${driver.platform} ${round}/${launches}: ${parts.join(', ')}`);
  }

  const timed = (variant: Variant): Summary =>
    summarise(
      'startup',
      'ms',
      (samples.get(variant) ?? []).map((sample) => sample.ms),
    );
  const bareVariant = variants.find((variant) => variant.role === 'bare');
  if (bareVariant === undefined) throw new Error(`${driver.platform}: no bare variant`);
  const berthSamples = samples.get(berth) ?? [];
  const berthSummary = timed(berth);
  const bare = timed(bareVariant);
  const spawnToReady = summarise(
    'startup',
    'ms',
    berthSamples.map((sample) => sample.spawnMs),
  );
  const preparation = summarise(
    'preparation',
    'ms',
    berthSamples.map((sample) => sample.ms - sample.spawnMs),
  );
  const memory = berthSamples.flatMap((sample) =>
    sample.memoryBytes === undefined ? [] : [sample.memoryBytes],
  );
  const memoryBytes = memory.length > 0 ? summarise('memory', 'B', memory).p50 : undefined;
  const settings = berth.settings() ?? {};
  const accel = availability.accel ?? 'none';
  const ratio = berthSummary.p50 / bare.p50;
  const retried = [...retries].filter(([, count]) => count > 0);

  const lines = [
    `${driver.platform}: ${driver.runtime} ${availability.version ?? ''}, accel ${accel}${availability.reason === undefined ? '' : ` (${availability.reason})`}`,
    `  ${launches} launch${launches === 1 ? '' : 'es'} of each, interleaved, after one unmeasured warm-up launch of each`,
    COLUMNS,
    row(berth.label, berthSummary, bare),
    row("  of it, spawn -> ready (Berth's startup metric)", spawnToReady, bare),
    ...variants
      .filter((variant) => variant !== berth)
      .map((variant) => row(variant.label, timed(variant), bare)),
    `  Berth/bare at p50: ${ratio.toFixed(2)}, target <= ${STARTUP_TARGET.toFixed(2)}: ${verdict(ratio <= STARTUP_TARGET)}; the driver's own work before the spawn: p50 ${preparation.p50.toFixed(1)} ms`,
    ...(retried.length === 0
      ? []
      : [
          `  failed launches tried once more: ${retried.map(([variant, count]) => `${variant.tag} ${count}`).join(', ')}`,
        ]),
    ...(memoryBytes === undefined
      ? []
      : [
          `  memory per instance, as Berth's memory-peak measures it on ${driver.platform}: p50 ${mb(memoryBytes)}`,
        ]),
  ];
  return {
    result: { platform: driver.platform, accel, settings, berth: berthSummary, bare, memoryBytes },
    lines,
  };
}

/** What one driver is timed with: Berth's driver first, then the bare runtime. */
interface Variants {
  readonly berth: BerthVariant;
  readonly variants: readonly Variant[];
  /** A VM platform, which gets --vm-launches. */
  readonly vm: boolean;
}

/**
 * The variants to time on one driver (platform and runtime); undefined for a driver whose
 * bare equivalent this benchmark does not know.
 */
function variantsFor(
  driver: PlatformDriver,
  dataDir: string,
  runnerPath: string,
): Variants | undefined {
  const dir = agentDir(dataDir);
  const bundlesDir = join(dir, 'bundles');
  const berth = berthVariant(driver);
  const kind = `${driver.platform}:${driver.runtime}`;
  if (kind === 'process:node') {
    const scratchRoot = join(dir, 'scratch');
    return {
      berth,
      vm: false,
      variants: [
        berth,
        processVariant(
          'bare',
          'bare',
          'bare: node <runner> (no cgroup) -> ready',
          runnerPath,
          scratchRoot,
          process.execPath,
          [],
        ),
        processVariant(
          'reference',
          'unshare',
          `reference: unshare ${UNSHARE.join(' ')} node <runner> -> ready`,
          runnerPath,
          scratchRoot,
          'unshare',
          [...UNSHARE, process.execPath],
        ),
      ],
    };
  }
  if (kind === 'container:runc') {
    return { berth, vm: false, variants: [berth, runcVariant(runnerPath, bundlesDir)] };
  }
  if (
    driver.runtime === 'qemu-microvm' &&
    (driver.platform === 'vm' || driver.platform === 'container-in-vm')
  ) {
    const bare = qemuVariant(
      driver.platform,
      runnerPath,
      join(dir, 'images'),
      bundlesDir,
      berth.settings,
    );
    return { berth, vm: true, variants: [berth, bare] };
  }
  return undefined;
}

/** The drivers as an agent with default settings makes them, over the benchmark's data folder. */
function defaultDriverConfig(dataDir: string): DriverConfig {
  return {
    dataDir,
    libvirtUri: SETTINGS.libvirtUri.defaultValue,
    containersPerVm: SETTINGS.containersPerVm.defaultValue,
  };
}

async function startupStep(
  options: DriversBenchOptions,
  dataDir: string,
  runnerPath: string,
  runId: string,
  signal: AbortSignal,
): Promise<PlatformResult[]> {
  const results: PlatformResult[] = [];
  say(
    "start-up: from the launch to the runner's ready line (runner started with --workloads '' --hold)",
  );
  say();
  for (const driver of await selectDrivers(defaultDriverConfig(dataDir), options.platforms)) {
    const chosen = variantsFor(driver, dataDir, runnerPath);
    if (chosen === undefined) {
      say(
        `${driver.platform} (${driver.runtime}): skipped, this benchmark knows no bare equivalent for it`,
      );
      say();
      continue;
    }
    progress(`${driver.platform}: checking availability`);
    const availability = await driver.availability();
    if (!availability.available) {
      say(`${driver.platform}: skipped, ${availability.reason ?? 'unavailable'}`);
      say();
      continue;
    }
    const measured = await measurePlatform(
      driver,
      availability,
      chosen.vm ? options.vmLaunches : options.launches,
      chosen.berth,
      chosen.variants,
      runId,
      signal,
    );
    for (const line of measured.lines) say(line);
    say();
    results.push(measured.result);
  }
  return results;
}

/** A field of /proc/<pid>/status: a size in bytes (the kernel writes kB) or a count. */
async function statusField(pid: number, field: string): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`^${field}:\\s+(\\d+)( kB)?$`, 'm').exec(status);
  if (match?.[1] === undefined) throw new Error(`/proc/${pid}/status has no ${field}`);
  return Number(match[1]) * (match[2] === undefined ? 1 : 1024);
}

/** VmRSS of a process, bytes, `count` times `everyMs` apart. */
async function rssSamples(
  pid: number,
  count: number,
  everyMs: number,
  signal: AbortSignal,
): Promise<number[]> {
  const samples: number[] = [];
  for (let index = 0; index < count; index += 1) {
    if (index > 0) await sleep(everyMs, undefined, { signal });
    samples.push(await statusField(pid, 'VmRSS'));
  }
  return samples;
}

/** The files whose pages count most in a process's RSS, largest first, bytes. */
async function largestMappedFiles(pid: number, count: number): Promise<[string, number][]> {
  const rss = new Map<string, number>();
  let file: string | undefined;
  for (const line of (await readFile(`/proc/${pid}/smaps`, 'utf8')).split('\n')) {
    const header = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (header !== null) file = header[1]?.startsWith('/') === true ? header[1] : undefined;
    const kib = /^Rss:\s+(\d+) kB/.exec(line)?.[1];
    if (file !== undefined && kib !== undefined) {
      rss.set(file, (rss.get(file) ?? 0) + Number(kib) * 1024);
    }
  }
  return [...rss].sort((a, b) => b[1] - a[1]).slice(0, count);
}

/** The processes whose parent is pid, with their command lines. */
async function childrenOf(pid: number): Promise<{ pid: number; command: string }[]> {
  const children: { pid: number; command: string }[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (parent !== pid) continue;
    const argv = (await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => ''))
      .split('\0')
      .filter((arg) => arg !== '');
    children.push({
      pid: Number(entry),
      command: [basename(argv[0] ?? '?'), ...argv.slice(1)].join(' '),
    });
  }
  return children;
}

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

/**
 * `berth agent start` against a nats-server of its own, in a private folder (its host id,
 * outbox and leftovers sweep touch nothing else) that shares the bench's runner bundle and
 * guest image, so it starts as an agent with its caches in place does. Its VmRSS is sampled
 * once it has sent its inventory and first heartbeat and printed its ready line.
 */
async function agentRssStep(dataDir: string, signal: AbortSignal): Promise<number> {
  const dir = await mkdtemp(join(dataDir, 'bench-agent-'));
  await mkdir(join(agentDir(dataDir), 'images'), { recursive: true });
  await mkdir(agentDir(dir), { recursive: true });
  await symlink(join(dataDir, 'runner'), join(dir, 'runner'));
  await symlink(join(agentDir(dataDir), 'images'), join(agentDir(dir), 'images'));
  progress('agent: starting nats-server and berth agent start');
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
    progress(`agent: ready; sampling its memory for ${seconds} s`);
    await sleep(RSS_SETTLE_MS, undefined, { signal });
    const samples = await rssSamples(pid, RSS_SAMPLES, RSS_EVERY_MS, signal);
    const [peak, anonymous, fileBacked, threads] = await Promise.all(
      ['VmHWM', 'RssAnon', 'RssFile', 'Threads'].map((field) => statusField(pid, field)),
    );
    const files = await largestMappedFiles(pid, 3);
    const children = await childrenOf(pid);
    const childRss = await Promise.all(
      children.map((child) => statusField(child.pid, 'VmRSS').catch(() => 0)),
    );
    progress('agent: measuring node -e for a baseline');
    const baseline = await nodeBaselineRss(signal);
    const max = Math.max(...samples);
    say(
      `agent idle memory: berth agent start, pid ${pid} (node bin/berth.js, ${threads ?? 0} threads: tsx's loader hooks run on a thread of this process, so its RSS counts them)`,
    );
    say(
      `  sampled ${RSS_SAMPLES} times over ${seconds} s, from ${RSS_SETTLE_MS / 1000} s after its ready line (inventory and first heartbeat sent)`,
    );
    say(
      `  VmRSS max ${mb(max)}, min ${mb(Math.min(...samples))}; target <= ${RSS_TARGET_MB} MB: ${verdict(max <= RSS_TARGET_MB * 1e6)}`,
    );
    say(
      `    anonymous ${mb(anonymous ?? 0)}, file-backed ${mb(fileBacked ?? 0)}; largest files: ${files.map(([file, bytes]) => `${basename(file)} ${mb(bytes)}`).join(', ')}`,
    );
    say(`  VmHWM (its peak, during start-up) ${mb(peak ?? 0)}`);
    say(
      children.length === 0
        ? '  child processes: none'
        : `  child processes, not counted above: ${children.map((child, index) => `${child.command} (pid ${child.pid}) ${mb(childRss[index] ?? 0)}`).join('; ')}`,
    );
    say(
      `  node's own idle baseline (node -e, a timer): ${mb(baseline)}; the agent adds ${mb(max - baseline)}`,
    );
    say();
    return max;
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

/** The runner's metrics for one workload, from its lines. */
async function workloadMetrics(lines: Lines, workload: string): Promise<ResultMetric[]> {
  let metrics: ResultMetric[] | undefined;
  for await (const { line } of lines) {
    if (line.type === 'result' && line.workload === workload) metrics = line.metrics;
    if (line.type === 'error') throw new Error(`${workload}: ${line.message}`);
  }
  if (metrics === undefined) throw new Error(`${workload}: the runner printed no result`);
  return metrics;
}

async function spreadStep(
  options: DriversBenchOptions,
  dataDir: string,
  runId: string,
  signal: AbortSignal,
): Promise<void> {
  const [driver] = await selectDrivers(defaultDriverConfig(dataDir), ['process']);
  if (driver === undefined) throw new Error('no process driver');
  const workload = 'cpu-sha256';
  say(
    `${workload} on process: ${options.spreadRuns} runs, each a new instance, rme target 2% or a ${options.timeCapMs} ms time cap`,
  );
  const means: number[] = [];
  let unit = '';
  for (let index = 1; index <= options.spreadRuns; index += 1) {
    progress(`spread: ${workload} run ${index}/${options.spreadRuns}`);
    const instance = await driver.start({
      id: `${runId}-spread-${index}`,
      runnerArgs: ['--workloads', workload, '--time-cap-ms', String(options.timeCapMs)],
    });
    let metrics: ResultMetric[];
    try {
      metrics = await bounded(
        workloadMetrics(instance.lines, workload),
        signal,
        options.timeCapMs + READY_TIMEOUT_MS,
        `${workload} run ${index}`,
      );
    } finally {
      await instance.stop();
    }
    const throughput = metrics.find((metric) => metric.name === 'throughput');
    if (throughput === undefined) throw new Error(`${workload}: no throughput metric`);
    unit = throughput.unit;
    means.push(throughput.value);
    say(
      `  run ${index}: ${throughput.value.toFixed(1)} ${unit} (mean of ${throughput.samples} samples, rme ${throughput.rme.toFixed(2)}%, stopped by ${throughput.stoppedBy ?? 'unknown'})`,
    );
  }
  const summary = summarise('throughput', unit, means);
  const spread = (Math.max(...means) - Math.min(...means)) / summary.mean;
  say(
    `  spread (max - min) / mean: ${percent(spread)}; target <= ${percent(SPREAD_TARGET)}: ${verdict(spread <= SPREAD_TARGET)}`,
  );
  say(`  coefficient of variation (stddev / mean): ${percent(summary.stddev / summary.mean)}`);
  say();
}

function comparisonStep(results: readonly PlatformResult[], agentRss: number): void {
  const on = (platform: string): PlatformResult | undefined =>
    results.find((result) => result.platform === platform);
  const ms = (summary: Summary): string => `${summary.p50.toFixed(0)} ms`;
  const accels = new Set(
    results.filter((result) => result.accel !== 'none').map((result) => result.accel),
  );
  say('compared with published figures (/work/shared/papers.md); this host at p50');
  if (accels.has('tcg')) {
    say(
      "  The VMs here ran under TCG, QEMU's software emulation of the CPU, not KVM: their start-up is not comparable with the KVM figures.",
    );
  } else if (accels.has('kvm')) {
    say('  The VMs here ran under KVM, as in the published VM figures.');
  }
  const bareProcess = on('process');
  if (bareProcess !== undefined) {
    say(
      `  Start-up here runs to the runner's ready line, so it includes node's own start-up (bare node here: ${ms(bareProcess.bare)}).`,
    );
  }
  const guest = (result: PlatformResult): string =>
    `${result.accel}, ${String(result.settings['cpus'] ?? '?')} vCPU, ${String(result.settings['memoryMiB'] ?? '?')} MiB, kernel ${String(result.settings['kernel'] ?? '?')}`;
  const vm = on('vm');
  say('  Firecracker (NSDI 2020; KVM, 1 vCPU, 128 MiB, minimal kernel): <= 125 ms to guest init');
  if (vm !== undefined) {
    say(`    here, vm (${guest(vm)}): Berth ${ms(vm.berth)}, bare QEMU ${ms(vm.bare)}`);
  }
  const kata = on('container-in-vm');
  say('  Kata Containers CI (2019): about 0.85 s to start, about 130 MB per instance without KSM');
  if (kata !== undefined) {
    say(
      `    here, container-in-vm (${guest(kata)}): Berth ${ms(kata.berth)}, bare QEMU ${ms(kata.bare)}${kata.memoryBytes === undefined ? '' : `; ${mb(kata.memoryBytes)} per instance (PSS of QEMU)`}`,
    );
  }
  const container = on('container');
  say('  containers: tens of ms');
  if (container !== undefined) {
    say(
      `    here, container (runc): Berth ${ms(container.berth)}, bare runc ${ms(container.bare)}${container.memoryBytes === undefined ? '' : `; ${mb(container.memoryBytes)} per instance (cgroup peak)`}`,
    );
  }
  say('  process fork/exec (LightVM, SOSP 2017): about 1 ms');
  if (bareProcess !== undefined) {
    say(
      `    here, process: Berth ${ms(bareProcess.berth)}, bare node ${ms(bareProcess.bare)} (node's start-up)`,
    );
  }
  say(`  agent idle RSS here: ${mb(agentRss)} (target <= ${RSS_TARGET_MB} MB)`);
  say();
}

/** Berth's cgroups of this run (berth/<id> in any hierarchy) that still exist. */
async function cgroupsOf(runId: string): Promise<string[]> {
  const root = '/sys/fs/cgroup';
  const hierarchies = [
    root,
    ...(await readdir(root).catch(() => [])).map((name) => join(root, name)),
  ];
  const found: string[] = [];
  for (const hierarchy of hierarchies) {
    const names = await readdir(join(hierarchy, 'berth')).catch(() => [] as string[]);
    found.push(
      ...names
        .filter((name) => name.startsWith(runId))
        .map((name) => join(hierarchy, 'berth', name)),
    );
  }
  return found;
}

/** What this run left: runc containers, processes, cgroups, instance folders. */
async function leftoversOf(runId: string, dataDir: string): Promise<string[]> {
  let containers: string[];
  try {
    containers = ociContainers('runc', runId);
  } catch {
    containers = [];
  }
  const folders: string[] = [];
  for (const parent of ['bundles', 'scratch'].map((name) => join(agentDir(dataDir), name))) {
    const names = await readdir(parent).catch(() => [] as string[]);
    folders.push(
      ...names.filter((name) => name.startsWith(runId)).map((name) => join(parent, name)),
    );
  }
  return [
    ...containers.map((id) => `runc container ${id}`),
    ...processesMatching(runId).map((pid) => `process ${pid}`),
    ...(await cgroupsOf(runId)).map((dir) => `cgroup ${dir}`),
    ...folders.map((dir) => `folder ${dir}`),
  ];
}

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
  say(`left behind: nothing (no runc container, process, cgroup or folder of run ${runId})`);
}
