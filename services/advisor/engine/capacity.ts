import type { AdviceQuestion } from '../../../contracts/advice.ts';
import { DENSITY_LOAD_WORKLOAD, LOAD_MEASURES, loadMetric } from '../../../contracts/workloads.ts';
import { countedStep } from './at-load.ts';
import { measuredOn, type Facts } from './facts.ts';
import { measuredFigure, type Figure, type OptionFigures } from './figures.ts';
import { capitalise, formatMiB, formatNumber, optionName } from './format.ts';
import { sameOption } from './placements.ts';
import { TCG, type Reading } from './readings.ts';
import { sharedKernelProblem } from './rules.ts';
import type { HostInfo, OptionKey } from './types.ts';

/**
 * How many instances of the workload each of the question's hosts holds on an option, from
 * the host's memory (its inventory) and the memory per instance: the memory per instance at
 * load where the host measured density at load for the option, else the workload's own plus
 * the option's overhead (the host's own figures where it measured them); and from that, how
 * many hosts the question's instances need on each option.
 */

const MIB = 2 ** 20;

/** What one host holds on one option, and the sentence that says why. */
export interface HostCapacity {
  readonly hostId: string;
  /** Instances its memory holds (0 when the option cannot run there or a figure is missing). */
  readonly fits: number;
  /** Whether the figures were there to count (false: fits is 0 for want of a figure). */
  readonly known: boolean;
  /** The memory at load it was counted with, where the host measured density at load. */
  readonly atLoad?: AtLoadCount;
  /** The sentence, for a question that wants this many instances. */
  readonly why: (instances: number) => string;
}

/** A host's count from memory at load: the step that counted and the readings behind it. */
export interface AtLoadCount {
  /** The step: how many instances ran at once. */
  readonly instances: number;
  /** Whether the host holds no more than the step ran (else it is the largest step measured). */
  readonly covers: boolean;
  /** The memory per instance counted, MiB. */
  readonly perInstance: number;
  /** The option's memory per instance at the step. */
  readonly option: Reading;
  /** The bare process's at the same step, where the question's own memory is netted with it. */
  readonly bare: Reading | undefined;
}

/** What the question's hosts hold on one option. */
export interface OptionCapacity {
  readonly option: OptionKey;
  /** Each host, in the facts' order (by id). */
  readonly hosts: readonly HostCapacity[];
  /** What each host holds, largest first: the order hosts are filled in. */
  readonly largestFirst: readonly number[];
  /**
   * Whether the capacity could be counted: some host holds an instance, or every host's
   * figures were there (so none holding one is a finding, not a missing figure).
   */
  readonly known: boolean;
}

function hostCapacity(
  question: AdviceQuestion,
  facts: Facts,
  figures: OptionFigures,
  host: HostInfo,
): HostCapacity {
  const { option, profile, overhead } = figures;
  const name = optionName(option);
  const none = (why: string, known = true): HostCapacity => ({
    hostId: host.hostId,
    fits: 0,
    known,
    why: () => why,
  });
  const offered = host.platforms.find(
    (each) => each.platform === option.placement && each.runtime === option.runtime,
  );
  const measuredHere = measuredOn(facts, option.placement, option.runtime).has(host.hostId);
  if (offered?.available === false) {
    return none(
      `${name} is not available on ${host.hostId}: ${offered.reason ?? 'no reason given'}.`,
    );
  }
  if (offered === undefined && !measuredHere) {
    return none(`The agent on ${host.hostId} does not offer ${name}.`);
  }
  const problem = profile.sharesHostKernel ? sharedKernelProblem(question, host) : undefined;
  if (problem !== undefined) {
    return none(
      `${capitalise(profile.described)} shares the kernel of ${host.hostId}, and ${problem}.`,
    );
  }
  const memory = host.memoryBytes / MIB;
  const emulated = offered?.accel === TCG ? '; VMs here run under TCG emulation' : '';
  const wanted = (instances: number): string => `${formatNumber(instances)} wanted${emulated}`;
  const atLoad = atLoadOn(question, facts, figures, host.hostId, memory);
  if (atLoad !== undefined) {
    const fits = Math.floor(memory / atLoad.perInstance);
    return {
      hostId: host.hostId,
      fits,
      known: true,
      atLoad,
      why: (instances) =>
        `${formatMiB(memory)} of memory ÷ ${formatMiB(atLoad.perInstance)} per instance (${atLoadWords(question, atLoad, fits)}) = ${formatNumber(fits)}; ${wanted(instances)}.`,
    };
  }
  const ownHere =
    question.memoryMiB ?? facts.ownMemory?.byHost.get(host.hostId) ?? facts.ownMemory?.value;
  const overheadHere = overhead?.byHost.get(host.hostId) ?? overhead?.value;
  if (ownHere === undefined || overheadHere === undefined) {
    return none(
      `No figure for ${ownHere === undefined ? "the workload's own memory" : `the memory overhead of ${name}`}, so the capacity of ${host.hostId} is unknown.`,
      false,
    );
  }
  const perInstance = ownHere + Math.max(0, overheadHere);
  const fits = Math.floor(memory / perInstance);
  const where =
    overhead?.byHost.has(host.hostId) === true ? 'measured here' : (overhead?.origin ?? '');
  const unpaired =
    question.memoryMiB !== undefined && figures.loadMemory.byHost.has(host.hostId)
      ? ' Memory at load was measured here, but at no step the bare process measured too, so the idle overhead counts.'
      : '';
  return {
    hostId: host.hostId,
    fits,
    known: true,
    why: (instances) =>
      `${formatMiB(memory)} of memory ÷ ${formatMiB(perInstance)} per instance (${formatMiB(ownHere)} own + ${formatMiB(Math.max(0, overheadHere))} overhead, ${where}) = ${formatNumber(fits)}; ${wanted(instances)}.${unpaired}`,
  };
}

/**
 * The memory per instance at load that counts on a host, where it measured density at load
 * for the option: the step `countedStep` picks. With the question's own memory, the option's
 * memory at a step less the bare process's at the same step on this host is the overhead
 * (steps the bare process did not measure here do not count); without it, the option's memory
 * per instance at the step is the whole of it.
 */
function atLoadOn(
  question: AdviceQuestion,
  facts: Facts,
  figures: OptionFigures,
  hostId: string,
  memory: number,
): AtLoadCount | undefined {
  const given = question.memoryMiB;
  const bare = facts.bareLoadMemory.byHost.get(hostId) ?? [];
  const steps = (figures.loadMemory.byHost.get(hostId) ?? []).flatMap(
    ({ instances, reading }): Omit<AtLoadCount, 'covers'>[] => {
      if (given === undefined) {
        return reading.value > 0
          ? [{ instances, perInstance: reading.value, option: reading, bare: undefined }]
          : [];
      }
      const bareStep = bare.find((each) => each.instances === instances);
      if (bareStep === undefined) return [];
      const perInstance = given + Math.max(0, reading.value - bareStep.reading.value);
      return [{ instances, perInstance, option: reading, bare: bareStep.reading }];
    },
  );
  const counted = countedStep(steps, memory);
  return counted === undefined ? undefined : { ...counted.step, covers: counted.covers };
}

/** The parenthesis of a host's sentence counted at load: what the memory per instance is. */
function atLoadWords(question: AdviceQuestion, atLoad: AtLoadCount, fits: number): string {
  const running = `with ${formatNumber(atLoad.instances)} running`;
  const step = atLoad.covers
    ? `the smallest step measured at or above the ${formatNumber(fits)} it holds`
    : `the largest step measured, below the ${formatNumber(fits)} it holds`;
  if (question.memoryMiB === undefined || atLoad.bare === undefined) {
    return `memory per instance at load ${running}, measured here; ${step}`;
  }
  const overhead = Math.max(0, atLoad.option.value - atLoad.bare.value);
  return `${formatMiB(question.memoryMiB)} own + ${formatMiB(overhead)} overhead at load ${running}: ${formatMiB(atLoad.option.value)} per instance less the bare process's ${formatMiB(atLoad.bare.value)}, measured here; ${step}`;
}

/**
 * Capacities counted before, per gathered facts (their host list), per option gathered with
 * them (its memory at load) and per what of the question a count reads: the workload's own
 * memory and its OS needs. The facts and figures a ranking varies (start-up for a KVM host,
 * throughput for the sensitivities) keep those two objects, and a count reads neither, so a
 * question asked again with another lifetime, count or trust counts no host again.
 */
const counted = new WeakMap<
  readonly HostInfo[],
  WeakMap<OptionFigures['loadMemory'], Map<string, OptionCapacity>>
>();

/** What each of the question's hosts holds on this option: counted once per facts, option and needs. */
function capacityOf(
  question: AdviceQuestion,
  facts: Facts,
  figures: OptionFigures,
): OptionCapacity {
  let byOption = counted.get(facts.hosts);
  if (byOption === undefined) {
    byOption = new WeakMap();
    counted.set(facts.hosts, byOption);
  }
  let byNeeds = byOption.get(figures.loadMemory);
  if (byNeeds === undefined) {
    byNeeds = new Map();
    byOption.set(figures.loadMemory, byNeeds);
  }
  const { os, memoryMiB } = question;
  const needs = JSON.stringify([memoryMiB, os.family, os.kernel, os.kernelModules === true]);
  let capacity = byNeeds.get(needs);
  if (capacity === undefined) {
    capacity = countCapacity(question, facts, figures);
    byNeeds.set(needs, capacity);
  }
  return capacity;
}

function countCapacity(
  question: AdviceQuestion,
  facts: Facts,
  figures: OptionFigures,
): OptionCapacity {
  const hosts = facts.hosts.map((host) => hostCapacity(question, facts, figures, host));
  return {
    option: figures.option,
    hosts,
    largestFirst: hosts.map((host) => host.fits).sort((a, b) => b - a),
    known: hosts.some((host) => host.fits > 0) || hosts.every((host) => host.known),
  };
}

/** How many hosts a number of instances needs on an option. */
export interface HostsNeeded {
  readonly hosts: number;
  /** Whether the question's hosts hold them all (else `hosts` counts more like the largest). */
  readonly held: boolean;
}

/**
 * The hosts `instances` need on an option, filling the largest hosts first; beyond what the
 * question's hosts hold, more hosts like the largest one. Undefined when no host holds an
 * instance (or none could be counted): no count of hosts would do.
 */
export function hostsFor(capacity: OptionCapacity, instances: number): HostsNeeded | undefined {
  const largest = capacity.largestFirst[0] ?? 0;
  if (largest === 0) return undefined;
  let left = instances;
  let hosts = 0;
  for (const fits of capacity.largestFirst) {
    if (left <= 0 || fits === 0) break;
    left -= fits;
    hosts += 1;
  }
  return left <= 0
    ? { hosts, held: true }
    : { hosts: hosts + Math.ceil(left / largest), held: false };
}

/** The question's hosts for every option the rules kept: what the density part compares. */
export interface FleetCapacity {
  /** The option's capacity; undefined for an option the rules did not keep. */
  of(option: OptionKey): OptionCapacity | undefined;
  /** The fewest hosts any kept option needs for this many instances, and that option. */
  fewest(
    instances: number,
  ): { readonly needed: HostsNeeded; readonly option: OptionKey } | undefined;
}

/**
 * The capacities of the kept options on the question's hosts; undefined when the question
 * has no host with an inventory, where density falls back to memory per instance alone.
 */
export function fleetCapacity(
  question: AdviceQuestion,
  facts: Facts,
  kept: readonly OptionFigures[],
): FleetCapacity | undefined {
  if (facts.hosts.length === 0) return undefined;
  const capacities = kept.map((figures) => capacityOf(question, facts, figures));
  const fewestByCount = new Map<number, ReturnType<FleetCapacity['fewest']>>();
  return {
    of: (option) => capacities.find((capacity) => sameOption(capacity.option, option)),
    fewest: (instances) => {
      if (fewestByCount.has(instances)) return fewestByCount.get(instances);
      let best: ReturnType<FleetCapacity['fewest']>;
      for (const capacity of capacities) {
        const needed = hostsFor(capacity, instances);
        if (needed !== undefined && (best === undefined || needed.hosts < best.needed.hosts)) {
          best = { needed, option: capacity.option };
        }
      }
      fewestByCount.set(instances, best);
      return best;
    },
  };
}

/**
 * The memory at load an option's capacity was counted with, as figures for its evidence: per
 * step, the option's memory per instance over the hosts that counted that step, and the bare
 * process's where it was netted (`bare` names the bare process's platform and runtimes).
 */
export function atLoadFigures(capacity: OptionCapacity, bare: OptionKey): Figure[] {
  const counted = capacity.hosts.flatMap((host) =>
    host.atLoad === undefined ? [] : [host.atLoad],
  );
  const steps = [...new Set(counted.map((each) => each.instances))].sort((a, b) => a - b);
  return steps.flatMap((instances) => {
    const atStep = counted.filter((each) => each.instances === instances);
    const label = {
      workload: DENSITY_LOAD_WORKLOAD,
      metric: loadMetric('memory', instances),
      unit: LOAD_MEASURES.memory.unit,
    };
    const netted = atStep.flatMap((each) => (each.bare === undefined ? [] : [each.bare]));
    return [
      measuredFigure(
        atStep.map((each) => each.option),
        {
          ...label,
          option: capacity.option,
          used: `mean memory per instance at load with ${formatNumber(instances)} running: what each host holds`,
        },
      ),
      ...(netted.length === 0
        ? []
        : [
            measuredFigure(netted, {
              ...label,
              option: bare,
              used: `the bare process's mean memory per instance at load with ${formatNumber(instances)} running, netted from the option's`,
            }),
          ]),
    ];
  });
}
