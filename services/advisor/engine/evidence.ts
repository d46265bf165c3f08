import type { AdviceQuestion, Evidence, SensitivityName } from '../../../contracts/advice.ts';
import { HOSTS_PER_EVIDENCE } from '../../../contracts/evidence-hosts.ts';
import { formatList, roundTo } from './format.ts';
import {
  BASELINE_PLATFORM,
  candidateOptions,
  compareText,
  profileOf,
  type PlacementProfile,
} from './placements.ts';
import {
  publishedNote,
  publishedShortName,
  publishedStandIn,
  type PublishedFigure,
  type PublishedMetric,
} from './published.ts';
import type { EngineInput, EvidenceRow, EvidenceSource, HostInfo, OptionKey } from './types.ts';

/**
 * Picks the evidence behind each option and labels it: measured or published, fresh or
 * stale, hardware or TCG emulation. Nothing here depends on the question but the hosts it
 * names, so the facts are gathered once per evidence, inventory and host list, and ranked for
 * many questions (each keeping to its sensitivities with `factsFor`).
 */

export const SENSITIVITY_WORKLOADS: Readonly<Record<SensitivityName, readonly string[]>> = {
  cpu: ['cpu-sha256', 'cpu-gzip'],
  memory: ['memory-copy'],
  io: ['file-fsync'],
  network: ['net-loopback'],
  syscall: ['syscall-fstat', 'process-spawn'],
};

export const ALL_SENSITIVITIES: readonly SensitivityName[] = [
  'cpu',
  'memory',
  'io',
  'network',
  'syscall',
];

/** The pseudo-workload of what the agent measures from outside an instance. */
export const INSTANCE_WORKLOAD = 'instance';

/** The metrics the engine reads, with the unit each must have (throughput's unit varies by
 * workload: it need only match the bare process's). */
export const METRICS = {
  startup: { metric: 'startup', unit: 'ms' },
  memoryOverhead: { metric: 'memory-overhead', unit: 'MiB' },
  memoryPeak: { metric: 'memory-peak', unit: 'MiB' },
  throughput: { metric: 'throughput', unit: undefined },
} as const;

const TCG = 'tcg';

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
}

export interface StartupFigure extends Figure {
  /** The p95 the start-up budget rule compares (for a published figure, its value). */
  readonly p95: number;
}

export interface SensitivityFigures {
  readonly sensitivity: SensitivityName;
  /** Ratios to the bare process: one per measured workload, or one published stand-in. */
  readonly figures: readonly Figure[];
  /** The mean of the figures; undefined when there is none. */
  readonly ratio: number | undefined;
  /** Ratios measured only under TCG: shown for what they are, never scored. */
  readonly emulated: readonly Figure[];
}

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
}

export interface Facts {
  /** The hosts the question counts, by id. */
  readonly hosts: readonly HostInfo[];
  /** The evidence rows of those hosts. */
  readonly rows: readonly EvidenceRow[];
  /** The sensitivities the options' throughput covers (every one until `factsFor`). */
  readonly sensitivities: readonly SensitivityName[];
  /** The bare process's peak memory: the workload's own when the question gives none. */
  readonly ownMemory: Figure | undefined;
  readonly options: readonly OptionFigures[];
  /** When they were gathered. */
  readonly now: number;
  readonly staleAfterMs: number;
  /**
   * The last moment these facts hold: until then no row turns stale, so facts gathered at
   * `now` are the facts of any moment from `now` to `validUntil`.
   */
  readonly validUntil: number;
  /** The hosts with rows of each platform: of any runtime, and of each runtime. */
  readonly measuredBy: ReadonlyMap<string, MeasuredBy>;
}

export interface MeasuredBy {
  readonly hosts: ReadonlySet<string>;
  readonly byRuntime: ReadonlyMap<string, ReadonlySet<string>>;
}

const NOBODY: ReadonlySet<string> = new Set();

/** The hosts with rows of a platform, of one runtime when it is given. */
export function measuredOn(
  facts: Pick<Facts, 'measuredBy'>,
  platform: string,
  runtime?: string,
): ReadonlySet<string> {
  const measured = facts.measuredBy.get(platform);
  if (measured === undefined) return NOBODY;
  return runtime === undefined ? measured.hosts : (measured.byRuntime.get(runtime) ?? NOBODY);
}

/** The hosts with a fresh row of a platform (of one runtime, when given), workload and metric. */
export function freshOn(
  facts: Pick<Facts, 'rows' | 'now' | 'staleAfterMs'>,
  where: { platform: string; runtime?: string | undefined; workload: string; metric: string },
): Set<string> {
  return new Set(
    readingsOf(facts.rows, where, facts.now, facts.staleAfterMs).flatMap((reading) =>
      reading.stale ? [] : [reading.hostId],
    ),
  );
}

/** One host's reading of one metric, or a ratio of two. */
interface Reading {
  readonly hostId: string;
  readonly accels: readonly string[];
  readonly unit: string;
  readonly value: number;
  readonly p95: number;
  readonly samples: number;
  readonly latestAt: number;
  readonly resultIds: readonly string[];
  readonly stale: boolean;
  readonly tcg: boolean;
}

interface Shown {
  readonly option: OptionKey;
  readonly workload: string;
  readonly metric: string;
  readonly unit: string;
  readonly used: string;
}

export const isStale = (latestAt: number, now: number, staleAfterMs: number): boolean =>
  now - latestAt > staleAfterMs;

const unique = (values: readonly string[]): string[] => [...new Set(values)].sort(compareText);

const mean = (values: readonly number[]): number =>
  values.reduce((sum, value) => sum + value, 0) / values.length;

function readingOf(row: EvidenceRow, now: number, staleAfterMs: number): Reading {
  return {
    hostId: row.hostId,
    accels: [row.accel],
    unit: row.unit,
    value: row.mean,
    p95: row.p95,
    samples: row.samples,
    latestAt: row.latestAt,
    resultIds: row.resultIds,
    stale: isStale(row.latestAt, now, staleAfterMs),
    tcg: row.accel === TCG,
  };
}

/** Hardware before emulation, then fresh before stale: the readings of the best kind there is. */
function bestTier(readings: readonly Reading[]): Reading[] {
  const tier = (reading: Reading): number => (reading.tcg ? 2 : 0) + (reading.stale ? 1 : 0);
  const best = Math.min(...readings.map(tier));
  return readings.filter((reading) => tier(reading) === best);
}

/** One reading per host (the mean of its readings; a host's only reading as it is), by host. */
function perHost(readings: readonly Reading[]): Reading[] {
  const byHost = new Map<string, Reading[]>();
  for (const reading of readings) {
    const own = byHost.get(reading.hostId);
    if (own === undefined) byHost.set(reading.hostId, [reading]);
    else own.push(reading);
  }
  return [...byHost.entries()]
    .sort(([a], [b]) => compareText(a, b))
    .map(([hostId, own]) =>
      own.length === 1 && own[0] !== undefined ? own[0] : meanReading(hostId, own),
    );
}

function meanReading(hostId: string, own: readonly Reading[]): Reading {
  return {
    hostId,
    accels: unique(own.flatMap((reading) => reading.accels)),
    unit: own[0]?.unit ?? '',
    value: mean(own.map((reading) => reading.value)),
    p95: mean(own.map((reading) => reading.p95)),
    samples: own.reduce((sum, reading) => sum + reading.samples, 0),
    latestAt: Math.max(...own.map((reading) => reading.latestAt)),
    resultIds: own.flatMap((reading) => reading.resultIds),
    stale: own.some((reading) => reading.stale),
    tcg: own.some((reading) => reading.tcg),
  };
}

function originOf(readings: readonly Reading[]): string {
  const hosts = formatList(readings.map((reading) => reading.hostId));
  const tcg = readings.some((reading) => reading.tcg) ? ' under TCG emulation' : '';
  const stale = readings.some((reading) => reading.stale) ? ' (stale)' : '';
  return `measured on ${hosts}${tcg}${stale}`;
}

/** The most result ids a figure keeps for the audit log. */
export const IDS_PER_FIGURE = 20;

/** Up to `IDS_PER_FIGURE` result ids, taken from each reading in turn, sorted. */
function sampleIds(readings: readonly Reading[]): string[] {
  const taken = new Set<string>();
  for (let index = 0; taken.size < IDS_PER_FIGURE; index += 1) {
    const round = readings.flatMap((reading) => reading.resultIds[index] ?? []);
    if (round.length === 0) break;
    for (const id of round.slice(0, IDS_PER_FIGURE - taken.size)) taken.add(id);
  }
  return [...taken].sort(compareText);
}

/** The mean over hosts of per-host readings (already of one tier), as a figure. */
function measuredFigure(readings: readonly Reading[], shown: Shown): Figure {
  const hosts = readings.map((reading) => reading.hostId);
  const stale = readings.some((reading) => reading.stale);
  const tcg = readings.some((reading) => reading.tcg);
  const value = mean(readings.map((reading) => reading.value));
  const samples = readings.reduce((sum, reading) => sum + reading.samples, 0);
  const evidence: Evidence = {
    source: 'measured',
    platform: shown.option.placement,
    runtime: shown.option.runtime,
    accel: unique(readings.flatMap((reading) => reading.accels)).join(','),
    workload: shown.workload,
    metric: shown.metric,
    unit: shown.unit,
    value: roundTo(value, 4),
    used: shown.used,
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
  };
}

const EVIDENCE_METRIC: Readonly<Record<PublishedMetric, string>> = {
  startup: 'startup',
  'memory-overhead': 'memory-overhead',
  'throughput-ratio': 'throughput',
};

/** A published figure standing in for a measurement, once per workload it covers. */
export function publishedFigure(
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
  };
}

const rowIndexes = new WeakMap<readonly EvidenceRow[], Map<string, EvidenceRow[]>>();

/** The rows of one platform, workload and metric; the index is built once per list of rows. */
function rowsFor(
  rows: readonly EvidenceRow[],
  platform: string,
  workload: string,
  metric: string,
): readonly EvidenceRow[] {
  let index = rowIndexes.get(rows);
  if (index === undefined) {
    index = new Map();
    for (const row of rows) {
      const key = `${row.platform}\0${row.workload}\0${row.metric}`;
      const bucket = index.get(key);
      if (bucket === undefined) index.set(key, [row]);
      else bucket.push(row);
    }
    rowIndexes.set(rows, index);
  }
  return index.get(`${platform}\0${workload}\0${metric}`) ?? [];
}

function readingsOf(
  rows: readonly EvidenceRow[],
  where: {
    platform: string;
    runtime?: string | undefined;
    workload: string;
    metric: string;
    unit?: string;
  },
  now: number,
  staleAfterMs: number,
): Reading[] {
  return rowsFor(rows, where.platform, where.workload, where.metric)
    .filter(
      (row) =>
        (where.runtime === undefined || row.runtime === where.runtime) &&
        (where.unit === undefined || row.unit === where.unit),
    )
    .map((row) => readingOf(row, now, staleAfterMs));
}

/** A metric of the pseudo-workload `instance`: measured (best tier), else published, else none. */
function instanceFigure(
  facts: Pick<Facts, 'rows' | 'now' | 'staleAfterMs'>,
  option: OptionKey,
  profile: PlacementProfile,
  which: 'startup' | 'memoryOverhead',
  used: string,
): { figure: Figure; p95: number } | undefined {
  const { metric, unit } = METRICS[which];
  const readings = readingsOf(
    facts.rows,
    {
      platform: option.placement,
      runtime: option.runtime,
      workload: INSTANCE_WORKLOAD,
      metric,
      unit,
    },
    facts.now,
    facts.staleAfterMs,
  );
  if (readings.length > 0) {
    const hosts = perHost(bestTier(readings));
    return {
      figure: measuredFigure(hosts, { option, workload: INSTANCE_WORKLOAD, metric, unit, used }),
      p95: mean(hosts.map((reading) => reading.p95)),
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
    p95: standIn.value,
  };
}

/** A published start-up standing in for an option's, as a figure (its p95 is its value). */
export const publishedStartup = (standIn: PublishedFigure): StartupFigure => ({
  ...publishedFigure(standIn, [INSTANCE_WORKLOAD], 'start-up (published)'),
  p95: standIn.value,
});

/** What gathering the facts reads, and the bare process's readings once found. */
interface Gathering extends Pick<
  Facts,
  'rows' | 'now' | 'staleAfterMs' | 'sensitivities' | 'measuredBy'
> {
  /** Per workload: the bare process's throughput, by host (the best tier there is). */
  readonly baselines: Map<string, ReadonlyMap<string, Reading>>;
}

/** The bare process's throughput of a workload, by host, read once per gathering. */
function baselineOf(gathering: Gathering, workload: string): ReadonlyMap<string, Reading> {
  let byHost = gathering.baselines.get(workload);
  if (byHost === undefined) {
    const readings = readingsOf(
      gathering.rows,
      { workload, metric: METRICS.throughput.metric, platform: BASELINE_PLATFORM },
      gathering.now,
      gathering.staleAfterMs,
    );
    byHost = new Map(
      readings.length === 0
        ? []
        : perHost(bestTier(readings)).map((reading) => [reading.hostId, reading]),
    );
    gathering.baselines.set(workload, byHost);
  }
  return byHost;
}

/** Per host: the platform's mean throughput over the bare process's, same workload and unit. */
function ratioReadings(
  platform: readonly Reading[],
  baseline: ReadonlyMap<string, Reading>,
): Reading[] {
  return perHost(platform).flatMap((reading) => {
    const bare = baseline.get(reading.hostId);
    if (bare === undefined || bare.unit !== reading.unit || bare.value <= 0) return [];
    return [
      {
        ...reading,
        unit: 'ratio',
        value: reading.value / bare.value,
        p95: reading.value / bare.value,
        latestAt: Math.max(reading.latestAt, bare.latestAt),
        resultIds: [...reading.resultIds, ...bare.resultIds],
        stale: reading.stale || bare.stale,
      },
    ];
  });
}

const placementOf = (option: OptionKey): { platform: string; runtime: string } => ({
  platform: option.placement,
  runtime: option.runtime,
});

const RATIO_USED = "mean throughput ÷ the bare process's on the same host";

function sensitivityFigures(
  facts: Gathering,
  option: OptionKey,
  profile: PlacementProfile,
  sensitivity: SensitivityName,
): SensitivityFigures {
  const scored: Figure[] = [];
  const emulated: Figure[] = [];
  for (const workload of SENSITIVITY_WORKLOADS[sensitivity]) {
    const where = { workload, metric: METRICS.throughput.metric };
    const { now, staleAfterMs } = facts;
    const platform = readingsOf(
      facts.rows,
      { ...where, ...placementOf(option) },
      now,
      staleAfterMs,
    );
    const baseline = baselineOf(facts, workload);
    const shown = { option, workload, metric: where.metric, unit: 'ratio' };
    const hardware = ratioReadings(
      platform.filter((reading) => !reading.tcg),
      baseline,
    );
    if (hardware.length > 0) {
      scored.push(measuredFigure(bestTier(hardware), { ...shown, used: RATIO_USED }));
      continue;
    }
    const underTcg = ratioReadings(
      platform.filter((reading) => reading.tcg),
      baseline,
    );
    if (underTcg.length > 0) {
      emulated.push(
        measuredFigure(bestTier(underTcg), {
          ...shown,
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
    emulated,
  };
}

function optionFigures(facts: Gathering, option: OptionKey): OptionFigures {
  const profile = profileOf(option);
  const startup = instanceFigure(facts, option, profile, 'startup', 'mean start-up');
  const overhead = instanceFigure(
    facts,
    option,
    profile,
    'memoryOverhead',
    'mean memory overhead per instance, net of the bare process',
  );
  const throughput = facts.sensitivities.map((sensitivity) =>
    sensitivityFigures(facts, option, profile, sensitivity),
  );
  return {
    option,
    profile,
    measured: measuredOn(facts, option.placement, option.runtime).size > 0,
    startup:
      startup === undefined
        ? undefined
        : { ...startup.figure, p95: startup.p95, evidence: withP95(startup.figure, startup.p95) },
    overhead: overhead?.figure,
    throughput,
    emulatedThroughput: throughput.flatMap((each) => each.emulated),
  };
}

/** A measured start-up shows its p95 beside its mean: the budget rule reads the p95. */
function withP95(figure: Figure, p95: number): readonly Evidence[] {
  if (figure.source === 'published') return figure.evidence;
  return figure.evidence.flatMap((item) => [
    item,
    {
      ...item,
      value: roundTo(p95, 4),
      used: 'p95 start-up, averaged over hosts (the start-up budget rule)',
    },
  ]);
}

/** A figure the score reads, by name, with the figures behind it (none: no figure at all). */
export interface ScoredFigures {
  readonly label: string;
  readonly figures: readonly Figure[];
}

/** What an option's score reads: start-up, memory overhead, and each sensitivity's ratios. */
export function scoredFigures(option: OptionFigures): ScoredFigures[] {
  const one = (label: string, figure: Figure | undefined): ScoredFigures => ({
    label,
    figures: figure === undefined ? [] : [figure],
  });
  return [
    one('start-up', option.startup),
    one('memory overhead', option.overhead),
    ...option.throughput.map((each) => ({
      label: `${each.sensitivity} throughput`,
      figures: each.figures,
    })),
  ];
}

/** The question's sensitivities, or all of them when it names none. */
export const sensitivitiesOf = (question: AdviceQuestion): readonly SensitivityName[] =>
  question.sensitivity === undefined || question.sensitivity.length === 0
    ? ALL_SENSITIVITIES
    : ALL_SENSITIVITIES.filter((sensitivity) => question.sensitivity?.includes(sensitivity));

/** The moment the first row that is fresh at `now` turns stale (Infinity when none is fresh). */
function firstTurnsStale(rows: readonly EvidenceRow[], now: number, staleAfterMs: number): number {
  let until = Number.POSITIVE_INFINITY;
  for (const row of rows) {
    const turns = row.latestAt + staleAfterMs;
    if (turns >= now && turns < until) until = turns;
  }
  return until;
}

function measuredByOf(rows: readonly EvidenceRow[]): Map<string, MeasuredBy> {
  const measuredBy = new Map<string, { hosts: Set<string>; byRuntime: Map<string, Set<string>> }>();
  for (const row of rows) {
    let platform = measuredBy.get(row.platform);
    if (platform === undefined) {
      platform = { hosts: new Set(), byRuntime: new Map() };
      measuredBy.set(row.platform, platform);
    }
    platform.hosts.add(row.hostId);
    const runtime = platform.byRuntime.get(row.runtime);
    if (runtime === undefined) platform.byRuntime.set(row.runtime, new Set([row.hostId]));
    else runtime.add(row.hostId);
  }
  return measuredBy;
}

/**
 * The facts every ranking over this evidence and inventory shares: the hosts and rows counted
 * (only those of `only` when it names any), the bare process's memory, and each candidate
 * option's figures for every sensitivity.
 */
export function gatherFacts(source: EvidenceSource, only: readonly string[] = []): Facts {
  const wanted = new Set(only);
  const counts = (hostId: string): boolean => wanted.size === 0 || wanted.has(hostId);
  const hosts = source.hosts
    .filter((host) => counts(host.hostId))
    .sort((a, b) => compareText(a.hostId, b.hostId));
  const rows = source.evidence.filter((row) => counts(row.hostId));
  const { now, staleAfterMs } = source;
  const measuredBy = measuredByOf(rows);
  const base: Gathering = {
    rows,
    now,
    staleAfterMs,
    sensitivities: ALL_SENSITIVITIES,
    measuredBy,
    baselines: new Map(),
  };
  const { metric, unit } = METRICS.memoryPeak;
  const ownReadings = readingsOf(
    rows,
    { platform: BASELINE_PLATFORM, workload: INSTANCE_WORKLOAD, metric, unit },
    now,
    staleAfterMs,
  );
  return {
    rows,
    now,
    staleAfterMs,
    sensitivities: ALL_SENSITIVITIES,
    measuredBy,
    validUntil: firstTurnsStale(rows, now, staleAfterMs),
    hosts,
    ownMemory:
      ownReadings.length === 0
        ? undefined
        : measuredFigure(perHost(bestTier(ownReadings)), {
            option: {
              placement: BASELINE_PLATFORM,
              runtime: unique(
                rows.filter((row) => row.platform === BASELINE_PLATFORM).map((row) => row.runtime),
              ).join(','),
            },
            workload: INSTANCE_WORKLOAD,
            metric,
            unit,
            used: "the bare process's mean peak memory, taken as the workload's own",
          }),
    options: candidateOptions(rows, hosts).map((option) => optionFigures(base, option)),
  };
}

/**
 * The facts as one question reads them: each option's throughput for the question's
 * sensitivities only. `facts` are those `gatherFacts` gives, for every sensitivity.
 */
export function factsFor(facts: Facts, question: AdviceQuestion): Facts {
  const sensitivities = sensitivitiesOf(question);
  const same =
    sensitivities.length === facts.sensitivities.length &&
    sensitivities.every((sensitivity, index) => facts.sensitivities[index] === sensitivity);
  if (same) return facts;
  const keep = (each: SensitivityFigures): boolean => sensitivities.includes(each.sensitivity);
  return {
    ...facts,
    sensitivities,
    options: facts.options.map((option) => {
      const throughput = option.throughput.filter(keep);
      return {
        ...option,
        throughput,
        emulatedThroughput: throughput.flatMap((each) => each.emulated),
      };
    }),
  };
}

/** The facts of one engine input: its evidence, counting the question's hosts. */
export const inputFacts = (input: EngineInput): Facts =>
  factsFor(gatherFacts(input, input.question.hosts), input.question);
