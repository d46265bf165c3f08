import { errorText } from '../../agents/host-agent/error-text.ts';
import { lastReadyAt, withLaunchRetry } from '../../agents/host-agent/launch.ts';
import { metricFromSamples } from '../../agents/host-agent/stats.ts';
import { seededShuffle } from '../../lib/statistics.ts';
import { bounded, READY_TIMEOUT_MS } from './bounded-wait.ts';
import { progress } from './output.ts';
import type { Variant } from './variants.ts';

/** One timed launch. */
export interface Sample {
  /** Measured span: start of the launch to the runner's ready line. */
  readonly ms: number;
  /** Spawn of the platform's program to the ready line. */
  readonly spawnMs: number;
  readonly memoryBytes: number | undefined;
}

/** Samples summed up as the report shows them. */
export interface Summary {
  readonly p50: number;
  readonly mean: number;
  readonly stddev: number;
}

/** The samples' median, mean and standard deviation, as the agent's metrics compute them. */
export function summarise(name: string, unit: string, samples: readonly number[]): Summary {
  const metric = metricFromSamples(name, unit, samples);
  return {
    p50: metric.percentiles?.p50 ?? metric.value,
    mean: metric.value,
    stddev: metric.stddev ?? 0,
  };
}

/** One launch of the variant, timed to the last runner's ready line, then torn down. */
async function timeLaunch(variant: Variant, id: string, signal: AbortSignal): Promise<Sample> {
  const launch = await variant.launch(id);
  try {
    const ready = lastReadyAt(launch.lines, launch.runners).catch((error: unknown) => {
      throw new Error(`${id}: ${errorText(error)}`);
    });
    const at = await bounded(ready, signal, READY_TIMEOUT_MS, id);
    return {
      ms: at - launch.startedAt,
      spawnMs: at - launch.spawnedAt,
      memoryBytes: await launch.instance?.peakMemoryBytes(),
    };
  } finally {
    await launch.stop();
  }
}

/**
 * A timed launch, tried once more when it fails, as the suite does (the failed attempt is not
 * timed); not tried again once the run is interrupted.
 */
function timeLaunchWithRetry(
  variant: Variant,
  id: string,
  signal: AbortSignal,
  onRetry: (message: string) => void,
): Promise<Sample> {
  return withLaunchRetry(
    () => timeLaunch(variant, id, signal),
    onRetry,
    () => signal.aborted,
  );
}

/** Each variant's samples, and how many of its launches were tried once more. */
export interface InterleavedSamples {
  readonly samples: ReadonlyMap<Variant, readonly Sample[]>;
  readonly retries: ReadonlyMap<Variant, number>;
}

/**
 * One unmeasured warm-up launch of each variant, then `launches` rounds of one launch of
 * each in a shuffled order, so that what else the host does weighs on every variant alike.
 */
export async function sampleInterleaved(
  platform: string,
  variants: readonly Variant[],
  launches: number,
  runId: string,
  signal: AbortSignal,
): Promise<InterleavedSamples> {
  const samples = new Map<Variant, Sample[]>(variants.map((variant) => [variant, []]));
  const retries = new Map<Variant, number>(variants.map((variant) => [variant, 0]));
  const launch = (variant: Variant, suffix: string): Promise<Sample> =>
    timeLaunchWithRetry(
      variant,
      `${runId}-${platform}-${variant.tag}-${suffix}`,
      signal,
      (message) => {
        retries.set(variant, (retries.get(variant) ?? 0) + 1);
        progress(`${platform}: ${variant.tag} launch failed, trying once more: ${message}`);
      },
    );
  progress(`${platform}: one warm-up launch of each (${variants.length}), not measured`);
  for (const variant of variants) await launch(variant, 'w');
  for (let round = 1; round <= launches; round += 1) {
    const parts: string[] = [];
    // In an order shuffled per round (seeded by the run id), so no variant always follows
    // another (whose teardown may still load the host) or always comes first.
    for (const variant of seededShuffle(variants, `${runId}-${platform}-${round}`)) {
      const sample = await launch(variant, String(round));
      samples.get(variant)?.push(sample);
      parts.push(`${variant.tag} ${sample.ms.toFixed(0)} ms`);
    }
    progress(`${platform} ${round}/${launches}: ${parts.join(', ')}`);
  }
  return { samples, retries };
}
