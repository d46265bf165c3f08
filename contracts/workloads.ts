/**
 * Berth's vocabulary of what is measured: the workloads the runner times, the sensitivities a
 * question names and the workloads behind each, the pseudo-workload of what the agent measures
 * from outside an instance, and the metric names with their units. The agent, the store's
 * readers, the advisor and the dashboard all take their names from here.
 */

/** The kernels the workload runner times, in the order a suite runs them. */
export const WORKLOAD_NAMES = [
  'cpu-sha256',
  'cpu-gzip',
  'memory-copy',
  'syscall-fstat',
  'file-fsync',
  'net-loopback',
  'process-spawn',
] as const;

export type WorkloadName = (typeof WORKLOAD_NAMES)[number];

export const isWorkloadName = (name: string): name is WorkloadName =>
  (WORKLOAD_NAMES as readonly string[]).includes(name);

/** What a question can say its workload is sensitive to. */
export const SENSITIVITY_NAMES = ['cpu', 'memory', 'io', 'network', 'syscall'] as const;

export type SensitivityName = (typeof SENSITIVITY_NAMES)[number];

/** The workloads whose throughput stands for each sensitivity. */
export const SENSITIVITY_WORKLOADS: Readonly<Record<SensitivityName, readonly WorkloadName[]>> = {
  cpu: ['cpu-sha256', 'cpu-gzip'],
  memory: ['memory-copy'],
  io: ['file-fsync'],
  network: ['net-loopback'],
  syscall: ['syscall-fstat', 'process-spawn'],
};

/** The pseudo-workload of what the agent measures from outside an instance. */
export const INSTANCE_WORKLOAD = 'instance';

/**
 * The pseudo-workload of density at load: one result per step, N instances running one
 * workload at the same time; its metrics name the step (`memory-per-instance-at-4`).
 */
export const DENSITY_LOAD_WORKLOAD = 'density-load';

/**
 * The pseudo-workload of noisy neighbours: one result per antagonist, a victim workload's
 * throughput beside it (metric `beside-<antagonist>`) compared with the same platform alone.
 */
export const INTERFERENCE_WORKLOAD = 'interference';

/** What runs beside a victim on the same host, each bounded in processes and time. */
export const ANTAGONIST_NAMES = [
  'cpu-hog',
  'memory-bandwidth',
  'fsync-storm',
  'fork-storm',
] as const;

export type AntagonistName = (typeof ANTAGONIST_NAMES)[number];

export const isAntagonistName = (name: string): name is AntagonistName =>
  (ANTAGONIST_NAMES as readonly string[]).includes(name);

/** The metric of an interference result: the victim's throughput beside an antagonist. */
export const besideMetric = (antagonist: AntagonistName): string => `beside-${antagonist}`;

/** The antagonist an interference metric names, or undefined for another metric. */
export function antagonistOf(metric: string): AntagonistName | undefined {
  const name = metric.startsWith('beside-') ? metric.slice('beside-'.length) : '';
  return isAntagonistName(name) ? name : undefined;
}

/** What each step of density at load records per instance. */
export const LOAD_MEASURES = {
  /** Throughput per instance: value the median instance's, min the worst's. */
  throughput: { prefix: 'throughput-per-instance', unit: undefined },
  /** The worst instance's throughput per core given, as a share of one instance's alone. */
  sloShare: { prefix: 'slo-share', unit: 'share' },
  /** Memory per instance as the platform accounts it. */
  memory: { prefix: 'memory-per-instance', unit: 'MiB' },
} as const;

export type LoadMeasure = keyof typeof LOAD_MEASURES;

/** The metric of one step of density at load: `memory-per-instance-at-4`. */
export const loadMetric = (measure: LoadMeasure, instances: number): string =>
  `${LOAD_MEASURES[measure].prefix}-at-${instances}`;

/** The measure and step a density-at-load metric names, or undefined for another metric. */
export function loadStepOf(
  metric: string,
): { readonly measure: LoadMeasure; readonly instances: number } | undefined {
  const match = /^(.+)-at-([1-9]\d{0,5})$/.exec(metric);
  if (match === null) return undefined;
  const measure = (Object.keys(LOAD_MEASURES) as LoadMeasure[]).find(
    (key) => LOAD_MEASURES[key].prefix === match[1],
  );
  return measure === undefined ? undefined : { measure, instances: Number(match[2]) };
}

/**
 * The metrics Berth records, with the unit each has. Throughput's unit varies by workload
 * (`hash/s`, `copy/s`, …): a ratio needs only the bare process's unit to match.
 */
export const METRICS = {
  startup: { metric: 'startup', unit: 'ms' },
  memoryOverhead: { metric: 'memory-overhead', unit: 'MiB' },
  memoryPeak: { metric: 'memory-peak', unit: 'MiB' },
  density: { metric: 'density', unit: 'instances' },
  /** The most instances at once whose worst one keeps the SLO share of one alone (`instance`). */
  densityAtSlo: { metric: 'density-at-slo', unit: 'instances' },
  /** The SLO share density-at-slo was judged against, e.g. 0.9 (`instance`). */
  densitySlo: { metric: 'density-slo', unit: 'share' },
  /** CPU an idle instance costs the host, thousandths of a core (`instance`). */
  idleCpu: { metric: 'idle-cpu', unit: 'millicores' },
  latency: { metric: 'latency', unit: 'ms' },
  throughput: { metric: 'throughput', unit: undefined },
} as const;
