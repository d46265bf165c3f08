import type { AdviceQuestion, ScorePart } from '../../../contracts/advice.ts';
import { hostsFor, type FleetCapacity, type HostsNeeded, type OptionCapacity } from './capacity.ts';
import type { Figure, OptionFigures, SensitivityFigures } from './figures.ts';
import {
  capitalise,
  formatDuration,
  formatList,
  formatMiB,
  formatMs,
  formatNumber,
  formatPercent,
  optionName,
  plural,
  roundTo,
} from './format.ts';
import { endsOf, type Interval } from './intervals.ts';
import { mean, sum } from './lists.ts';
import { neighbourLoss, neighbourSentence, weighsNeighbours } from './neighbours.ts';
import type { IsolationLevel } from './placements.ts';

/**
 * The weighted score of an option that no rule ruled out. Each part is a value in [0, 1]
 * (1 best); it adds weight × value × 100 points, and the score is their sum (0–100). A part
 * whose figures have 95% intervals has points at their low and high ends too, and the score an
 * interval, the sums of those. docs/advisor.md states every formula and constant here.
 */

export type PartName = ScorePart['name'];

/** How much each part counts. They sum to 1, so a perfect option scores 100. */
export const WEIGHTS: Readonly<Record<PartName, number>> = {
  startup: 0.2,
  density: 0.2,
  throughput: 0.25,
  isolation: 0.15,
  lifetime: 0.2,
};

/** The share of an instance's life spent starting that halves the start-up part. */
export const STARTUP_TOLERANCE = 0.01;
/** At or below this life (seconds) work counts as short-lived: the article's containers. */
export const SHORT_LIFETIME_S = 600;
/** At or above this life (seconds) work runs for an extended period: the article's VMs. */
export const LONG_LIFETIME_S = 7 * 86_400;
/** At or above this many instances at once, density is the first priority. */
export const DENSE_INSTANCES = 1000;
/** The value of a part with no figure at all, measured or published: neither good nor bad. */
export const MISSING_VALUE = 0.5;

export const ISOLATION_VALUES: Readonly<Record<IsolationLevel, number>> = {
  'shared-kernel': 0.25,
  'user-space-kernel': 0.5,
  vm: 0.9,
  'vm-and-container': 1,
};

const ISOLATION_WORDS: Readonly<Record<IsolationLevel, string>> = {
  'shared-kernel':
    'shares the host kernel (namespaces and cgroups): one kernel hole reaches every instance on the host',
  'user-space-kernel':
    'a user-space kernel between the workload and the host kernel: a weaker boundary than a VM',
  vm: 'its own kernel behind hardware virtualization',
  'vm-and-container':
    "its own kernel behind hardware virtualization, with a container's packaging inside",
};

const clamp01 = (value: number): number => Math.min(1, Math.max(0, value));

/** 1 / (1 + s / tolerance), s = start-up ÷ life: longer lives and faster starts score higher. */
export function startupValue(startupMs: number, lifetimeSeconds: number): number {
  const share = startupMs / (lifetimeSeconds * 1000);
  return 1 / (1 + share / STARTUP_TOLERANCE);
}

/** own ÷ (own + overhead): the option's instances per GiB relative to the bare process's. */
export function densityRatio(ownMiB: number, overheadMiB: number): number {
  return ownMiB / (ownMiB + Math.max(0, overheadMiB));
}

/**
 * 1 − denseness × (1 − density ratio): one instance's overhead costs little, so the ratio
 * counts in full only from the dense count of instances on (log-linear in between).
 */
export function densityValue(ownMiB: number, overheadMiB: number, instances: number): number {
  return 1 - denseness(instances) * (1 - densityRatio(ownMiB, overheadMiB));
}

/** The mean of the ratios to the bare process, each capped at 1 (faster than bare is noise). */
export function throughputValue(ratios: readonly number[]): number {
  return mean(ratios.map(clamp01));
}

/** 1 at or below the short life, 0 at or above the long one, log-linear in between. */
export function shortness(lifetimeSeconds: number): number {
  return clamp01(
    Math.log(LONG_LIFETIME_S / lifetimeSeconds) / Math.log(LONG_LIFETIME_S / SHORT_LIFETIME_S),
  );
}

/** 0 for one instance, 1 at or above the dense count, log-linear in between. */
export function denseness(instances: number): number {
  return clamp01(Math.log10(instances) / Math.log10(DENSE_INSTANCES));
}

/**
 * The article's rule as a lean from VMs (0) to containers (1): short-lived work or maximum
 * density favour containers, work that runs for an extended period favours VMs.
 */
export const containerLean = (lifetimeSeconds: number, instances: number): number =>
  Math.max(shortness(lifetimeSeconds), denseness(instances));

/** share × lean + (1 − share) × (1 − lean): containers follow the lean, VMs its opposite. */
export const lifetimeValue = (containerShare: number, lean: number): number =>
  containerShare * lean + (1 - containerShare) * (1 - lean);

/**
 * What the score needs besides the option: the workload's own memory, if known, and what the
 * question's hosts hold on each option the rules kept (none when it has no host).
 */
export interface ScoreContext {
  readonly question: AdviceQuestion;
  readonly ownMemory: Figure | undefined;
  readonly fleet: FleetCapacity | undefined;
}

/**
 * A part: its value, the value at its figures' interval ends (where it has figures with
 * intervals), and the sentence that explains it (written only when an answer shows it).
 */
interface Part {
  readonly name: PartName;
  value(context: ScoreContext, option: OptionFigures): number;
  ends?(context: ScoreContext, option: OptionFigures): Interval | undefined;
  why(context: ScoreContext, option: OptionFigures): string;
}

const missing = (what: string): string => `${what}: scored ${MISSING_VALUE}, neither good nor bad`;

const startupPart: Part = {
  name: 'startup',
  value: (context, option) =>
    option.startup === undefined
      ? MISSING_VALUE
      : startupValue(option.startup.value, context.question.lifetimeSeconds),
  why: (context, option) => {
    const startup = option.startup;
    if (startup === undefined) return missing('No start-up figure, measured or published');
    const lifetime = context.question.lifetimeSeconds;
    const share = startup.value / (lifetime * 1000);
    return `Start-up ${formatMs(startup.value)} (${startup.origin}) is ${formatPercent(share)} of a ${formatDuration(lifetime)} life; ${formatPercent(STARTUP_TOLERANCE)} would score 0.5.`;
  },
};

/** The workload's own memory per instance: the question's, else the bare process's peak. */
export function ownMemoryOf(context: ScoreContext): { value: number; origin: string } | undefined {
  const given = context.question.memoryMiB;
  if (given !== undefined) return { value: given, origin: 'as the question gives it' };
  const measured = context.ownMemory;
  return measured === undefined
    ? undefined
    : { value: measured.value, origin: `the bare process's peak, ${measured.origin}` };
}

/** The workload's own memory in MiB, the question's or the bare process's peak, if known. */
const ownMiB = (context: ScoreContext): number | undefined =>
  context.question.memoryMiB ?? context.ownMemory?.value;

/**
 * The option on the question's hosts: what they hold, the hosts the instances need (undefined
 * when no host holds one) and the fewest any kept option needs, with that option; undefined
 * with no host to count in.
 */
function onHosts(
  context: ScoreContext,
  option: OptionFigures,
):
  | {
      capacity: OptionCapacity;
      needed: HostsNeeded | undefined;
      fewest: ReturnType<FleetCapacity['fewest']>;
    }
  | undefined {
  const fleet = context.fleet;
  const capacity = fleet?.of(option.option);
  if (fleet === undefined || capacity === undefined) return undefined;
  const { instances } = context.question;
  return { capacity, needed: hostsFor(capacity, instances), fewest: fleet.fewest(instances) };
}

/**
 * Density on the question's hosts: the fewest hosts any kept option needs ÷ the hosts this
 * option needs, so density counts only where capacity binds; undefined with no host to count.
 */
function densityOnHosts(context: ScoreContext, option: OptionFigures): number | undefined {
  const counted = onHosts(context, option);
  if (counted === undefined) return undefined;
  if (!counted.capacity.known) return MISSING_VALUE;
  const { needed, fewest } = counted;
  return needed === undefined || fewest === undefined ? 0 : fewest.needed.hosts / needed.hosts;
}

/** The density part's sentence in hosts: what this option needs against the fewest. */
function densityInHosts(context: ScoreContext, option: OptionFigures): string | undefined {
  const counted = onHosts(context, option);
  if (counted === undefined) return undefined;
  const { capacity, needed, fewest } = counted;
  const name = optionName(option.option);
  const { instances } = context.question;
  const reasons = capacity.hosts.map((host) => host.why(instances));
  if (!capacity.known) return missing(reasons.join(' ').replace(/\.$/, ''));
  if (needed === undefined) {
    return `No host of the question's holds one instance as ${name}: ${reasons.join(' ')}`;
  }
  const largest = formatNumber(capacity.largestFirst[0] ?? 0);
  const held = needed.held
    ? ''
    : capacity.hosts.length === 1
      ? ` (the question's one host holds ${largest}; the rest counted on more hosts like it)`
      : ` (the question's ${formatNumber(capacity.hosts.length)} hosts hold ${formatNumber(sum(capacity.largestFirst))}; the rest counted on hosts like the largest, which holds ${largest})`;
  const against =
    fewest === undefined || fewest.needed.hosts === needed.hosts
      ? ', as few as any option: density does not set the options apart here'
      : `; ${optionName(fewest.option)} needs ${formatNumber(fewest.needed.hosts)}`;
  const largestHost = [...capacity.hosts].sort((a, b) => b.fits - a.fits)[0];
  return `${formatNumber(instances)} instances need ${plural(needed.hosts, 'host')} as ${name}${held}${against}. ${largestHost?.why(instances) ?? ''}`;
}

const densityPart: Part = {
  name: 'density',
  value: (context, option) => {
    const onHosts = densityOnHosts(context, option);
    if (onHosts !== undefined) return onHosts;
    const own = ownMiB(context);
    return option.overhead === undefined || own === undefined
      ? MISSING_VALUE
      : densityValue(own, Math.max(0, option.overhead.value), context.question.instances);
  },
  why: (context, option) => {
    const inHosts = densityInHosts(context, option);
    if (inHosts !== undefined) return inHosts;
    const overhead = option.overhead;
    if (overhead === undefined) return missing('No memory overhead figure, measured or published');
    const own = ownMemoryOf(context);
    if (own === undefined) {
      return missing(
        "No figure for the workload's own memory (the question gives no memoryMiB and the bare process was not measured)",
      );
    }
    const instances = context.question.instances;
    const added = Math.max(0, overhead.value);
    return `No host to count in: ${formatMiB(added)} overhead per instance (${overhead.origin}) on ${formatMiB(own.value)} of its own (${own.origin}): ${formatPercent(densityRatio(own.value, added))} of the bare process's density, counted at ${formatPercent(denseness(instances))} for ${formatNumber(instances)} at once, which need ${formatMiB(instances * (own.value + added))} against ${formatMiB(instances * own.value)} bare.`;
  },
};

function sensitivityWords(each: SensitivityFigures): string {
  if (each.ratio === undefined) return `${each.sensitivity}: no figure, left out`;
  const sources = [...new Set(each.figures.map((figure) => figure.source))].join(' and ');
  const interval =
    each.interval === undefined
      ? ''
      : ` [${formatPercent(each.interval[0])}–${formatPercent(each.interval[1])}]`;
  return `${each.sensitivity} ${formatPercent(each.ratio)}${interval} (${sources})`;
}

/** The sensitivities that have a figure, each as its ratio and its interval. */
const ratiosOf = (option: OptionFigures): { value: number; interval: Interval | undefined }[] =>
  option.throughput.flatMap((each) =>
    each.ratio === undefined ? [] : [{ value: each.ratio, interval: each.interval }],
  );

const throughputPart: Part = {
  name: 'throughput',
  value: (_context, option) => {
    const ratios = ratiosOf(option);
    return ratios.length === 0
      ? MISSING_VALUE
      : throughputValue(ratios.map((ratio) => ratio.value));
  },
  ends: (_context, option) => {
    const ratios = ratiosOf(option);
    if (!ratios.some((ratio) => ratio.interval !== undefined)) return undefined;
    const ends = ratios.map(endsOf);
    return [throughputValue(ends.map((end) => end[0])), throughputValue(ends.map((end) => end[1]))];
  },
  why: (_context, option) => {
    const ratios = ratiosOf(option);
    if (ratios.length === 0) {
      const names = option.throughput.map((each) => each.sensitivity);
      return missing(`No throughput figure for ${formatList(names)}, measured or published`);
    }
    return `Throughput ${formatPercent(throughputValue(ratios.map((ratio) => ratio.value)))} of the bare process, the mean over ${formatList(option.throughput.map(sensitivityWords))}.`;
  },
};

/**
 * The isolation level's value; where the question weighs noisy neighbours, less the share of
 * throughput the option lost beside the antagonists measured (never below 0).
 */
function isolationValue(context: ScoreContext, option: OptionFigures, end?: 0 | 1): number {
  const level = ISOLATION_VALUES[option.profile.isolation];
  if (!weighsNeighbours(context.question)) return level;
  const loss = neighbourLoss(option.neighbours);
  if (loss === undefined) return level;
  return Math.max(0, level - (end === undefined ? loss.lost : loss.ends[end]));
}

const isolationPart: Part = {
  name: 'isolation',
  value: (context, option) => isolationValue(context, option),
  ends: (context, option) => {
    const ends: Interval = [isolationValue(context, option, 0), isolationValue(context, option, 1)];
    return ends[0] === ends[1] ? undefined : ends;
  },
  why: (context, option) => {
    const level = option.profile.isolation;
    const words = `${capitalise(option.profile.described)}: ${ISOLATION_WORDS[level]}.`;
    return weighsNeighbours(context.question)
      ? `${words} ${neighbourSentence(context.question, option.neighbours, ISOLATION_VALUES[level])}`
      : words;
  },
};

const lifetimePart: Part = {
  name: 'lifetime',
  value: (context, option) =>
    lifetimeValue(
      option.profile.containerShare,
      containerLean(context.question.lifetimeSeconds, context.question.instances),
    ),
  why: (context, option) => {
    const { lifetimeSeconds, instances } = context.question;
    const lean = containerLean(lifetimeSeconds, instances);
    const share = option.profile.containerShare;
    const kind =
      share === 1 ? 'a container' : share === 0 ? 'a VM' : 'a container and a VM at once';
    return `A ${formatDuration(lifetimeSeconds)} life (short-lived ${formatPercent(shortness(lifetimeSeconds))}) and ${formatNumber(instances)} at once (dense ${formatPercent(denseness(instances))}) lean ${formatPercent(lean)} towards containers; this option is ${kind}.`;
  },
};

/** The parts, in the order an answer lists them. */
const PARTS: readonly Part[] = [
  startupPart,
  densityPart,
  throughputPart,
  isolationPart,
  lifetimePart,
];

const pointsOf = (name: PartName, value: number): number => roundTo(WEIGHTS[name] * value * 100, 1);

/** A part's points, and its points at its figures' interval ends (its points, without one). */
interface PartPoints {
  readonly points: number;
  readonly low: number;
  readonly high: number;
}

function partPoints(
  part: Part,
  context: ScoreContext,
  value: number,
  option: OptionFigures,
): PartPoints {
  const points = pointsOf(part.name, value);
  const ends = part.ends?.(context, option);
  return ends === undefined
    ? { points, low: points, high: points }
    : { points, low: pointsOf(part.name, ends[0]), high: pointsOf(part.name, ends[1]) };
}

/** A score and its interval: the sums of the parts' points, lows and highs. */
export interface Scoring {
  readonly score: number;
  readonly interval: Interval;
}

/** The parts' points, lows and highs added in the parts' order, each to one decimal. */
const scoringOf = (parts: readonly PartPoints[]): Scoring => ({
  score: sumOfPoints(parts.map((part) => part.points)),
  interval: [
    sumOfPoints(parts.map((part) => part.low)),
    sumOfPoints(parts.map((part) => part.high)),
  ],
});

/** The option's score alone, the sum of its parts' points, with its interval. */
export function scoreOf(context: ScoreContext, option: OptionFigures): Scoring {
  return scoringOf(
    PARTS.map((part) => partPoints(part, context, part.value(context, option), option)),
  );
}

/** A sum of points, to one decimal. */
function sumOfPoints(points: readonly number[]): number {
  return roundTo(sum(points), 1);
}

/** What the what-if search varies; the other inputs stay the question's. */
export type Varied = Pick<AdviceQuestion, 'lifetimeSeconds' | 'instances'>;

/** The parts that neither the lifetime nor the instance count moves. */
const STEADY_PARTS: ReadonlySet<PartName> = new Set(['throughput', 'isolation']);

/**
 * The option's score as the lifetime and instance count vary: given `context` with only those
 * changed (`at`), equal to `scoreOf(at, option)`; the steady parts are computed once.
 */
export function scoreAcross(
  context: ScoreContext,
  option: OptionFigures,
): (at: ScoreContext) => Scoring {
  const steady = new Map(
    PARTS.filter((part) => STEADY_PARTS.has(part.name)).map((part) => [
      part.name,
      partPoints(part, context, part.value(context, option), option),
    ]),
  );
  return (at) =>
    scoringOf(
      PARTS.map(
        (part) => steady.get(part.name) ?? partPoints(part, at, part.value(at, option), option),
      ),
    );
}

/** The option's parts, in a fixed order, and its score (the sum of their points) with its interval. */
export function scoreOption(
  context: ScoreContext,
  option: OptionFigures,
): { parts: ScorePart[] } & Scoring {
  const parts = PARTS.map((part) => {
    const value = part.value(context, option);
    return {
      name: part.name,
      weight: WEIGHTS[part.name],
      value: roundTo(value, 3),
      ...partPoints(part, context, value, option),
      why: part.why(context, option),
    };
  });
  return { parts, ...scoringOf(parts) };
}
