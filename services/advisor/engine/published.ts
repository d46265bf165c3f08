import type { SensitivityName } from '../../../contracts/advice.ts';
import type { PublishedKind } from './placements.ts';

/**
 * The published figures Berth compares with (papers and project metrics) as data: who
 * measured what, under which conditions, and which figures the engine may use in place of a
 * measurement this fleet does not have. Words in a paper ("close to native") become a number
 * only with a `reading` that says how; a figure no source states outright is *unverified*.
 */

export const PUBLISHED_SOURCES = {
  felter2015: {
    short: 'Felter et al., ISPASS 2015',
    citation:
      'Felter, Ferreira, Rajamony, Rubio: An Updated Performance Comparison of Virtual Machines and Linux Containers, IBM Research RC25482 / ISPASS 2015',
    conditions:
      'native vs Docker vs KVM on one dual-socket server; Linpack, STREAM, RandomAccess, nuttcp, netperf, fio, Redis, MySQL',
  },
  firecracker2020: {
    short: 'Firecracker, NSDI 2020',
    citation:
      'Agache et al.: Firecracker: Lightweight Virtualization for Serverless Applications, NSDI 2020',
    conditions: '1 vCPU / 128 MiB guest, minimal kernel, serial console off, KVM',
  },
  lightvm2017: {
    short: 'LightVM, SOSP 2017',
    citation: 'Manco et al.: My VM is Lighter (and Safer) than your Container, SOSP 2017',
    conditions: 'LightVM on Xen: unikernel and tiny Linux guests, redesigned Xen toolstack',
  },
  kata2019: {
    short: 'Kata Containers CI, 2019',
    citation: 'Kata Containers metrics, project CI, 2019',
    conditions: 'one CI machine, BusyBox payload',
  },
  sharma2016: {
    short: 'Sharma et al., Middleware 2016',
    citation:
      'Sharma et al.: Containers and Virtual Machines at Scale: A Comparative Study, Middleware 2016',
    conditions: 'LXC vs KVM, co-located tenants; interference, no single figure',
  },
  papersSummary: {
    short: 'summary of the sources',
    citation: 'what follows from the sources above taken together (a summary, not one measurement)',
    conditions: 'no single machine',
  },
} as const;

export type PublishedSourceId = keyof typeof PUBLISHED_SOURCES;

export type PublishedMetric = 'startup' | 'memory-overhead' | 'throughput-ratio';

export interface PublishedFigure {
  readonly source: PublishedSourceId;
  /** What was measured: a placement and runtime in Berth's words. */
  readonly placement: string;
  readonly runtime: string;
  readonly accel: 'kvm' | 'xen' | 'none';
  readonly metric: PublishedMetric;
  /** For throughput: the kind of work the ratio is about. */
  readonly sensitivity?: SensitivityName;
  readonly value: number;
  readonly unit: 'ms' | 'MiB' | 'ratio';
  /** What the source says, in its own terms. */
  readonly claim: string;
  /** How a claim in words became the number, where it did. */
  readonly reading?: string;
  readonly unverified: boolean;
  /** The unmeasured placements this figure may stand in for; empty: for comparison only. */
  readonly standsInFor: readonly PublishedKind[];
}

const MB_IN_MIB = 1e6 / 2 ** 20;

export const PUBLISHED_FIGURES: readonly PublishedFigure[] = [
  {
    source: 'firecracker2020',
    placement: 'vm',
    runtime: 'firecracker',
    accel: 'kvm',
    metric: 'startup',
    value: 125,
    unit: 'ms',
    claim: 'at most 125 ms to guest init',
    unverified: false,
    standsInFor: ['vm'],
  },
  {
    source: 'firecracker2020',
    placement: 'vm',
    runtime: 'firecracker',
    accel: 'kvm',
    metric: 'memory-overhead',
    value: 5,
    unit: 'MiB',
    claim: 'VMM at most 5 MiB (guest memory not counted)',
    unverified: false,
    standsInFor: [],
  },
  {
    source: 'firecracker2020',
    placement: 'vm',
    runtime: 'firecracker',
    accel: 'kvm',
    metric: 'throughput-ratio',
    sensitivity: 'cpu',
    value: 0.95,
    unit: 'ratio',
    claim: 'CPU above 95% of bare metal',
    reading: 'its lower bound, 0.95',
    unverified: false,
    standsInFor: ['vm', 'container-in-vm'],
  },
  {
    source: 'felter2015',
    placement: 'container',
    runtime: 'docker',
    accel: 'none',
    metric: 'throughput-ratio',
    sensitivity: 'cpu',
    value: 0.97,
    unit: 'ratio',
    claim: 'CPU close to native',
    reading: '"close to native" read as 0.97',
    unverified: false,
    standsInFor: ['container'],
  },
  {
    source: 'felter2015',
    placement: 'container',
    runtime: 'docker',
    accel: 'none',
    metric: 'throughput-ratio',
    sensitivity: 'memory',
    value: 0.97,
    unit: 'ratio',
    claim: 'memory bandwidth close to native',
    reading: '"close to native" read as 0.97',
    unverified: false,
    standsInFor: ['container'],
  },
  {
    source: 'felter2015',
    placement: 'vm',
    runtime: 'kvm',
    accel: 'kvm',
    metric: 'throughput-ratio',
    sensitivity: 'memory',
    value: 0.97,
    unit: 'ratio',
    claim: 'memory bandwidth close to native',
    reading: '"close to native" read as 0.97',
    unverified: false,
    standsInFor: ['vm', 'container-in-vm'],
  },
  {
    source: 'felter2015',
    placement: 'vm',
    runtime: 'kvm',
    accel: 'kvm',
    metric: 'throughput-ratio',
    sensitivity: 'io',
    value: 0.5,
    unit: 'ratio',
    claim: 'about half of native random-I/O IOPS',
    unverified: true,
    standsInFor: ['vm', 'container-in-vm'],
  },
  {
    source: 'felter2015',
    placement: 'container',
    runtime: 'docker',
    accel: 'none',
    metric: 'throughput-ratio',
    sensitivity: 'network',
    value: 0.8,
    unit: 'ratio',
    claim: 'Docker NAT networking costs about 20% of throughput',
    unverified: true,
    // Berth's containers have their own network namespace without NAT.
    standsInFor: [],
  },
  {
    source: 'lightvm2017',
    placement: 'vm',
    runtime: 'lightvm',
    accel: 'xen',
    metric: 'startup',
    value: 2.3,
    unit: 'ms',
    claim: '2.3 ms for a unikernel guest',
    unverified: false,
    standsInFor: [],
  },
  {
    source: 'lightvm2017',
    placement: 'process',
    runtime: 'fork-exec',
    accel: 'none',
    metric: 'startup',
    value: 1,
    unit: 'ms',
    claim: 'process fork/exec about 1 ms',
    unverified: false,
    standsInFor: [],
  },
  {
    source: 'kata2019',
    placement: 'container-in-vm',
    runtime: 'kata',
    accel: 'kvm',
    metric: 'startup',
    value: 850,
    unit: 'ms',
    claim: 'about 0.85 s to start',
    unverified: false,
    standsInFor: ['container-in-vm'],
  },
  {
    source: 'kata2019',
    placement: 'container-in-vm',
    runtime: 'kata',
    accel: 'kvm',
    metric: 'memory-overhead',
    value: 130 * MB_IN_MIB,
    unit: 'MiB',
    claim: 'about 130 MB per instance without KSM',
    unverified: false,
    standsInFor: ['container-in-vm', 'vm'],
  },
  {
    source: 'kata2019',
    placement: 'container-in-vm',
    runtime: 'kata',
    accel: 'kvm',
    metric: 'memory-overhead',
    value: 56 * MB_IN_MIB,
    unit: 'MiB',
    claim: 'about 56 MB per instance with KSM',
    unverified: false,
    standsInFor: [],
  },
  {
    source: 'papersSummary',
    placement: 'container',
    runtime: 'any',
    accel: 'none',
    metric: 'startup',
    value: 50,
    unit: 'ms',
    claim: 'a container starts in tens of milliseconds',
    reading: '"tens of milliseconds" read as 50 ms',
    unverified: true,
    standsInFor: ['container'],
  },
];

/** The first figure that may stand in for this kind of placement, if there is one. */
export function publishedStandIn(
  kind: PublishedKind | undefined,
  metric: PublishedMetric,
  sensitivity?: SensitivityName,
): PublishedFigure | undefined {
  if (kind === undefined) return undefined;
  return PUBLISHED_FIGURES.find(
    (figure) =>
      figure.metric === metric &&
      figure.sensitivity === sensitivity &&
      figure.standsInFor.includes(kind),
  );
}

/** The figure with its source and conditions, as an answer's note says it. */
export function publishedNote(figure: PublishedFigure): string {
  const source = PUBLISHED_SOURCES[figure.source];
  const reading = figure.reading === undefined ? '' : `; ${figure.reading}`;
  const unverified = figure.unverified ? ', unverified' : '';
  return `published: ${source.citation} (${source.conditions}): ${figure.claim}${reading}${unverified}`;
}

/** The source's short name for sentences: "Firecracker, NSDI 2020". */
export const publishedShortName = (figure: PublishedFigure): string =>
  PUBLISHED_SOURCES[figure.source].short;
