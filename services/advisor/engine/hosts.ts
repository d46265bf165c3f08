import type { AdviceQuestion, HostFit } from '../../../contracts/advice.ts';
import { measuredOn, type Facts } from './facts.ts';
import { capitalise, formatMiB, formatNumber, optionName } from './format.ts';
import type { RankedOption, Ranking } from './rank.ts';
import { TCG } from './readings.ts';
import { sharedKernelProblem } from './rules.ts';
import type { HostInfo } from './types.ts';

/**
 * Which hosts can take the workload on the first option (and each option tied with it): how many
 * instances each host's memory holds, from its inventory and the measured memory per instance
 * (the workload's own plus the option's overhead; the host's own figures where it measured them).
 */

const MIB = 2 ** 20;

function fitOn(
  question: AdviceQuestion,
  facts: Facts,
  ranked: RankedOption,
  host: HostInfo,
): { fits: number; why: string } {
  const { option, profile, overhead } = ranked.figures;
  const name = optionName(option);
  const offered = host.platforms.find(
    (each) => each.platform === option.placement && each.runtime === option.runtime,
  );
  const measuredHere = measuredOn(facts, option.placement, option.runtime).has(host.hostId);
  if (offered?.available === false) {
    return {
      fits: 0,
      why: `${name} is not available on ${host.hostId}: ${offered.reason ?? 'no reason given'}.`,
    };
  }
  if (offered === undefined && !measuredHere) {
    return { fits: 0, why: `The agent on ${host.hostId} does not offer ${name}.` };
  }
  const problem = profile.sharesHostKernel ? sharedKernelProblem(question, host) : undefined;
  if (problem !== undefined) {
    return {
      fits: 0,
      why: `${capitalise(profile.described)} shares the kernel of ${host.hostId}, and ${problem}.`,
    };
  }
  const ownHere =
    question.memoryMiB ?? facts.ownMemory?.byHost.get(host.hostId) ?? facts.ownMemory?.value;
  const overheadHere = overhead?.byHost.get(host.hostId) ?? overhead?.value;
  if (ownHere === undefined || overheadHere === undefined) {
    return {
      fits: 0,
      why: `No figure for ${ownHere === undefined ? "the workload's own memory" : `the memory overhead of ${name}`}, so the capacity of ${host.hostId} is unknown.`,
    };
  }
  const perInstance = ownHere + Math.max(0, overheadHere);
  const memory = host.memoryBytes / MIB;
  const fits = Math.floor(memory / perInstance);
  const where =
    overhead?.byHost.has(host.hostId) === true ? 'measured here' : (overhead?.origin ?? '');
  const emulated = offered?.accel === TCG ? '; VMs here run under TCG emulation' : '';
  return {
    fits,
    why: `${formatMiB(memory)} of memory ÷ ${formatMiB(perInstance)} per instance (${formatMiB(ownHere)} own + ${formatMiB(Math.max(0, overheadHere))} overhead, ${where}) = ${formatNumber(fits)}; ${formatNumber(question.instances)} wanted${emulated}.`,
  };
}

export function hostFits(question: AdviceQuestion, facts: Facts, ranking: Ranking): HostFit[] {
  const tiedFirst = ranking.options.slice(0, Math.max(1, ranking.tied));
  return tiedFirst.flatMap((ranked) =>
    facts.hosts
      .map((host) => {
        const { fits, why } = fitOn(question, facts, ranked, host);
        return {
          hostId: host.hostId,
          placement: ranked.figures.option.placement,
          runtime: ranked.figures.option.runtime,
          fits,
          enough: fits >= question.instances,
          why,
        };
      })
      .sort((a, b) => b.fits - a.fits),
  );
}
