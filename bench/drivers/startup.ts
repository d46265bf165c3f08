import type { Accel } from '../../contracts/index.ts';
import { METRICS } from '../../contracts/workloads.ts';
import { compareRounds } from '../../lib/statistics.ts';
import { median } from '../rounds.ts';
import type {
  Availability,
  Instance,
  PlatformDriver,
} from '../../agents/host-agent/drivers/driver.ts';
import { closeDrivers } from '../../agents/host-agent/agent-drivers.ts';
import { defaultDrivers, type DriversBenchOptions } from './options.ts';
import { mb, progress, say, verdict } from './output.ts';
import { sampleInterleaved, summarise, type Summary } from './timing.ts';
import { variantsFor, type BerthVariant, type Variant } from './variants.ts';

const STARTUP_TARGET = 1.1;

/** One platform's start-up through Berth against the bare runtime, for the comparison. */
export interface PlatformResult {
  readonly platform: string;
  readonly runtime: string;
  readonly accel: Accel;
  readonly settings: Instance['settings'];
  readonly berth: Summary;
  readonly bare: Summary;
  readonly memoryBytes: number | undefined;
}

/** One platform's result and the report lines that show it. */
interface Measured {
  readonly result: PlatformResult;
  readonly lines: string[];
}

/** The table's header: the columns of each row. */
const COLUMNS = `  ${''.padEnd(60)}${'p50 ms'.padStart(10)}${'mean ms'.padStart(10)}${'p50/bare'.padStart(10)}${'mean/bare'.padStart(11)}`;

/** A table row: the summary and its ratios to the bare runtime's. */
function row(label: string, summary: Summary, bare: Summary): string {
  return `  ${label.padEnd(60)}${summary.p50.toFixed(1).padStart(10)}${summary.mean.toFixed(1).padStart(10)}${(summary.p50 / bare.p50).toFixed(2).padStart(10)}${(summary.mean / bare.mean).toFixed(2).padStart(11)}`;
}

/** One platform's table: Berth against the bare runtime over interleaved launches. */
async function measurePlatform(
  driver: PlatformDriver,
  availability: Availability,
  launches: number,
  berth: BerthVariant,
  variants: readonly Variant[],
  runId: string,
  signal: AbortSignal,
): Promise<Measured> {
  const { samples, retries } = await sampleInterleaved(
    driver.platform,
    variants,
    launches,
    runId,
    signal,
  );
  const timed = (variant: Variant): Summary =>
    summarise(
      METRICS.startup.metric,
      METRICS.startup.unit,
      (samples.get(variant) ?? []).map((sample) => sample.ms),
    );
  const bareVariant = variants.find((variant) => variant.role === 'bare');
  if (bareVariant === undefined) throw new Error(`${driver.platform}: no bare variant`);
  const berthSamples = samples.get(berth) ?? [];
  const berthSummary = timed(berth);
  const bare = timed(bareVariant);
  const spawnToReady = summarise(
    METRICS.startup.metric,
    METRICS.startup.unit,
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
  // Each launch's Berth and bare runs are neighbours in time, so their ratio leaves out the
  // host's drift over the launches, which moves the two p50s apart from one run to the next.
  const bareMs = (samples.get(bareVariant) ?? []).map((sample) => sample.ms);
  const perLaunch = compareRounds(
    berthSamples.map((sample) => sample.ms),
    bareMs,
    { margin: 0.03, higherIsBetter: false },
  );
  const medianRatio = median(perLaunch.perRound);
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
    `  Berth/bare at p50: ${ratio.toFixed(2)}; the driver's own work before the spawn: p50 ${preparation.p50.toFixed(1)} ms`,
    `  Berth/bare launch by launch: median ${medianRatio.toFixed(2)}, geometric mean ${perLaunch.ratio.toFixed(2)} [${perLaunch.ci95[0].toFixed(2)}–${perLaunch.ci95[1].toFixed(2)}] (95%, ${perLaunch.rounds} launches); target <= ${STARTUP_TARGET.toFixed(2)} on the median: ${verdict(medianRatio <= STARTUP_TARGET)}`,
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
    result: {
      platform: driver.platform,
      runtime: driver.runtime,
      accel,
      settings,
      berth: berthSummary,
      bare,
      memoryBytes,
    },
    lines,
  };
}

/**
 * Start-up on every platform the options pick that this benchmark knows a bare equivalent
 * for and that can run here: each platform's table, and its result for the comparison.
 */
export async function startupStep(
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
  const drivers = await defaultDrivers(dataDir, options.platforms);
  try {
    for (const driver of drivers) {
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
  } finally {
    await closeDrivers(drivers);
  }
  return results;
}
