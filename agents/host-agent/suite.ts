import type { ResultBatch } from '../../contracts/index.ts';
import {
  DENSITY_LOAD_WORKLOAD,
  INSTANCE_WORKLOAD,
  INTERFERENCE_WORKLOAD,
} from '../../contracts/workloads.ts';
import { SETTINGS } from '../../lib/config.ts';
import { CANARY_TIME_CAP_MS, isCalibrated } from './calibration.ts';
import type { Density } from './density.ts';
import { measureDensityAtLoad, stepCounts, type LoadCurve } from './density-at-load.ts';
import type { Availability, PlatformDriver } from './drivers/driver.ts';
import { driverName } from './drivers/select.ts';
import { errorText } from './error-text.ts';
import {
  type HostFingerprint,
  isDisturbed,
  readHostFingerprint,
  startHostSample,
} from './host-state.ts';
import {
  instanceBatch,
  type Launch,
  meanMemoryMiB,
  measureLaunch,
  measurePlatformDensity,
} from './instance-measures.ts';
import {
  interferenceOf,
  measureInterferenceRound,
  type InterferenceRound,
} from './interference.ts';
import { curveBatches, interferenceBatches } from './load-batches.ts';
import { deliverBatch } from './result-batches.ts';
import {
  compareTrials,
  type RunFacts,
  type WorkloadTrial,
  workloadBatches,
} from './round-results.ts';
import { extraRoundLabel, platformOrder, unsettledPlatforms, workloadOrder } from './rounds.ts';
import type {
  PlatformContext,
  RoundRecord,
  RunCalibration,
  RunComparison,
  SuiteEvent,
  SuiteOutcome,
  SuiteRun,
} from './suite-run.ts';
import { measureWorkloads } from './workload-measures.ts';

/** Rounds run again because the host was disturbed, at most, per run. */
const MAX_REPEATED_ROUNDS = 2;

/** The canary's CPU quota: a share of one CPU whose throughput ratio to bare should be it. */
const CANARY_QUOTA = 0.5;

/** The canary's workload: single-threaded, so its throughput scales with the CPU given. */
const CANARY_WORKLOAD = 'cpu-sha256';

/** The name the calibration canary goes by in a round's order. */
const CANARY = 'canary';

/** One platform of the run (or the canary) and what it measured in the rounds kept. */
interface Arm {
  /** `platform:runtime`, or `canary`. */
  readonly name: string;
  readonly context: PlatformContext;
  readonly workloads: readonly string[];
  /** Whether start-up, memory and density are measured: not for the canary. */
  readonly fromOutside: boolean;
  readonly trials: WorkloadTrial[];
  readonly launches: Launch[];
  density: Density | undefined;
  densityMeasured: boolean;
  /** Density at load, once measured (in the arm's first round). */
  curve: LoadCurve | undefined;
  /** Noisy neighbours in the rounds kept. */
  readonly interference: InterferenceRound[];
  /** Noisy neighbours failed once: the arm measures them no more. */
  interferenceFailed: boolean;
  failed: boolean;
  /** Launch attempts that failed and were tried again, in every round run (kept or not). */
  failedLaunches: number;
}

/** A round's measurements, kept only once the round is complete and the host was quiet. */
interface RoundMeasurements {
  readonly trials: Map<Arm, WorkloadTrial>;
  readonly launches: Map<Arm, Launch[]>;
  readonly interference: Map<Arm, InterferenceRound>;
}

/** A run under way: how it reports, whether it was stopped, and what it kept. */
interface RunState {
  readonly run: SuiteRun;
  readonly emit: (event: SuiteEvent) => void;
  readonly aborted: () => boolean;
  readonly arms: readonly Arm[];
  readonly process: Arm | undefined;
  readonly records: RoundRecord[];
  /** The host's fingerprint as the run began. */
  readonly start: HostFingerprint;
  /** Rounds kept, so far. */
  kept: number;
  repeated: number;
  canaryProblem: string | undefined;
}

/** The process driver with every instance it starts held to the canary's share of one CPU. */
function canaryDriver(driver: PlatformDriver): PlatformDriver {
  return { ...driver, start: (options) => driver.start({ ...options, cpuQuota: CANARY_QUOTA }) };
}

function newArm(
  name: string,
  context: PlatformContext,
  workloads: readonly string[],
  fromOutside: boolean,
): Arm {
  return {
    name,
    context,
    workloads,
    fromOutside,
    trials: [],
    launches: [],
    density: undefined,
    densityMeasured: false,
    curve: undefined,
    interference: [],
    interferenceFailed: false,
    failed: false,
    failedLaunches: 0,
  };
}

/** Progress steps an arm takes once, in its first round: its density steps, idle and at load. */
function firstRoundSteps(arm: Arm, run: SuiteRun): number {
  if (!arm.fromOutside) return 0;
  const load = run.densityAtLoad;
  const curveSteps =
    load === undefined || arm.curve !== undefined ? 0 : stepCounts(load.cap).length;
  return (arm.densityMeasured ? 0 : 1) + curveSteps;
}

/**
 * Progress steps an arm takes in a round: its launches, its density steps once (idle, and at
 * load one per count of instances), its workloads, and its noisy neighbours.
 */
function armSteps(arm: Arm, run: SuiteRun): number {
  if (!arm.fromOutside) return arm.workloads.length;
  const neighbours =
    run.interference === undefined || arm.interferenceFailed
      ? 0
      : run.interference.antagonists.length + 1;
  return run.suite.launchesPerRound + firstRoundSteps(arm, run) + arm.workloads.length + neighbours;
}

/**
 * The run's platforms that can run here (the others reported skipped), and the bare process
 * as their pair when the run does not include it.
 */
async function armsOf(
  run: SuiteRun,
  emit: (event: SuiteEvent) => void,
  aborted: () => boolean,
): Promise<Arm[]> {
  const arms: Arm[] = [];
  // The bare process joins as the pair only when some platform of the run can be measured.
  const candidates = [
    ...run.drivers.map((driver) => ({ driver, isPair: false })),
    ...(run.baseline === undefined ? [] : [{ driver: run.baseline, isPair: true }]),
  ];
  for (const { driver, isPair } of candidates) {
    if (isPair && (arms.length === 0 || arms.some(isProcess))) continue;
    const availability: Availability = await driver.availability();
    if (!availability.available) {
      emit({
        kind: 'platform-skipped',
        platform: driver.platform,
        runtime: driver.runtime,
        reason: availability.reason ?? 'unavailable',
      });
      continue;
    }
    const context = { run, driver, availability, emit, aborted, baselineMemoryMiB: undefined };
    arms.push(newArm(driverName(driver), context, run.suite.workloads, true));
  }
  return arms;
}

/** Whether an arm is the bare process platform (the canary is not). */
function isProcess(arm: Arm): boolean {
  return arm.name !== CANARY && arm.context.driver.platform === 'process';
}

/** Reports an arm that failed in a round; it runs no more rounds. */
function failArm(state: RunState, arm: Arm, error: unknown): void {
  arm.failed = true;
  if (state.aborted()) return;
  const { platform } = arm.context.driver;
  state.emit({
    kind: 'workload-failed',
    platform,
    workload: arm.name === CANARY ? CANARY_WORKLOAD : INSTANCE_WORKLOAD,
    message:
      arm.name === CANARY
        ? `the calibration canary cannot run, so the run is uncalibrated: ${errorText(error)}`
        : `the platform failed: ${errorText(error)}`,
  });
  if (arm.name === CANARY) state.canaryProblem = errorText(error);
}

/** An arm's workloads in one instance, in the round's order; their batches are kept, not sent. */
async function measureTrial(
  arm: Arm,
  round: number,
  workloads: readonly string[],
): Promise<WorkloadTrial> {
  const batches: ResultBatch[] = [];
  const { context } = arm;
  await measureWorkloads({
    ...context,
    run: {
      ...context.run,
      runId: arm.name === CANARY ? `${context.run.runId}-canary` : context.run.runId,
      suite: {
        ...context.run.suite,
        workloads: workloads.filter((name) => arm.workloads.includes(name)),
        timeCapMs:
          arm.name === CANARY
            ? Math.max(context.run.suite.timeCapMs, CANARY_TIME_CAP_MS)
            : context.run.suite.timeCapMs,
      },
      deliver: (batch) => {
        batches.push(batch);
        return Promise.resolve();
      },
    },
    emit: (event) => {
      if (event.kind !== 'result') context.emit(event);
    },
  });
  return { round, batches };
}

/**
 * One round over `arms`: start-up launches interleaved (each launch index, every platform in
 * the round's order), each platform's density in its first round, then each platform's
 * workloads in one instance, platforms and workloads in the round's shuffled order. Undefined
 * when stopped part-way: a half-done round is never kept.
 */
async function runRound(
  state: RunState,
  round: number,
  arms: readonly Arm[],
): Promise<{ record: Omit<RoundRecord, 'repeated'>; measured: RoundMeasurements } | undefined> {
  const { run, aborted } = state;
  const seed = run.runId;
  const order = platformOrder(arms, seed, round);
  const workloads = workloadOrder(
    [...new Set([...run.suite.workloads, ...arms.flatMap((arm) => arm.workloads)])],
    seed,
    round,
  );
  const measured: RoundMeasurements = {
    trials: new Map(),
    launches: new Map(),
    interference: new Map(),
  };
  const live = (): Arm[] => order.filter((arm) => !arm.failed);
  const sample = await startHostSample();
  for (let launch = 1; launch <= run.suite.launchesPerRound; launch += 1) {
    for (const arm of live().filter((each) => each.fromOutside)) {
      if (aborted()) return undefined;
      try {
        const measuredLaunch = await measureLaunch(arm.context, round, launch);
        arm.failedLaunches += measuredLaunch.failedAttempts;
        measured.launches.set(arm, [...(measured.launches.get(arm) ?? []), measuredLaunch]);
      } catch (error) {
        failArm(state, arm, error);
      }
    }
  }
  for (const arm of live().filter((each) => each.fromOutside && !each.densityMeasured)) {
    if (aborted()) return undefined;
    try {
      arm.density = await measurePlatformDensity(arm.context);
      arm.densityMeasured = true;
    } catch (error) {
      failArm(state, arm, error);
    }
  }
  for (const arm of live().filter((each) => each.fromOutside && each.curve === undefined)) {
    if (aborted() || run.densityAtLoad === undefined) break;
    arm.curve = await measureCurve(state, arm, run.densityAtLoad);
  }
  for (const arm of live()) {
    if (aborted()) return undefined;
    try {
      measured.trials.set(arm, await measureTrial(arm, round, workloads));
    } catch (error) {
      failArm(state, arm, error);
    }
  }
  for (const arm of live().filter((each) => each.fromOutside && !each.interferenceFailed)) {
    if (aborted() || run.interference === undefined) break;
    const neighbours = await measureNeighbours(state, arm, round, run.interference);
    if (neighbours !== undefined) measured.interference.set(arm, neighbours);
  }
  if (aborted()) return undefined;
  const disturbance = isDisturbed(await sample.finish(), run.disturbance);
  return {
    record: {
      round,
      order: order.map((arm) => arm.name),
      workloads,
      ...(disturbance.why === undefined ? {} : { disturbed: disturbance.why }),
    },
    measured,
  };
}

/** An arm's density at load; a curve ended by a failure is reported, and what it measured kept. */
async function measureCurve(
  state: RunState,
  arm: Arm,
  plan: NonNullable<SuiteRun['densityAtLoad']>,
): Promise<LoadCurve> {
  const { driver } = arm.context;
  const curve = await measureDensityAtLoad(
    driver,
    `${state.run.runId}-${driver.platform}`,
    plan,
    (what) => {
      state.emit({ kind: 'step', platform: driver.platform, what });
    },
    state.run.signal,
  );
  const unrun = stepCounts(plan.cap).length - curve.steps.length;
  if (unrun > 0 && curve.endedBy !== 'stopped') {
    state.emit({ kind: 'steps', added: -unrun });
  }
  if (curve.endedBy === 'failure') {
    state.emit({
      kind: 'workload-failed',
      platform: driver.platform,
      workload: DENSITY_LOAD_WORKLOAD,
      message: `density at load ended: ${curve.why}`,
    });
  }
  return curve;
}

/**
 * An arm's noisy neighbours in one round; undefined when they failed (reported, and not
 * measured on the arm again) or the run was stopped.
 */
async function measureNeighbours(
  state: RunState,
  arm: Arm,
  round: number,
  plan: NonNullable<SuiteRun['interference']>,
): Promise<InterferenceRound | undefined> {
  const { driver } = arm.context;
  try {
    return await measureInterferenceRound(
      driver,
      `${state.run.runId}-${driver.platform}`,
      plan,
      round,
      state.run.runId,
      (what) => {
        state.emit({ kind: 'step', platform: driver.platform, what });
      },
      state.run.signal,
    );
  } catch (error) {
    if (state.aborted()) return undefined;
    arm.interferenceFailed = true;
    state.emit({
      kind: 'workload-failed',
      platform: driver.platform,
      workload: INTERFERENCE_WORKLOAD,
      message: `noisy neighbours are not measured on this platform: ${errorText(error)}`,
    });
    return undefined;
  }
}

/**
 * Runs round `round` until it is kept: a round the host disturbed is run again, at most
 * MAX_REPEATED_ROUNDS times per run (a disturbed round past that is kept, and says so).
 * False when the run was stopped.
 */
async function runKeptRound(
  state: RunState,
  round: number,
  arms: readonly Arm[],
  what: string,
): Promise<boolean> {
  for (;;) {
    state.emit({ kind: 'round', round, what });
    const outcome = await runRound(state, round, arms);
    if (outcome === undefined) return false;
    const repeat = outcome.record.disturbed !== undefined && state.repeated < MAX_REPEATED_ROUNDS;
    state.records.push({ ...outcome.record, repeated: repeat });
    if (!repeat) {
      for (const [arm, trial] of outcome.measured.trials) if (!arm.failed) arm.trials.push(trial);
      for (const [arm, launches] of outcome.measured.launches)
        if (!arm.failed) arm.launches.push(...launches);
      for (const [arm, neighbours] of outcome.measured.interference)
        if (!arm.failed) arm.interference.push(neighbours);
      state.kept += 1;
      if (state.run.checkpoint !== undefined) {
        const sofar = await outcomeSoFar(state);
        await state.run.checkpoint(sofar.batches.map(({ batch }) => batch));
      }
      return true;
    }
    state.repeated += 1;
    state.emit({
      kind: 'steps',
      added: arms.reduce((sum, arm) => sum + armSteps(arm, state.run), 0),
    });
    what = `round ${round} again: the host was disturbed (${outcome.record.disturbed ?? ''})`;
  }
}

/** The run's equivalence margin: its own, else the setting's default. */
function marginOf(run: SuiteRun): number {
  return run.margin ?? SETTINGS.equivalenceMargin.defaultValue;
}

/** Every comparison of the run so far: each platform (and the canary) with the process. */
function comparisonsOf(state: RunState): Map<Arm, RunComparison[]> {
  const comparisons = new Map<Arm, RunComparison[]>();
  const process = state.process;
  if (process === undefined) return comparisons;
  for (const arm of state.arms) {
    if (arm === process) continue;
    comparisons.set(
      arm,
      compareTrials(arm.trials, process.trials, marginOf(state.run), state.run.runId),
    );
  }
  return comparisons;
}

/** The canary's comparison as the run's calibration, or why there is none. */
function calibrationOf(
  state: RunState,
  comparisons: ReadonlyMap<Arm, RunComparison[]>,
): RunCalibration {
  if (state.canaryProblem !== undefined) return { ok: false, why: state.canaryProblem };
  const canary = state.arms.find((arm) => arm.name === CANARY);
  if (canary === undefined) {
    return {
      ok: false,
      why:
        state.process === undefined
          ? 'no process platform to run the canary on'
          : `the suite does not run ${CANARY_WORKLOAD}, the canary's pair`,
    };
  }
  const comparison = comparisons.get(canary)?.[0];
  if (comparison === undefined)
    return { ok: false, why: 'the canary was not measured in two rounds' };
  return {
    expected: CANARY_QUOTA,
    ratio: comparison.ratio,
    ci95: comparison.ci95,
    rounds: comparison.rounds,
    ok: isCalibrated(comparison.ci95, CANARY_QUOTA, marginOf(state.run)),
  };
}

/** The runtime versions of the run's platforms, as the host fingerprint takes them. */
function runtimeVersions(arms: readonly Arm[]): Record<string, string> {
  return Object.fromEntries(
    arms
      .filter((arm) => arm.name !== CANARY)
      .map((arm) => [arm.name, arm.context.availability.version ?? 'unknown']),
  );
}

/**
 * Runs a suite in randomised, interleaved rounds. Every platform of the run, and the bare
 * process (the pair of every comparison, in every round) and the calibration canary (the
 * process under a 50% CPU quota running cpu-sha256), runs in each round in an order shuffled
 * per round from the run id. After the suite's rounds, rounds are added while a comparison is
 * unclear, over those platforms and the process, up to the suite's cap. A round the host
 * disturbed is run again (bounded). At the end, or when stopped, what the complete rounds
 * measured is published as version 2 batches: per platform and workload the metrics over the
 * rounds with their comparison, and per platform one `instance` batch. The canary's own trials
 * are not published: they are the process under a quota, not the process; the calibration is
 * in the outcome and in every batch's `uncalibrated`.
 */
export async function runSuite(run: SuiteRun): Promise<SuiteOutcome> {
  const emit = (event: SuiteEvent): void => run.onEvent?.(event);
  const aborted = (): boolean => run.signal?.aborted === true;
  const arms = await armsOf(run, emit, aborted);
  const process = arms.find(isProcess);
  if (process !== undefined && run.suite.workloads.includes(CANARY_WORKLOAD)) {
    const context = { ...process.context, driver: canaryDriver(process.context.driver) };
    arms.push(newArm(CANARY, context, [CANARY_WORKLOAD], false));
  }
  if (arms.length === 0) {
    return {
      seed: run.runId,
      rounds: [],
      comparisons: [],
      calibration: { ok: false, why: 'no platform of the run could be measured' },
      hostFingerprint: (await readHostFingerprint({})).fingerprint,
      fingerprintChanged: false,
    };
  }
  const state: RunState = {
    run,
    emit,
    aborted,
    arms,
    process,
    records: [],
    start: await readHostFingerprint(runtimeVersions(arms)),
    kept: 0,
    repeated: 0,
    canaryProblem: undefined,
  };
  const steps = arms.reduce((sum, arm) => sum + armSteps(arm, run), 0);
  const once = arms.reduce((sum, arm) => sum + firstRoundSteps(arm, run), 0);
  emit({ kind: 'steps', added: steps + (run.suite.rounds - 1) * (steps - once) });
  while (state.kept < run.suite.rounds && !aborted()) {
    const round = state.kept + 1;
    const live = arms.filter((arm) => !arm.failed);
    if (!(await runKeptRound(state, round, live, `round ${round}/${run.suite.rounds}`))) break;
  }
  while (state.kept < run.suite.maxRounds && !aborted() && state.kept >= run.suite.rounds) {
    const comparisons = comparisonsOf(state);
    const verdicts = [...comparisons].flatMap(([arm, list]) =>
      arm.failed
        ? []
        : list.map((each) => ({
            platform: arm.name,
            workload: each.workload,
            verdict: each.verdict,
            ci95: each.ci95,
          })),
    );
    const unsettled = unsettledPlatforms(verdicts, marginOf(run));
    if (unsettled.size === 0 || process === undefined || process.failed) break;
    const extra = arms.filter((arm) => arm === process || unsettled.has(arm.name));
    const round = state.kept + 1;
    emit({ kind: 'steps', added: extra.reduce((sum, arm) => sum + armSteps(arm, run), 0) });
    if (!(await runKeptRound(state, round, extra, extraRoundLabel(round, unsettled)))) break;
  }
  const final = await outcomeSoFar(state);
  for (const { context, batch } of final.batches) await deliverBatch(context, batch);
  return {
    seed: run.runId,
    rounds: state.records,
    comparisons: [...final.comparisons].flatMap(([arm, list]) => (arm.name === CANARY ? [] : list)),
    calibration: final.calibration,
    hostFingerprint: state.start.fingerprint,
    fingerprintChanged: final.fingerprintChanged,
  };
}

/** What the run publishes if it ends now, each batch with the platform it is of. */
interface OutcomeSoFar {
  readonly comparisons: Map<Arm, RunComparison[]>;
  readonly calibration: RunCalibration;
  readonly fingerprintChanged: boolean;
  readonly batches: readonly { readonly context: PlatformContext; readonly batch: ResultBatch }[];
}

/**
 * What the kept rounds measured, as the run would publish it now: its comparisons and
 * calibration, and per platform its `instance` batch and one batch per workload.
 */
async function outcomeSoFar(state: RunState): Promise<OutcomeSoFar> {
  const { run, start } = state;
  const end = await readHostFingerprint(runtimeVersions(state.arms));
  const comparisons = comparisonsOf(state);
  const calibration = calibrationOf(state, comparisons);
  const fingerprintChanged = start.fingerprint !== end.fingerprint;
  const facts: RunFacts = {
    seed: run.runId,
    disturbed: state.repeated,
    hostFingerprint: start.fingerprint,
    uncalibrated: !calibration.ok,
    settings: {
      ...(fingerprintChanged
        ? { fingerprintChanged: true, hostFingerprintAtEnd: end.fingerprint }
        : {}),
      ...('why' in calibration ? { uncalibratedBecause: calibration.why.slice(0, 500) } : {}),
    },
  };
  const baselineMemoryMiB =
    state.process === undefined ? undefined : meanMemoryMiB(state.process.launches);
  const baseline = state.process?.name ?? 'process:node';
  const batches: { context: PlatformContext; batch: ResultBatch }[] = [];
  for (const arm of state.arms) {
    if (arm.name === CANARY) continue;
    const context = { ...arm.context, baselineMemoryMiB };
    if (arm.launches.length > 0)
      batches.push({ context, batch: instanceBatch(context, arm, facts) });
    if (arm.curve !== undefined) {
      const settings = arm.launches[arm.launches.length - 1]?.settings ?? {};
      for (const batch of curveBatches(context, arm.curve, settings, facts)) {
        batches.push({ context, batch });
      }
    }
    if (run.interference !== undefined) {
      const effects = interferenceOf(arm.interference, marginOf(run), run.runId);
      const victim = run.interference.workload;
      for (const batch of interferenceBatches(context, effects, victim, marginOf(run), facts)) {
        batches.push({ context, batch });
      }
    }
    for (const batch of workloadBatches(arm.trials, comparisons.get(arm) ?? [], baseline, facts)) {
      batches.push({ context, batch });
    }
  }
  return { comparisons, calibration, fingerprintChanged, batches };
}
