import { coerce, satisfies } from 'semver';
import type { AdviceQuestion, OsFamilyName, RuledOut } from '../../../contracts/advice.ts';
import { startupBoundText, type OptionFigures } from './figures.ts';
import { formatList, formatMs } from './format.ts';
import type { HostInfo } from './types.ts';

/**
 * The hard rules: what a placement cannot do for this workload, whatever it scores. Each rule
 * has an id and says, for an option it rules out, why in one sentence with the facts behind it.
 */

export type RuleId =
  'os-family' | 'kernel-range' | 'kernel-modules' | 'full-os' | 'untrusted' | 'startup-budget';

export interface Rule {
  readonly id: RuleId;
  /** The rule itself, as docs/advisor.md states it. */
  readonly summary: string;
  /** Why the rule rules this option out, or undefined when it does not. */
  readonly check: (
    question: AdviceQuestion,
    option: OptionFigures,
    hosts: readonly HostInfo[],
  ) => string | undefined;
}

/** The OS family an inventory names (Node's process.platform: linux, win32, …), in the question's terms. */
export function hostOsFamily(raw: string): OsFamilyName {
  const name = raw.toLowerCase();
  if (name === 'linux' || name === 'freebsd') return name;
  if (name === 'windows' || name === 'win32') return 'windows';
  return 'other';
}

/** "other" in a question is an OS Berth cannot name, so no host is known to run it. */
const runsFamily = (family: OsFamilyName, host: HostInfo): boolean =>
  family !== 'other' && hostOsFamily(host.osFamily) === family;

/** Kernel checks already made, by range and kernel; a fleet has few kernels, asked few ranges. */
const kernelChecks = new Map<string, boolean>();
const MOST_KERNEL_CHECKS = 1024;

/** Whether the host's kernel (e.g. "6.1.0-56-amd64", read as 6.1.0) meets a semver range. */
export function kernelMeets(kernel: string, range: string): boolean {
  const key = `${range}\0${kernel}`;
  let meets = kernelChecks.get(key);
  if (meets === undefined) {
    const version = coerce(kernel);
    meets = version !== null && satisfies(version, range);
    if (kernelChecks.size >= MOST_KERNEL_CHECKS) kernelChecks.clear();
    kernelChecks.set(key, meets);
  }
  return meets;
}

/** The hosts whose kernel the range is checked against: those of the right OS, if any. */
function kernelPool(question: AdviceQuestion, hosts: readonly HostInfo[]): readonly HostInfo[] {
  const ofFamily = hosts.filter((host) => runsFamily(question.os.family, host));
  return ofFamily.length > 0 ? ofFamily : hosts;
}

/** Why this host's kernel cannot be shared with the workload, or undefined when it can. */
export function sharedKernelProblem(question: AdviceQuestion, host: HostInfo): string | undefined {
  if (!runsFamily(question.os.family, host)) {
    return `it runs ${host.osFamily} and the workload needs ${question.os.family}`;
  }
  const range = question.os.kernel;
  if (range !== undefined && !kernelMeets(host.kernel, range)) {
    return `its kernel ${host.kernel} does not meet ${range}`;
  }
  if (question.os.kernelModules === true) return 'the workload loads its own kernel modules';
  return undefined;
}

const hostsRunning = (hosts: readonly HostInfo[], what: (host: HostInfo) => string): string => {
  const groups = new Map<string, string[]>();
  for (const host of hosts)
    groups.set(what(host), [...(groups.get(what(host)) ?? []), host.hostId]);
  return [...groups.entries()]
    .map(([value, ids]) => `${formatList(ids, 3)} ${ids.length === 1 ? 'runs' : 'run'} ${value}`)
    .join('; ');
};

const osFamily: Rule = {
  id: 'os-family',
  summary:
    'A workload that needs another OS family than the host runs cannot share the host kernel: no process or container.',
  check: (question, option, hosts) => {
    const family = question.os.family;
    if (!option.profile.sharesHostKernel) return undefined;
    const shares = `${option.profile.described} shares the host's kernel, so it runs only the host's OS`;
    if (hosts.length === 0) {
      return family === 'linux'
        ? undefined
        : `The workload needs ${family}; with no host inventory the host is taken to run Linux, the only OS Berth's agents run on, and ${shares}.`;
    }
    if (hosts.some((host) => runsFamily(family, host))) return undefined;
    return `The workload needs ${family}; ${hostsRunning(hosts, (host) => host.osFamily)}, and ${shares}.`;
  },
};

const kernelRange: Rule = {
  id: 'kernel-range',
  summary:
    'A workload that needs a kernel range no host kernel meets cannot share the host kernel: no process or container.',
  check: (question, option, hosts) => {
    const range = question.os.kernel;
    if (!option.profile.sharesHostKernel || range === undefined || hosts.length === 0) {
      return undefined;
    }
    const pool = kernelPool(question, hosts);
    if (pool.some((host) => kernelMeets(host.kernel, range))) return undefined;
    return `The workload needs a kernel ${range}; ${hostsRunning(pool, (host) => `kernel ${host.kernel}`)}, which does not meet it, and ${option.profile.described} shares the host's kernel.`;
  },
};

const kernelModules: Rule = {
  id: 'kernel-modules',
  summary:
    'A workload that loads its own kernel modules cannot share the host kernel: no process or container.',
  check: (question, option) =>
    question.os.kernelModules === true && option.profile.sharesHostKernel
      ? `The workload loads its own kernel modules, and ${option.profile.described} would load them into the host's kernel, which everything on the host shares.`
      : undefined,
};

const fullOs: Rule = {
  id: 'full-os',
  summary:
    'A workload that needs a dedicated OS of its own cannot run as a container: nothing container-based, a container in a VM included.',
  check: (question, option) =>
    question.os.fullOs === true && option.profile.containerBased
      ? `The workload needs a dedicated OS of its own (own init, system services, kernel tuning), and ${option.profile.described} runs it as a container, which has none.`
      : undefined,
};

const untrusted: Rule = {
  id: 'untrusted',
  summary:
    'Untrusted code needs a VM boundary: nothing on the shared host kernel; a sandboxing runtime (gVisor) only where it was measured, and then as a weaker boundary.',
  check: (question, option) => {
    if (question.trust !== 'untrusted') return undefined;
    const described = option.profile.described;
    switch (option.profile.isolation) {
      case 'shared-kernel':
        return `Untrusted code needs a VM boundary, and ${described} runs on the host's shared kernel, where one kernel hole reaches every instance on the host.`;
      case 'user-space-kernel':
        return option.measured
          ? undefined
          : `Untrusted code needs a VM boundary; ${described} puts a user-space kernel in between, a weaker boundary, and it was not measured on these hosts.`;
      case 'vm':
      case 'vm-and-container':
        return undefined;
    }
  },
};

const startupBudget: Rule = {
  id: 'startup-budget',
  summary:
    "An option whose measured start-up p95 exceeds the start-up budget is ruled out; where the p95 has a 95% interval, the interval's upper end is compared.",
  check: (question, option) => {
    const budget = question.startupBudgetMs;
    const startup = option.startup;
    if (budget === undefined || startup?.source !== 'measured' || startup.bound.value <= budget) {
      return undefined;
    }
    const emulated = startup.tcg
      ? '; TCG emulates the CPU, so a KVM or Xen host starts it faster'
      : '';
    return `The start-up p95 of ${option.profile.described} is ${startupBoundText(startup)}, above the ${formatMs(budget)} budget${emulated}.`;
  },
};

/** Every hard rule, in the order the answer lists them. */
export const RULES: readonly Rule[] = [
  osFamily,
  kernelRange,
  kernelModules,
  fullOs,
  untrusted,
  startupBudget,
];

/** The options no rule rules out, and every (option, rule) that does rule one out. */
export function applyRules(
  question: AdviceQuestion,
  options: readonly OptionFigures[],
  hosts: readonly HostInfo[],
): { kept: OptionFigures[]; ruledOut: RuledOut[] } {
  const kept: OptionFigures[] = [];
  const ruledOut: RuledOut[] = [];
  for (const option of options) {
    const found = RULES.flatMap((rule) => {
      const sentence = rule.check(question, option, hosts);
      return sentence === undefined ? [] : [{ ...option.option, rule: rule.id, sentence }];
    });
    if (found.length === 0) kept.push(option);
    ruledOut.push(...found);
  }
  return { kept, ruledOut };
}
