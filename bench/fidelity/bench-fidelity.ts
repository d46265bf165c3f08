import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { printTable } from '../../cli/output.ts';
import { SETTINGS } from '../../lib/config.ts';
import { say, verdict } from '../drivers/output.ts';
import { type AaFigure, aaStep } from './aa.ts';
import { CANARY_QUOTAS, type KnownEffectsFigure, knownEffectsStep } from './known-effects.ts';
import { leftBehind, tracesNow } from './leftovers.ts';
import { type FidelityBenchOptions, suiteOf } from './options.ts';
import { percent, progress, seconds, shareText } from './output.ts';
import { type SpreadFigure, spreadStep } from './spread.ts';
import type { BenchContext } from './suite-runs.ts';
import { type WallTimeFigure, wallTimeStep } from './wall-time.ts';

/** The four figures of a run. */
interface Figures {
  readonly aa: AaFigure;
  readonly knownEffects: KnownEffectsFigure;
  readonly spread: SpreadFigure;
  readonly wallTime: WallTimeFigure;
}

/** The host's load averages over 1, 5 and 15 minutes: `3.7 4.0 3.4`. */
function loadAverage(): string {
  return loadavg()
    .map((value) => value.toFixed(1))
    .join(' ');
}

/**
 * Aborts the controller on the first SIGINT or SIGTERM, so that what runs is torn down, and
 * exits at once on the second. Returns what stops listening.
 */
function abortOnSignals(controller: AbortController): () => void {
  const signals = ['SIGINT', 'SIGTERM'] as const;
  const onSignal = (): void => {
    if (controller.signal.aborted) process.exit(130);
    progress('stopping: tearing down what runs (a second signal exits at once)');
    controller.abort();
  };
  for (const signal of signals) process.on(signal, onSignal);
  return () => {
    for (const signal of signals) process.off(signal, onSignal);
  };
}

/** The four steps, one after another. */
async function measureFigures(
  context: BenchContext,
  options: FidelityBenchOptions,
): Promise<Figures> {
  const aa = await aaStep(context, options);
  const knownEffects = await knownEffectsStep(context, options);
  const spread = await spreadStep(context, options);
  const wallTime = await wallTimeStep(context, options);
  return { aa, knownEffects, spread, wallTime };
}

/** The steps the run will take, on standard error before it starts. */
function announcePlan(options: FidelityBenchOptions): void {
  const suite = suiteOf(options);
  const aaRuns = Math.ceil(options.aaComparisons / options.aaCopies);
  const steps = [
    `(a) A/A: ${aaRuns} ${suite.name} suite runs of process against ${options.aaCopies} copies of itself (>= ${options.aaComparisons} comparisons of each workload)`,
    `(b) known effects: ${options.canaryRuns} canary runs of ${options.canaryRounds} rounds at each of ${CANARY_QUOTAS.map(percent).join(', ')} quota`,
    `(c) spread: ${options.spreadSuites} ${suite.name} suites on process alone`,
    `(d) wall time: up to ${options.wallPairs} pairs of a single pass and rounds on ${options.wallPlatforms.join(', ')}, while within ${options.minutes} minutes`,
  ];
  progress(`plan${options.quick ? ' (--quick: a shortened suite, the smallest counts)' : ''}:`);
  for (const step of steps) progress(`  ${step}`);
}

/** The four figures against their goals, as a table. */
function summaryTable(figures: Figures): void {
  const { aa, knownEffects, spread, wallTime } = figures;
  printTable(
    [
      {
        figure: '(a) A/A: faster or slower',
        measured: shareText(aa.falseDecisions, aa.comparisons),
        goal: `<= ${percent(aa.goal)}`,
        verdict: verdict(aa.met),
      },
      {
        figure: '(b) canary: interval covers the quota',
        measured: shareText(knownEffects.covered, knownEffects.runs),
        goal: `>= ${percent(knownEffects.goal)}`,
        verdict: verdict(knownEffects.met),
      },
      {
        figure: '(c) cpu-sha256 on process: spread',
        measured: `${percent(spread.spread)} over ${spread.values.length} suites`,
        goal: `<= ${percent(spread.goal)}`,
        verdict: verdict(spread.met),
      },
      {
        figure: '(d) suite wall time: rounds / single',
        measured: `${wallTime.ratio.toFixed(2)}× (${seconds(wallTime.rounds.wall.median)} / ${seconds(wallTime.single.wall.median)})`,
        goal: 'none',
        verdict: '',
      },
    ],
    false,
  );
}

/**
 * `npm run bench -- fidelity`: whether Berth's measurement can be believed on this host. (a)
 * the process platform compared with itself (false decisions), (b) the calibration canary at
 * three CPU quotas (how often its interval covers the true ratio), (c) cpu-sha256's throughput
 * on process suite after suite (spread), (d) a suite's wall time in rounds against a single
 * pass. Ends with a table of the figures and their goals, then the figures as one JSON line.
 */
export async function benchFidelity(options: FidelityBenchOptions): Promise<void> {
  const controller = new AbortController();
  const stopListening = abortOnSignals(controller);
  const temporary = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'berth-bench-fidelity-')));
  await mkdir(dataDir, { recursive: true });
  const before = await tracesNow(dataDir);
  const context: BenchContext = {
    dataDir,
    signal: controller.signal,
    margin: SETTINGS.equivalenceMargin.defaultValue,
    runIds: [],
    startedAt: performance.now(),
  };
  const loadAtStart = loadAverage();
  say(
    `fidelity benchmark: ${availableParallelism()} cores (load average ${loadAtStart}), Linux ${release()}, node ${process.version}; data in ${dataDir}${temporary ? ' (temporary)' : ''}`,
  );
  say();
  announcePlan(options);
  const figures = await measureFigures(context, options).catch((error: unknown) =>
    controller.signal.aborted
      ? new Error('interrupted')
      : error instanceof Error
        ? error
        : new Error(String(error)),
  );
  const left = await leftBehind(before, context.runIds, dataDir);
  const removed = temporary
    ? [dataDir]
    : left.flatMap((item) => /^folder (.*)$/.exec(item)?.[1] ?? []);
  for (const path of removed) await rm(path, { recursive: true, force: true });
  stopListening();
  if (left.length > 0) progress(`left behind: ${left.join(', ')}`);
  if (figures instanceof Error) throw figures;
  if (left.length > 0) throw new Error(`left behind: ${left.join(', ')}`);
  const minutes = (performance.now() - context.startedAt) / 60_000;
  const loadAtEnd = loadAverage();
  say(
    `fidelity in ${minutes.toFixed(1)} minutes${options.quick ? ' (--quick)' : ''}, load average now ${loadAtEnd}; left behind: nothing (no runc container, process, cgroup or instance folder)`,
  );
  summaryTable(figures);
  say(
    JSON.stringify({
      bench: 'fidelity',
      quick: options.quick,
      cores: availableParallelism(),
      minutes: Number(minutes.toFixed(1)),
      loadAverage: { start: loadAtStart, end: loadAtEnd },
      margin: context.margin,
      ...figures,
    }),
  );
}
