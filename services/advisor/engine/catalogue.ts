import type { AdviceQuestion } from '../../../contracts/advice.ts';
import {
  INSTANCE_WORKLOAD,
  METRICS,
  SENSITIVITY_NAMES,
  SENSITIVITY_WORKLOADS,
  type SensitivityName,
} from '../../../contracts/workloads.ts';
import type { OptionKey } from './types.ts';

/**
 * What the engine reads: the sensitivities a question covers, the workloads and metrics behind
 * an option's figures and the bare process's, and an option's platform and runtime as its
 * evidence rows name them.
 */

/** A workload and metric the engine reads: one series on each platform. */
export interface Measure {
  readonly workload: string;
  readonly metric: string;
}

/** The question's sensitivities, or all of them when it names none. */
export const sensitivitiesOf = (question: AdviceQuestion): readonly SensitivityName[] =>
  question.sensitivity === undefined || question.sensitivity.length === 0
    ? SENSITIVITY_NAMES
    : SENSITIVITY_NAMES.filter((sensitivity) => question.sensitivity?.includes(sensitivity));

/** The throughput behind a sensitivity: one measure per workload that stands for it. */
export const throughputMeasures = (sensitivity: SensitivityName): Measure[] =>
  SENSITIVITY_WORKLOADS[sensitivity].map((workload) => ({
    workload,
    metric: METRICS.throughput.metric,
  }));

const instanceMeasure = (metric: string): Measure => ({ workload: INSTANCE_WORKLOAD, metric });

/** What an option's figures read: its start-up, its memory overhead and its throughput. */
export const optionMeasures = (sensitivities: readonly SensitivityName[]): Measure[] => [
  instanceMeasure(METRICS.startup.metric),
  instanceMeasure(METRICS.memoryOverhead.metric),
  ...sensitivities.flatMap(throughputMeasures),
];

/**
 * What the bare process's figures read: its peak memory (the workload's own, unless the
 * question gives it) and the throughput every ratio divides by.
 */
export const baselineMeasures = (
  sensitivities: readonly SensitivityName[],
  memoryGiven: boolean,
): Measure[] => [
  ...(memoryGiven ? [] : [instanceMeasure(METRICS.memoryPeak.metric)]),
  ...sensitivities.flatMap(throughputMeasures),
];

/** An option's platform and runtime, as its evidence rows name them. */
export const placementOf = (option: OptionKey): { platform: string; runtime: string } => ({
  platform: option.placement,
  runtime: option.runtime,
});
