import {
  DENSITY_LOAD_WORKLOAD,
  INSTANCE_WORKLOAD,
  loadMetric,
  loadStepOf,
  METRICS,
} from '../../contracts/workloads.ts';
import { plural } from './engine/format.ts';
import { compareText, sortedUnique, sum } from './engine/lists.ts';
import { BASELINE_PLATFORM } from './engine/placements.ts';
import type { EvidenceRow } from './engine/types.ts';

/**
 * `berth advise export runtimeclass`: a Kubernetes RuntimeClass whose pod overhead is what Berth
 * measured for a platform and runtime. Memory comes from the memory per instance at load at the
 * density asked for, net of the bare process's at the same step, plus a p95 margin; where no
 * density-at-load result exists, from the idle memory overhead. CPU comes from the idle CPU an
 * instance costs, net of the bare process's. The YAML's comments and the JSON say which results
 * each figure rests on.
 */

export interface RuntimeClassRequest {
  readonly platform: string;
  readonly runtime: string;
  /** The CRI handler name the nodes know the runtime by. */
  readonly handler: string;
  /** The RuntimeClass's name; `berth-<runtime>` when absent. */
  readonly name?: string;
  /**
   * How many pods of the runtime run at once on a node: the step of density at load whose
   * memory counts is the smallest at or above it, else the largest (the largest when absent).
   */
  readonly instances?: number;
}

/** What one figure of the pod overhead rests on: the results, the hosts and the arithmetic. */
export interface OverheadBasis {
  /** The results behind it: each series' result ids (up to 20 a series), sorted. */
  readonly resultIds: readonly string[];
  /** How many results, the bare process's netted ones included. */
  readonly results: number;
  /** The hosts whose measurements of the runtime it rests on. */
  readonly hosts: readonly string[];
  /** Of those, the hosts where the figure is net of the bare process's. */
  readonly nettedOn: readonly string[];
  /** Epoch ms of the newest result behind it. */
  readonly latestAt: number;
  /** The accels the runtime's results were measured under. */
  readonly accels: readonly string[];
  /** What it is, in sentences. */
  readonly description: string;
}

/** The memory of the pod overhead, MiB, and what it rests on. */
export interface MemoryOverhead extends OverheadBasis {
  /** `at-load`: memory per instance at a step of density at load; `idle`: the idle overhead. */
  readonly source: 'at-load' | 'idle';
  readonly mebibytes: number;
  /** The step of density at load it was read at (how many instances ran at once). */
  readonly step?: number;
  /** The p95 margin added, MiB, averaged over hosts (at load only). */
  readonly marginMiB?: number;
}

/** The CPU of the pod overhead, millicores, and what it rests on. */
export interface CpuOverhead extends OverheadBasis {
  readonly millicores: number;
}

/** The RuntimeClass as the JSON export gives it. */
export interface RuntimeClassDocument {
  readonly apiVersion: 'node.k8s.io/v1';
  readonly kind: 'RuntimeClass';
  readonly metadata: {
    readonly name: string;
    readonly labels: Readonly<Record<string, string>>;
  };
  readonly handler: string;
  readonly overhead: { readonly podFixed: { readonly memory: string; readonly cpu?: string } };
}

export interface RuntimeClassExport {
  readonly yaml: string;
  readonly runtimeClass: RuntimeClassDocument;
  readonly memory: MemoryOverhead;
  /** Absent when no idle CPU was measured; `cpuLeftOut` says why. */
  readonly cpu?: CpuOverhead;
  readonly cpuLeftOut?: string;
}

/** A DNS-1123 label, as Kubernetes names objects. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** The widest line of the YAML's comments. */
const COMMENT_WIDTH = 100;

/** The mean of `pick` over rows, weighted by their results. */
const weightedMean = (rows: readonly EvidenceRow[], pick: (row: EvidenceRow) => number): number =>
  sum(rows.map((row) => pick(row) * row.results)) / sum(rows.map((row) => row.results));

/** Rows grouped by host, hosts in code-unit order. */
function byHost(rows: readonly EvidenceRow[]): [string, EvidenceRow[]][] {
  const hosts = new Map<string, EvidenceRow[]>();
  for (const row of rows) {
    const own = hosts.get(row.hostId);
    if (own === undefined) hosts.set(row.hostId, [row]);
    else own.push(row);
  }
  return [...hosts].sort(([a], [b]) => compareText(a, b));
}

/** A series of the runtime's, or of the bare process's when `platform` is the process. */
const seriesOf = (
  evidence: readonly EvidenceRow[],
  platform: string,
  runtime: string | undefined,
  workload: string,
  metric: string,
): EvidenceRow[] =>
  evidence.filter(
    (row) =>
      row.platform === platform &&
      (runtime === undefined || row.runtime === runtime) &&
      row.workload === workload &&
      row.metric === metric,
  );

/** One host's figure: the runtime's, net of the bare process's where it measured the same. */
interface HostFigure {
  readonly hostId: string;
  readonly value: number;
  readonly results: number;
  readonly netted: boolean;
  readonly margin: number;
}

/**
 * Per host, the runtime's mean (weighted by results) less the bare process's on the same host
 * where it measured the same series, plus `margin` of the host's rows; then weighted by the
 * runtime's results over hosts.
 */
function netOverHosts(
  rows: readonly EvidenceRow[],
  bareRows: readonly EvidenceRow[],
  margin: (own: readonly EvidenceRow[]) => number,
): { value: number; margin: number; hosts: HostFigure[]; bareUsed: EvidenceRow[] } {
  const bareUsed: EvidenceRow[] = [];
  const hosts = byHost(rows).map(([hostId, own]): HostFigure => {
    const bare = bareRows.filter((row) => row.hostId === hostId);
    bareUsed.push(...bare);
    const extra = margin(own);
    const value =
      weightedMean(own, (row) => row.mean) -
      (bare.length === 0 ? 0 : weightedMean(bare, (row) => row.mean)) +
      extra;
    const results = sum(own.map((row) => row.results));
    return { hostId, value, results, netted: bare.length > 0, margin: extra };
  });
  const total = sum(hosts.map((host) => host.results));
  return {
    value: sum(hosts.map((host) => host.value * host.results)) / total,
    margin: sum(hosts.map((host) => host.margin * host.results)) / total,
    hosts,
    bareUsed,
  };
}

/** What a figure rests on, from the runtime's rows, the bare process's netted and the hosts. */
function basisOf(
  rows: readonly EvidenceRow[],
  bareUsed: readonly EvidenceRow[],
  hosts: readonly HostFigure[],
  description: string,
): OverheadBasis {
  const all = [...rows, ...bareUsed];
  return {
    resultIds: sortedUnique(all.flatMap((row) => row.resultIds)),
    results: sum(all.map((row) => row.results)),
    hosts: hosts.map((host) => host.hostId),
    nettedOn: hosts.filter((host) => host.netted).map((host) => host.hostId),
    latestAt: Math.max(...all.map((row) => row.latestAt)),
    accels: sortedUnique(rows.map((row) => row.accel)),
    description,
  };
}

/** "net of the bare process's at the same step on host-a" or that no host had one. */
function nettedWords(hosts: readonly HostFigure[], what: string): string {
  const netted = hosts.filter((host) => host.netted).map((host) => host.hostId);
  if (netted.length === 0) {
    return `not net of the bare process's, which has no ${what} on these hosts`;
  }
  const gross = hosts.filter((host) => !host.netted).map((host) => host.hostId);
  return `net of the bare process's ${what} on ${netted.join(', ')}${gross.length === 0 ? '' : ` (not netted on ${gross.join(', ')}, where it has none)`}`;
}

/**
 * The step of density at load whose memory counts: the smallest at or above `instances`, else
 * (or without `instances`) the largest measured.
 */
function stepFor(steps: readonly number[], instances: number | undefined): number | undefined {
  const sorted = [...steps].sort((a, b) => a - b);
  const covering = instances === undefined ? undefined : sorted.find((step) => step >= instances);
  return covering ?? sorted[sorted.length - 1];
}

/**
 * Memory from density at load: at the step for the instances asked for, the runtime's mean
 * memory per instance, net of the bare process's at the same step on each host that measured
 * it, plus a p95 margin: the series' p95 column (its 0.95 quantile of each result's upper
 * tail, the per-instance p99) above its mean. Undefined without a density-at-load result.
 */
function memoryAtLoad(
  request: RuntimeClassRequest,
  evidence: readonly EvidenceRow[],
): MemoryOverhead | undefined {
  const steps = sortedUnique(
    evidence
      .filter(
        (row) =>
          row.platform === request.platform &&
          row.runtime === request.runtime &&
          row.workload === DENSITY_LOAD_WORKLOAD,
      )
      .map((row) => row.metric),
  ).flatMap((metric) => {
    const step = loadStepOf(metric);
    return step?.measure === 'memory' ? [step.instances] : [];
  });
  const step = stepFor(steps, request.instances);
  if (step === undefined) return undefined;
  const metric = loadMetric('memory', step);
  const rows = seriesOf(evidence, request.platform, request.runtime, DENSITY_LOAD_WORKLOAD, metric);
  const bareRows = seriesOf(evidence, BASELINE_PLATFORM, undefined, DENSITY_LOAD_WORKLOAD, metric);
  const net = netOverHosts(rows, bareRows, (own) =>
    Math.max(0, weightedMean(own, (row) => row.p95) - weightedMean(own, (row) => row.mean)),
  );
  const asked =
    request.instances === undefined
      ? 'the largest step measured, no instance count being given'
      : step >= request.instances
        ? `the smallest step measured at or above the ${request.instances} asked for`
        : `the largest step measured, below the ${request.instances} asked for`;
  const mebibytes = Math.max(1, Math.ceil(net.value));
  return {
    source: 'at-load',
    mebibytes,
    step,
    marginMiB: net.margin,
    ...basisOf(
      rows,
      net.bareUsed,
      net.hosts,
      `Memory: the mean memory per instance at load with ${step} running (${asked}; ${metric} of the ${DENSITY_LOAD_WORKLOAD} results), ${nettedWords(net.hosts, 'memory per instance at the same step')}, plus a p95 margin of ${net.margin.toFixed(1)} MiB (the series' p95, the 0.95 quantile of each result's per-instance p99, above its mean), weighted by results over hosts and rounded up: ${mebibytes} MiB.`,
    ),
  };
}

/** Memory from the idle memory overhead (net of the bare process), as before density at load. */
function idleMemory(
  request: RuntimeClassRequest,
  evidence: readonly EvidenceRow[],
): MemoryOverhead | undefined {
  const rows = seriesOf(
    evidence,
    request.platform,
    request.runtime,
    INSTANCE_WORKLOAD,
    METRICS.memoryOverhead.metric,
  );
  if (rows.length === 0) return undefined;
  const mebibytes = Math.max(1, Math.ceil(weightedMean(rows, (row) => row.mean)));
  // The agent measures the overhead net of the bare process, on every host.
  const hosts = byHost(rows).map(([hostId, own]) => ({
    hostId,
    value: weightedMean(own, (row) => row.mean),
    results: sum(own.map((row) => row.results)),
    netted: true,
    margin: 0,
  }));
  const asked =
    request.instances === undefined
      ? ''
      : ` (the ${request.instances} instances asked for pick no step)`;
  return {
    source: 'idle',
    mebibytes,
    ...basisOf(
      rows,
      [],
      hosts,
      `Memory: no density-at-load result for ${request.platform}:${request.runtime}${asked}, so the mean idle memory overhead per instance (${METRICS.memoryOverhead.metric}, net of the bare process), weighted by results over hosts and rounded up: ${mebibytes} MiB.`,
    ),
  };
}

/**
 * CPU from the idle CPU one instance costs the host, net of the bare process's idle CPU on each
 * host that measured it, weighted by results over hosts, rounded up and never below 1m.
 */
function idleCpu(
  request: RuntimeClassRequest,
  evidence: readonly EvidenceRow[],
): CpuOverhead | undefined {
  const metric = METRICS.idleCpu.metric;
  const rows = seriesOf(evidence, request.platform, request.runtime, INSTANCE_WORKLOAD, metric);
  if (rows.length === 0) return undefined;
  const bareRows = seriesOf(evidence, BASELINE_PLATFORM, undefined, INSTANCE_WORKLOAD, metric);
  const net = netOverHosts(rows, bareRows, () => 0);
  const millicores = Math.max(1, Math.ceil(net.value));
  return {
    millicores,
    ...basisOf(
      rows,
      net.bareUsed,
      net.hosts,
      `CPU: the mean idle CPU one instance costs the host (${metric}), ${nettedWords(net.hosts, 'idle CPU')}, weighted by results over hosts, rounded up and never below 1m: ${millicores}m.`,
    ),
  };
}

/** Text as YAML comment lines of at most `COMMENT_WIDTH` characters, words kept whole. */
function commentLines(text: string): string[] {
  const lines: string[] = [];
  let line = '#';
  for (const word of text.split(' ')) {
    if (line.length > 1 && line.length + 1 + word.length > COMMENT_WIDTH) {
      lines.push(line);
      line = '#';
    }
    line = `${line} ${word}`;
  }
  return [...lines, line];
}

/** What a figure rests on, for the comments: the results, hosts, newest time and result ids. */
const restsOnWords = (what: string, basis: OverheadBasis): string =>
  `${what} rests on ${plural(basis.results, 'result')} from ${plural(basis.hosts.length, 'host')} (${basis.hosts.join(', ')}; accel ${basis.accels.join(', ')}), newest ${new Date(basis.latestAt).toISOString()}: ${basis.resultIds.join(', ')}.`;

/**
 * A Kubernetes RuntimeClass whose pod overhead is what Berth measured for that platform and
 * runtime over the hosts given: memory at load (or, without density at load, the idle memory
 * overhead) and the idle CPU, each explained in the YAML's comments with the results behind it.
 */
export function runtimeClassOf(
  request: RuntimeClassRequest,
  evidence: readonly EvidenceRow[],
): RuntimeClassExport {
  const name = request.name ?? `berth-${request.runtime}`;
  for (const [field, value] of [
    ['name', name],
    ['handler', request.handler],
  ] as const) {
    if (!DNS_LABEL.test(value)) {
      throw new Error(`the RuntimeClass ${field} "${value}" is not a DNS-1123 label`);
    }
  }
  const { instances } = request;
  if (instances !== undefined && !(Number.isInteger(instances) && instances >= 1)) {
    throw new Error(`the instance count must be a whole number of 1 or more, got ${instances}`);
  }
  const memory = memoryAtLoad(request, evidence) ?? idleMemory(request, evidence);
  if (memory === undefined) {
    throw new Error(
      `no measured memory overhead for ${request.platform}:${request.runtime} (neither at load nor idle); run the agent's suite on a host that has it`,
    );
  }
  const cpu = idleCpu(request, evidence);
  const cpuWords =
    cpu === undefined
      ? {
          cpuLeftOut: `CPU is not set: no ${METRICS.idleCpu.metric} result for ${request.platform}:${request.runtime}; run the agent's suite on a host that has it, or set overhead.podFixed.cpu from the runtime's own figures.`,
        }
      : { cpu };
  const runtimeClass: RuntimeClassDocument = {
    apiVersion: 'node.k8s.io/v1',
    kind: 'RuntimeClass',
    metadata: { name, labels: { 'app.kubernetes.io/managed-by': 'berth' } },
    handler: request.handler,
    overhead: {
      podFixed: {
        memory: `${memory.mebibytes}Mi`,
        ...(cpu === undefined ? {} : { cpu: `${cpu.millicores}m` }),
      },
    },
  };
  const comments = [
    `Pod overhead measured by Berth for ${request.platform}:${request.runtime}.`,
    memory.description,
    restsOnWords('Memory', memory),
    ...('cpuLeftOut' in cpuWords
      ? [cpuWords.cpuLeftOut]
      : [cpuWords.cpu.description, restsOnWords('CPU', cpuWords.cpu)]),
  ];
  const yaml = [
    ...comments.flatMap(commentLines),
    `apiVersion: ${runtimeClass.apiVersion}`,
    `kind: ${runtimeClass.kind}`,
    'metadata:',
    `  name: ${name}`,
    '  labels:',
    '    app.kubernetes.io/managed-by: berth',
    `handler: ${request.handler}`,
    'overhead:',
    '  podFixed:',
    `    memory: "${runtimeClass.overhead.podFixed.memory}"`,
    ...(cpu === undefined ? [] : [`    cpu: "${cpu.millicores}m"`]),
    '',
  ].join('\n');
  return { yaml, runtimeClass, memory, ...cpuWords };
}
