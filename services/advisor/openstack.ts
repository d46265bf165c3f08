import type { Advice, AdviceOption, Evidence } from '../../contracts/advice.ts';
import { hostCountOf } from '../../contracts/evidence-hosts.ts';
import { capitalise, formatList, formatNumber } from './engine/format.ts';
import { BASELINE_PLATFORM, profileOf, type PlacementProfile } from './engine/placements.ts';
import { METRICS } from '../../contracts/workloads.ts';

/**
 * `berth advise --format openstack`: the recommended option of an answer as what Nova needs to
 * place it. A flavor sized from the measured memory, whose extra specs tie it (through Nova's
 * AggregateInstanceExtraSpecsFilter) to a host aggregate of the hosts that fit it, and the
 * `openstack` command lines that make both. Only an option with a VM layer gets a flavor: Nova
 * places VMs, not containers.
 */

/** The aggregate metadata key the filter reads from a flavor's scoped extra spec. */
const EXTRA_SPEC_SCOPE = 'aggregate_instance_extra_specs';

interface NovaFlavor {
  readonly name: string;
  /** MiB for one instance: its own memory plus the option's overhead, rounded up. */
  readonly ram?: number;
  readonly vcpus: number;
  readonly extra_specs: Readonly<Record<string, string>>;
}

interface NovaAggregate {
  readonly name: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly hosts: readonly { hostId: string; fits: number; enough: boolean }[];
}

interface OpenstackDocument {
  readonly advice: {
    readonly id: string;
    readonly workload: string;
    readonly placement: string;
    readonly runtime: string;
    readonly score: number;
  };
  readonly flavor?: NovaFlavor;
  readonly aggregate: NovaAggregate;
  readonly commands: readonly string[];
  readonly notes: readonly string[];
}

/** The aggregate's metadata, which the flavor's extra specs ask for. */
const metadataOf = (option: AdviceOption): Readonly<Record<string, string>> => ({
  berth_placement: option.placement,
  berth_runtime: option.runtime,
});

/** Characters a POSIX shell reads as part of a word, wherever they stand. */
const SHELL_SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** One shell word: as it is when nothing in it is special, else in single quotes. */
const shellQuote = (value: string): string =>
  SHELL_SAFE.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`;

const commandLine = (words: readonly string[]): string => words.map(shellQuote).join(' ');

/** `--property key=value` for each entry, as the openstack CLI takes metadata and extra specs. */
const propertyWords = (properties: Readonly<Record<string, string>>): string[] =>
  Object.entries(properties).flatMap(([key, value]) => ['--property', `${key}=${value}`]);

/** Lower-case letters and digits, runs of anything else as one dash. */
function slugOf(text: string): string {
  const slug = text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return slug === '' ? 'workload' : slug;
}

/** Where a figure comes from, for the notes: "measured on host-a", "published: …". */
function originOf(evidence: Evidence): string {
  return evidence.source === 'published'
    ? (evidence.note ?? 'published')
    : `measured on ${formatList(evidence.hosts, 5, hostCountOf(evidence))}`;
}

const mibText = (mib: number): string => `${formatNumber(mib, 1)} MiB`;

/** The workload's own memory: the question's, else the bare process's peak the option shows. */
function ownMemoryOf(
  advice: Advice,
  option: AdviceOption,
): { readonly mib: number; readonly origin: string } | undefined {
  if (advice.question.memoryMiB !== undefined) {
    return { mib: advice.question.memoryMiB, origin: "the question's memoryMiB" };
  }
  const peak = option.evidence.find(
    (evidence) =>
      evidence.platform === BASELINE_PLATFORM && evidence.metric === METRICS.memoryPeak.metric,
  );
  return peak === undefined
    ? undefined
    : { mib: peak.value, origin: `the bare process's peak, ${originOf(peak)}` };
}

/** The flavor's ram and the sentence that says how it was reached, or why there is none. */
function ramOf(
  advice: Advice,
  option: AdviceOption,
  described: string,
): { readonly ram?: number; readonly note: string } {
  const own = ownMemoryOf(advice, option);
  const overhead = option.evidence.find(
    (evidence) => evidence.metric === METRICS.memoryOverhead.metric,
  );
  if (own === undefined) {
    return {
      note: "The workload's own memory is not known (the question gives no memoryMiB and no peak of the bare process was measured), so the flavor has no ram and no command creates it; ask again with memoryMiB.",
    };
  }
  if (overhead === undefined) {
    return {
      note: `No memory overhead of ${described}, measured or published, is known, so the flavor has no ram and no command creates it; run the agent's suite on a host that has it.`,
    };
  }
  const counted = Math.max(0, overhead.value);
  const ram = Math.ceil(own.mib + counted);
  const negative = overhead.value < 0 ? '; a negative overhead counts as 0' : '';
  return {
    ram,
    note: `The flavor's ram, ${ram} MiB for one instance, is ${mibText(own.mib)} of the workload's own memory (${own.origin}) plus the overhead of ${described}, ${mibText(counted)} (${originOf(overhead)}${negative}), rounded up.`,
  };
}

function evidenceNotes(option: AdviceOption, described: string): string[] {
  const published = [
    ...new Set(
      option.evidence
        .filter((evidence) => evidence.source === 'published')
        .map((evidence) => evidence.metric),
    ),
  ];
  const emulated = option.evidence.filter((evidence) => evidence.accel.split(',').includes('tcg'));
  const emulatedHosts = [...new Set(emulated.flatMap((evidence) => evidence.hosts))].sort();
  const emulatedCount = Math.max(emulatedHosts.length, ...emulated.map(hostCountOf));
  return [
    ...(published.length === 0
      ? []
      : [
          `Published figures, not measurements on your hosts, stand behind ${described}: ${formatList(published)}; run the agent's suite on a host that has it to measure them.`,
        ]),
    ...(emulated.length === 0
      ? []
      : [
          `The figures for ${described} were measured under TCG emulation (QEMU emulating the CPU in software) on ${formatList(emulatedHosts, 5, emulatedCount)}: a hypervisor's start-up and memory overhead differ, so measure on a host with KVM before sizing flavors from them.`,
        ]),
  ];
}

/**
 * The flavor for an option with a VM layer, the commands that create it (none when its ram is
 * not known) and the notes on how it was sized.
 */
function flavorPlanOf(
  advice: Advice,
  option: AdviceOption,
  profile: PlacementProfile,
): { readonly flavor: NovaFlavor; readonly commands: string[]; readonly notes: string[] } {
  const name = `berth-${slugOf(advice.question.workload)}`;
  const vcpus = 1;
  const { ram, note } = ramOf(advice, option, profile.described);
  const extraSpecs = Object.fromEntries(
    Object.entries(metadataOf(option)).map(([key, value]) => [`${EXTRA_SPEC_SCOPE}:${key}`, value]),
  );
  const commands =
    ram === undefined
      ? []
      : [
          commandLine([
            'openstack',
            'flavor',
            'create',
            '--ram',
            String(ram),
            '--vcpus',
            String(vcpus),
            name,
          ]),
          commandLine(['openstack', 'flavor', 'set', ...propertyWords(extraSpecs), name]),
        ];
  return {
    flavor: { name, ...(ram === undefined ? {} : { ram }), vcpus, extra_specs: extraSpecs },
    commands,
    notes: [
      note,
      'The flavor has 1 vCPU and a root disk of 0 (the size of the image it boots): Berth measures neither the CPUs nor the disk the workload needs, so set them from its own requirements.',
      ...(profile.containerBased
        ? [
            `${capitalise(profile.described)} runs the workload as a container inside a VM: the flavor sizes that VM for one instance, and Nova boots the VM but not the container in it.`,
          ]
        : []),
    ],
  };
}

/**
 * The first option of an answer as Nova flavor extra specs and an aggregate, with the commands
 * that create them and notes on what the figures are: pretty-printed JSON. Throws when no
 * option is left, naming the rules that ruled each one out.
 */
export function openstackExport(advice: Advice): string {
  const option = advice.options[0];
  if (option === undefined) {
    const rulesByOption = new Map<string, string[]>();
    for (const out of advice.ruledOut) {
      const label = `${out.placement}${out.runtime === undefined ? '' : ` (${out.runtime})`}`;
      rulesByOption.set(label, [...(rulesByOption.get(label) ?? []), out.rule]);
    }
    const ruledOut = [...rulesByOption].map(([label, rules]) => `${label} by ${formatList(rules)}`);
    throw new Error(
      `advice ${advice.id} has no placement to export to OpenStack; ${ruledOut.length === 0 ? 'it has no option' : `every option was ruled out: ${ruledOut.join('; ')} (--format text gives the reasons)`}`,
    );
  }
  const { placement, runtime } = option;
  const profile = profileOf(option);
  const metadata = metadataOf(option);
  const aggregateName = `berth-${placement}-${runtime}`;
  const listed = advice.hosts.filter(
    (host) => host.placement === placement && (host.runtime ?? runtime) === runtime,
  );
  const hosts = listed
    .filter((host) => host.fits > 0)
    .sort((a, b) => b.fits - a.fits)
    .map((host) => ({ hostId: host.hostId, fits: host.fits, enough: host.enough }));
  const flavorPlan = profile.sharesHostKernel ? undefined : flavorPlanOf(advice, option, profile);
  const commands = [
    commandLine(['openstack', 'aggregate', 'create', ...propertyWords(metadata), aggregateName]),
    ...hosts.map((host) =>
      commandLine(['openstack', 'aggregate', 'add', 'host', aggregateName, host.hostId]),
    ),
    ...(flavorPlan?.commands ?? []),
  ];
  const notes = [
    ...(flavorPlan?.notes ?? [
      `${capitalise(profile.described)} has no VM layer, and Nova places VMs, not containers: there is no flavor, only the aggregate, as a hint to whatever schedules the containers to keep to these hosts.`,
    ]),
    listed.length === 0
      ? 'The advice names no host (its advisor had no host inventory): add compute hosts to the aggregate yourself.'
      : hosts.length === 0
        ? `No host in the advice has room for an instance on ${profile.described}: add compute hosts to the aggregate yourself.`
        : "The aggregate's hosts are Berth host ids; `openstack aggregate add host` needs the Nova compute host names, so check they are the same.",
    ...evidenceNotes(option, profile.described),
  ];
  const document: OpenstackDocument = {
    advice: {
      id: advice.id,
      workload: advice.question.workload,
      placement,
      runtime,
      score: option.score,
    },
    ...(flavorPlan === undefined ? {} : { flavor: flavorPlan.flavor }),
    aggregate: { name: aggregateName, metadata, hosts },
    commands,
    notes,
  };
  return `${JSON.stringify(document, null, 2)}\n`;
}
