import type { Evidence } from '../../../contracts/advice.ts';
import { HOSTS_PER_EVIDENCE } from '../../../contracts/evidence-hosts.ts';
import {
  INSTANCE_WORKLOAD,
  METRICS,
  SENSITIVITY_WORKLOADS,
  type SensitivityName,
} from '../../../contracts/workloads.ts';
import { loadMemoryOf, type LoadMemory } from './at-load.ts';
import { placementOf, throughputMeasures } from './catalogue.ts';
import { formatList, formatMs, roundTo } from './format.ts';
import { meanInterval, type Interval } from './intervals.ts';
import { mean, sortedUnique, sum } from './lists.ts';
import { gatherNeighbours, type NeighbourFigures } from './neighbours.ts';
import { BASELINE_PLATFORM, profileOf, type PlacementProfile } from './placements.ts';
import {
  publishedNote,
  publishedShortName,
  publishedStandIn,
  type PublishedFigure,
  type PublishedMetric,
} from './published.ts';
import {
  bestPerHost,
  bestTier,
  ratioReadings,
  readingsOf,
  type Reading,
  type RowsAsOf,
} from './readings.ts';
import type { OptionKey } from './types.ts';

/**
 * The figures behind a score, from readings or published stand-ins: an option's start-up (with
 * its p95 and what the start-up budget rule compares), memory overhead and throughput ratios
 * per sensitivity, and the bare process's peak memory. Each figure carries the evidence that
 * shows it and the result ids behind it.
 */

/** A figure behind a score: its value, where it comes from and the evidence that shows it. */
export interface Figure {
  readonly value: number;
  readonly source: 'measured' | 'published';
  readonly stale: boolean;
  /** Measured under TCG emulation. */
  readonly tcg: boolean;
  readonly unverified: boolean;
  /** Samples behind it (0 for a published figure). */
  readonly samples: number;
  readonly hosts: readonly string[];
  /** Each host's own value, for what that host can hold. */
  readonly byHost: ReadonlyMap<string, number>;
  readonly evidence: readonly Evidence[];
  /** Up to `IDS_PER_FIGURE` ids of the results behind it, from each host in turn. */
  readonly resultIds: readonly string[];
  /** Where it comes from, for sentences: "measured on a under TCG emulation". */
  readonly origin: string;
  /** Its 95% interval, when it is a ratio measured in interleaved rounds. */
  readonly interval: Interval | undefined;
  /** Results behind it (0 for a published figure), and those from uncalibrated runs. */
  readonly results: number;
  readonly uncalibratedResults: number;
  /**
   * The hosts whose results behind it were measured in more than one host state (distinct
   * host fingerprints: the kernel, CPU settings or runtime versions changed between them).
   */
  readonly mixedStateHosts: readonly string[];
}

/**
 * What the start-up budget rule compares: per host, the upper end of the p95's 95% interval
 * where the host's reading gives one, else its p95; averaged over hosts.
 */
export interface StartupBound {
  readonly value: number;
  /** The hosts whose reading gave the upper end (none: the p95 alone, as version 1 gives). */
  readonly upperEndHosts: readonly string[];
  /** Of those, the hosts with too few launches to bound it: their upper end is the slowest. */
  readonly inexactHosts: readonly string[];
}

/** An option's start-up figure, with its p95 and what the start-up budget rule compares. */
export interface StartupFigure extends Figure {
  /**
   * The p95, averaged over hosts: over interleaved launches where a host's reading gives its
   * interval, else of the results' upper tails (for a published figure, its value).
   */
  readonly p95: number;
  readonly bound: StartupBound;
  /** The hosts whose start-up launches fell into two separate groups. */
  readonly bimodalHosts: readonly string[];
}

/** An option's throughput for one sensitivity: the ratios scored and those only shown. */
export interface SensitivityFigures {
  readonly sensitivity: SensitivityName;
  /** Ratios to the bare process: one per measured workload, or one published stand-in. */
  readonly figures: readonly Figure[];
  /** The mean of the figures; undefined when there is none. */
  readonly ratio: number | undefined;
  /** The mean of the figures' interval ends, when any of them has an interval. */
  readonly interval: Interval | undefined;
  /** Ratios measured only under TCG: shown for what they are, never scored. */
  readonly emulated: readonly Figure[];
}

/** Everything the rules and the score read of one option. */
export interface OptionFigures {
  readonly option: OptionKey;
  readonly profile: PlacementProfile;
  /** Whether any measurement of this option exists on the hosts considered. */
  readonly measured: boolean;
  readonly startup: StartupFigure | undefined;
  readonly overhead: Figure | undefined;
  readonly throughput: readonly SensitivityFigures[];
  /** Throughput measured only under TCG: shown for what it is, never scored. */
  readonly emulatedThroughput: readonly Figure[];
  /** Its throughput beside noisy neighbours, per antagonist. */
  readonly neighbours: NeighbourFigures;
  /** Its memory per instance at load, per host and step. */
  readonly loadMemory: LoadMemory;
}

/** A figure the score reads, by name, with the figures behind it (none: no figure at all). */
export interface ScoredFigures {
  readonly label: string;
  readonly figures: readonly Figure[];
}

/** What a measured figure's evidence says it is: whose, of which series, and how it was used. */
export interface EvidenceLabel {
  readonly option: OptionKey;
  readonly workload: string;
  readonly metric: string;
  readonly unit: string;
  readonly used: string;
}

function originOf(readings: readonly Reading[]): string {
  const hosts = formatList(readings.map((reading) => reading.hostId));
  const tcg = readings.some((reading) => reading.tcg) ? ' under TCG emulation' : '';
  const stale = readings.some((reading) => reading.stale) ? ' (stale)' : '';
  return `measured on ${hosts}${tcg}${stale}`;
}

/** The most result ids a figure keeps for the audit log. */
export const IDS_PER_FIGURE = 20;

/** Up to `IDS_PER_FIGURE` result ids, taken from each reading in turn, in code-unit order. */
function sampleIds(readings: readonly Reading[]): string[] {
  const taken = new Set<string>();
  for (let index = 0; taken.size < IDS_PER_FIGURE; index += 1) {
    const round = readings.flatMap((reading) => reading.resultIds[index] ?? []);
    if (round.length === 0) break;
    for (const id of round.slice(0, IDS_PER_FIGURE - taken.size)) taken.add(id);
  }
  return [...taken].sort();
}

/** The mean over hosts of per-host readings (already of one tier), as a figure. */
export function measuredFigure(readings: readonly Reading[], label: EvidenceLabel): Figure {
  const hosts = readings.map((reading) => reading.hostId);
  const stale = readings.some((reading) => reading.stale);
  const tcg = readings.some((reading) => reading.tcg);
  const value = mean(readings.map((reading) => reading.value));
  const samples = sum(readings.map((reading) => reading.samples));
  const evidence: Evidence = {
    source: 'measured',
    platform: label.option.placement,
    runtime: label.option.runtime,
    accel: sortedUnique(readings.flatMap((reading) => reading.accels)).join(','),
    workload: label.workload,
    metric: label.metric,
    unit: label.unit,
    value: roundTo(value, 4),
    used: label.used,
    samples,
    hosts: hosts.slice(0, HOSTS_PER_EVIDENCE),
    ...(hosts.length > HOSTS_PER_EVIDENCE ? { hostCount: hosts.length } : {}),
    latestAt: Math.max(...readings.map((reading) => reading.latestAt)),
    stale,
    ...(tcg ? { note: 'TCG emulation: QEMU emulating the CPU in software, not a hypervisor' } : {}),
  };
  return {
    value,
    source: 'measured',
    stale,
    tcg,
    unverified: false,
    samples,
    hosts,
    byHost: new Map(readings.map((reading) => [reading.hostId, reading.value])),
    evidence: [evidence],
    resultIds: sampleIds(readings),
    origin: originOf(readings),
    interval: readings.some((reading) => reading.interval !== undefined)
      ? meanInterval(readings)
      : undefined,
    results: sum(readings.map((reading) => reading.results)),
    uncalibratedResults: sum(readings.map((reading) => reading.uncalibratedResults)),
    mixedStateHosts: sortedUnique(
      readings.filter((reading) => reading.hostStates > 1).map((reading) => reading.hostId),
    ),
  };
}

/** The metric an evidence entry names for a published figure's metric. */
const EVIDENCE_METRIC: Readonly<Record<PublishedMetric, string>> = {
  startup: METRICS.startup.metric,
  'memory-overhead': METRICS.memoryOverhead.metric,
  'throughput-ratio': METRICS.throughput.metric,
};

/** A published figure standing in for a measurement, once per workload it covers. */
function publishedFigure(
  figure: PublishedFigure,
  workloads: readonly string[],
  used: string,
): Figure {
  const note = publishedNote(figure);
  return {
    value: figure.value,
    source: 'published',
    stale: false,
    tcg: false,
    unverified: figure.unverified,
    samples: 0,
    hosts: [],
    byHost: new Map(),
    evidence: workloads.map((workload) => ({
      source: 'published',
      platform: figure.placement,
      runtime: figure.runtime,
      accel: figure.accel,
      workload,
      metric: EVIDENCE_METRIC[figure.metric],
      unit: figure.unit,
      value: roundTo(figure.value, 4),
      used,
      samples: 0,
      hosts: [],
      stale: false,
      note,
    })),
    resultIds: [],
    origin: `published: ${publishedShortName(figure)}${figure.unverified ? ', unverified' : ''}`,
    interval: undefined,
    results: 0,
    uncalibratedResults: 0,
    mixedStateHosts: [],
  };
}

/** A published start-up standing in for an option's, as a figure (its p95 is its value). */
export const publishedStartup = (standIn: PublishedFigure): StartupFigure =>
  startupOf(publishedFigure(standIn, [INSTANCE_WORKLOAD], 'start-up (published)'), []);

/** An instance figure and the per-host readings behind it (none for a published figure). */
interface InstanceFigure {
  readonly figure: Figure;
  readonly readings: readonly Reading[];
}

/** A metric of the pseudo-workload `instance`: measured (best tier), else published, else none. */
function instanceFigure(
  asOf: RowsAsOf,
  option: OptionKey,
  profile: PlacementProfile,
  metricKey: 'startup' | 'memoryOverhead',
  used: string,
): InstanceFigure | undefined {
  const { metric, unit } = METRICS[metricKey];
  const readings = readingsOf(asOf, {
    ...placementOf(option),
    workload: INSTANCE_WORKLOAD,
    metric,
    unit,
  });
  if (readings.length > 0) {
    const hostReadings = bestPerHost(readings);
    return {
      figure: measuredFigure(hostReadings, {
        option,
        workload: INSTANCE_WORKLOAD,
        metric,
        unit,
        used,
      }),
      readings: hostReadings,
    };
  }
  const standIn = publishedStandIn(profile.publishedKind, metric);
  if (standIn === undefined) return undefined;
  return {
    figure: publishedFigure(
      standIn,
      [INSTANCE_WORKLOAD],
      `${used} (published, in place of a measurement)`,
    ),
    readings: [],
  };
}

/**
 * What the options' figures are read from: the rows as of a moment, the sensitivities their
 * throughput covers, and the bare process's throughput per workload, kept once read.
 */
interface FigureSource extends RowsAsOf {
  readonly sensitivities: readonly SensitivityName[];
  /** Per workload: the bare process's throughput, by host (the best tier there is). */
  readonly baselines: Map<string, ReadonlyMap<string, Reading>>;
}

/** The bare process's throughput of a workload, by host, read once per figure source. */
function baselineOf(source: FigureSource, workload: string): ReadonlyMap<string, Reading> {
  let byHost = source.baselines.get(workload);
  if (byHost === undefined) {
    const readings = readingsOf(source, {
      workload,
      metric: METRICS.throughput.metric,
      platform: BASELINE_PLATFORM,
    });
    byHost = new Map(bestPerHost(readings).map((reading) => [reading.hostId, reading]));
    source.baselines.set(workload, byHost);
  }
  return byHost;
}

const RATIO_USED = "mean throughput ÷ the bare process's on the same host";

function sensitivityFigures(
  source: FigureSource,
  option: OptionKey,
  profile: PlacementProfile,
  sensitivity: SensitivityName,
): SensitivityFigures {
  const scored: Figure[] = [];
  const emulated: Figure[] = [];
  for (const measure of throughputMeasures(sensitivity)) {
    const optionReadings = readingsOf(source, { ...measure, ...placementOf(option) });
    const baseline = baselineOf(source, measure.workload);
    const label = { option, ...measure, unit: 'ratio' };
    const hardware = ratioReadings(
      optionReadings.filter((reading) => !reading.tcg),
      baseline,
    );
    if (hardware.length > 0) {
      scored.push(measuredFigure(bestTier(hardware), { ...label, used: RATIO_USED }));
      continue;
    }
    const underTcg = ratioReadings(
      optionReadings.filter((reading) => reading.tcg),
      baseline,
    );
    if (underTcg.length > 0) {
      emulated.push(
        measuredFigure(bestTier(underTcg), {
          ...label,
          used: `${RATIO_USED}; measured under TCG emulation, not used: emulation is not what a VM costs`,
        }),
      );
    }
  }
  if (scored.length === 0) {
    const standIn = publishedStandIn(profile.publishedKind, 'throughput-ratio', sensitivity);
    if (standIn !== undefined) {
      scored.push(
        publishedFigure(
          standIn,
          SENSITIVITY_WORKLOADS[sensitivity],
          `${sensitivity} throughput relative to native (published, in place of a measurement)`,
        ),
      );
    }
  }
  return {
    sensitivity,
    figures: scored,
    ratio: scored.length === 0 ? undefined : mean(scored.map((figure) => figure.value)),
    interval: scored.some((figure) => figure.interval !== undefined)
      ? meanInterval(scored)
      : undefined,
    emulated,
  };
}

/**
 * A start-up figure from its per-host readings (none: a published figure, whose p95 and bound
 * are its value): its p95, what the budget rule compares, and its bimodal hosts.
 */
function startupOf(figure: Figure, readings: readonly Reading[]): StartupFigure {
  if (readings.length === 0) {
    return {
      ...figure,
      p95: figure.value,
      bound: { value: figure.value, upperEndHosts: [], inexactHosts: [] },
      bimodalHosts: [],
    };
  }
  const withInterval = readings.filter((reading) => reading.startupP95 !== undefined);
  const startup: StartupFigure = {
    ...figure,
    p95: mean(readings.map((reading) => reading.startupP95?.value ?? reading.p95)),
    bound: {
      value: mean(readings.map((reading) => reading.startupP95?.interval[1] ?? reading.p95)),
      upperEndHosts: withInterval.map((reading) => reading.hostId),
      inexactHosts: withInterval
        .filter((reading) => reading.startupP95?.exact === false)
        .map((reading) => reading.hostId),
    },
    bimodalHosts: readings.filter((reading) => reading.bimodal).map((reading) => reading.hostId),
  };
  return { ...startup, evidence: startupEvidence(startup) };
}

/**
 * What qualifies a bound read from the p95's intervals: the hosts whose interval too few
 * launches bound, and those whose readings give none.
 */
function boundCaveats(startup: StartupFigure): string[] {
  const { inexactHosts, upperEndHosts } = startup.bound;
  const without = startup.hosts.filter((host) => !upperEndHosts.includes(host));
  return [
    ...(inexactHosts.length === 0
      ? []
      : [`on ${formatList(inexactHosts)} too few launches bound it, so the slowest launch`]),
    ...(without.length === 0 ? [] : [`the p95 itself on ${formatList(without)}, with no interval`]),
  ];
}

/**
 * A measured start-up shows its p95 beside its mean and, where a host's reading gives the
 * p95's interval, the upper end the budget rule reads (else the rule reads the p95); a
 * bimodal start-up says so in its notes.
 */
function startupEvidence(startup: StartupFigure): readonly Evidence[] {
  const { bound } = startup;
  const bimodal =
    startup.bimodalHosts.length === 0
      ? undefined
      : `bimodal start-up on ${formatList(startup.bimodalHosts)}: its launches fall into two separate groups (a fast and a slow path), which a mean hides`;
  const upperEnd = [
    "upper end of the p95's 95% interval over interleaved launches, averaged over hosts (the start-up budget rule)",
    ...boundCaveats(startup),
  ].join('; ');
  return startup.evidence.flatMap((measured) => {
    const notes = [measured.note, bimodal].filter((note) => note !== undefined);
    const item = notes.length === 0 ? measured : { ...measured, note: notes.join('; ') };
    return [
      item,
      {
        ...item,
        value: roundTo(startup.p95, 4),
        used:
          bound.upperEndHosts.length === 0
            ? 'p95 start-up, averaged over hosts (the start-up budget rule)'
            : 'p95 start-up, averaged over hosts',
      },
      ...(bound.upperEndHosts.length === 0
        ? []
        : [{ ...item, value: roundTo(bound.value, 4), used: upperEnd }]),
    ];
  });
}

/**
 * What the start-up budget rule compares, for sentences, with where it comes from: "840 ms
 * (measured on a)", or "up to 840 ms (upper end of its 95% interval; point estimate 640 ms;
 * measured on a)".
 */
export function startupBoundText(startup: StartupFigure): string {
  const { bound } = startup;
  if (bound.upperEndHosts.length === 0) return `${formatMs(bound.value)} (${startup.origin})`;
  const notes = [
    'upper end of its 95% interval',
    ...boundCaveats(startup),
    `point estimate ${formatMs(startup.p95)}`,
    startup.origin,
  ];
  return `up to ${formatMs(bound.value)} (${notes.join('; ')})`;
}

const emulatedOf = (throughput: readonly SensitivityFigures[]): Figure[] =>
  throughput.flatMap((each) => each.emulated);

function figuresOfOption(
  source: FigureSource,
  option: OptionKey,
  measured: boolean,
): OptionFigures {
  const profile = profileOf(option);
  const startup = instanceFigure(source, option, profile, 'startup', 'mean start-up');
  const overhead = instanceFigure(
    source,
    option,
    profile,
    'memoryOverhead',
    'mean memory overhead per instance, net of the bare process',
  );
  const throughput = source.sensitivities.map((sensitivity) =>
    sensitivityFigures(source, option, profile, sensitivity),
  );
  return {
    option,
    profile,
    measured,
    startup: startup === undefined ? undefined : startupOf(startup.figure, startup.readings),
    overhead: overhead?.figure,
    throughput,
    emulatedThroughput: emulatedOf(throughput),
    neighbours: gatherNeighbours(source, option, measuredFigure),
    loadMemory: loadMemoryOf(source, option.placement, option.runtime),
  };
}

/**
 * Each option's figures, with its throughput for each of `sensitivities`; the bare process's
 * throughput is read once per workload for all of them. `measured` says whether an option has
 * rows on the hosts counted.
 */
export function gatherOptionFigures(
  asOf: RowsAsOf,
  options: readonly OptionKey[],
  sensitivities: readonly SensitivityName[],
  measured: (option: OptionKey) => boolean,
): OptionFigures[] {
  const source: FigureSource = { ...asOf, sensitivities, baselines: new Map() };
  return options.map((option) => figuresOfOption(source, option, measured(option)));
}

/** The option's figures with its throughput for these sensitivities only. */
export function narrowedTo(
  option: OptionFigures,
  sensitivities: readonly SensitivityName[],
): OptionFigures {
  const throughput = option.throughput.filter((each) => sensitivities.includes(each.sensitivity));
  return { ...option, throughput, emulatedThroughput: emulatedOf(throughput) };
}

/** The bare process's peak memory over the hosts that measured it, as a figure, if any did. */
export function bareMemoryFigure(asOf: RowsAsOf): Figure | undefined {
  const { metric, unit } = METRICS.memoryPeak;
  const readings = readingsOf(asOf, {
    platform: BASELINE_PLATFORM,
    workload: INSTANCE_WORKLOAD,
    metric,
    unit,
  });
  if (readings.length === 0) return undefined;
  const runtimes = asOf.rows
    .filter((row) => row.platform === BASELINE_PLATFORM)
    .map((row) => row.runtime);
  return measuredFigure(bestPerHost(readings), {
    option: { placement: BASELINE_PLATFORM, runtime: sortedUnique(runtimes).join(',') },
    workload: INSTANCE_WORKLOAD,
    metric,
    unit,
    used: "the bare process's mean peak memory, taken as the workload's own",
  });
}

/** What an option's score reads: start-up, memory overhead, and each sensitivity's ratios. */
export function scoredFigures(option: OptionFigures): ScoredFigures[] {
  const single = (label: string, figure: Figure | undefined): ScoredFigures => ({
    label,
    figures: figure === undefined ? [] : [figure],
  });
  return [
    single('start-up', option.startup),
    single('memory overhead', option.overhead),
    ...option.throughput.map((each) => ({
      label: `${each.sensitivity} throughput`,
      figures: each.figures,
    })),
  ];
}
