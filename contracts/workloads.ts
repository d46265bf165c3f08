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
 * The metrics Berth records, with the unit each has. Throughput's unit varies by workload
 * (`hash/s`, `copy/s`, …): a ratio needs only the bare process's unit to match.
 */
export const METRICS = {
  startup: { metric: 'startup', unit: 'ms' },
  memoryOverhead: { metric: 'memory-overhead', unit: 'MiB' },
  memoryPeak: { metric: 'memory-peak', unit: 'MiB' },
  density: { metric: 'density', unit: 'instances' },
  latency: { metric: 'latency', unit: 'ms' },
  throughput: { metric: 'throughput', unit: undefined },
} as const;
