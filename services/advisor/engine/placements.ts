import { compareText } from './lists.ts';
import type { EvidenceRow, HostInfo, OptionKey } from './types.ts';

/** What a placement is made of, read from its name and runtime. */

/** The platform every ratio is taken against; never an option. */
export const BASELINE_PLATFORM = 'process';

/** Isolation from weakest to strongest; the order also breaks ties between equal scores. */
export const ISOLATION_LEVELS = [
  'shared-kernel',
  'user-space-kernel',
  'vm',
  'vm-and-container',
] as const;
export type IsolationLevel = (typeof ISOLATION_LEVELS)[number];

/** Which published figures may stand in for a placement that was not measured. */
export type PublishedKind = 'container' | 'vm' | 'container-in-vm';

export interface PlacementProfile {
  /** No guest kernel between the workload and the host's kernel. */
  readonly sharesHostKernel: boolean;
  /** The workload runs inside a container, with no OS of its own. */
  readonly containerBased: boolean;
  readonly isolation: IsolationLevel;
  /** For the lifetime rule: 1 a container, 0 a VM, 0.5 both at once. */
  readonly containerShare: number;
  readonly publishedKind: PublishedKind | undefined;
  /** The option in words: "a container in a VM (qemu-microvm)". */
  readonly described: string;
}

/** The three placements every answer considers, with Berth's own runtimes for them. */
export const CORE_OPTIONS: readonly OptionKey[] = [
  { placement: 'container', runtime: 'runc' },
  { placement: 'vm', runtime: 'qemu-microvm' },
  { placement: 'container-in-vm', runtime: 'qemu-microvm' },
];

const SANDBOX_RUNTIME = /^(runsc|gvisor)/;
const KATA_RUNTIME = /kata/;
const KNOWN_LAYERS = new Set(['container', 'vm']);

/**
 * Reads a placement as its layers, innermost first ("container-in-vm": a container inside a
 * VM). A runtime can change what a container is: runsc/gVisor puts a user-space kernel under
 * it, Kata a lightweight VM. A placement with a layer Berth does not know is taken to share the
 * host kernel and to have no OS of its own, the cautious reading for the hard rules.
 */
export function profileOf(option: OptionKey): PlacementProfile {
  const layers = option.placement.split('-in-');
  const known = layers.every((layer) => KNOWN_LAYERS.has(layer));
  const innermost = layers[0];
  const kata = known && innermost === 'container' && KATA_RUNTIME.test(option.runtime);
  const sandboxed = known && !kata && SANDBOX_RUNTIME.test(option.runtime);
  const hasVm = known && (layers.includes('vm') || kata);
  const withContainer = layers.includes('container');
  const isolation: IsolationLevel = hasVm
    ? withContainer
      ? 'vm-and-container'
      : 'vm'
    : sandboxed
      ? 'user-space-kernel'
      : 'shared-kernel';
  return {
    sharesHostKernel: !hasVm,
    containerBased: !known || innermost === 'container',
    isolation,
    containerShare: !hasVm ? 1 : withContainer ? 0.5 : 0,
    publishedKind: publishedKindOf(known, sandboxed, hasVm, innermost),
    described: describe(option, layers, known, kata, sandboxed),
  };
}

function publishedKindOf(
  known: boolean,
  sandboxed: boolean,
  hasVm: boolean,
  innermost: string | undefined,
): PublishedKind | undefined {
  if (!known || sandboxed) return undefined;
  if (!hasVm) return 'container';
  return innermost === 'container' ? 'container-in-vm' : 'vm';
}

function describe(
  option: OptionKey,
  layers: readonly string[],
  known: boolean,
  kata: boolean,
  sandboxed: boolean,
): string {
  if (!known) return `${option.placement} (${option.runtime})`;
  const kind = kata ? 'Kata ' : sandboxed ? 'gVisor ' : '';
  const words = layers.map((layer) => (layer === 'vm' ? 'VM' : layer)).join(' in a ');
  return `a ${kind}${words} (${option.runtime})`;
}

const keyOf = (option: OptionKey): string => `${option.placement}\u0000${option.runtime}`;

/**
 * The options to weigh: every placement+runtime the evidence has or a host offers, except the
 * bare process, plus the core placements that nothing names (with Berth's runtimes for them).
 * Sorted by placement, then runtime.
 */
export function candidateOptions(
  evidence: readonly EvidenceRow[],
  hosts: readonly HostInfo[],
): OptionKey[] {
  const found = new Map<string, OptionKey>();
  const add = (option: OptionKey): void => {
    if (option.placement !== BASELINE_PLATFORM) found.set(keyOf(option), option);
  };
  for (const row of evidence) add({ placement: row.platform, runtime: row.runtime });
  for (const host of hosts) {
    for (const offered of host.platforms) {
      if (offered.available) add({ placement: offered.platform, runtime: offered.runtime });
    }
  }
  const placements = new Set([...found.values()].map((option) => option.placement));
  for (const core of CORE_OPTIONS) {
    if (!placements.has(core.placement)) add(core);
  }
  return [...found.values()].sort(compareKeys);
}

export function compareKeys(a: OptionKey, b: OptionKey): number {
  return compareText(a.placement, b.placement) || compareText(a.runtime, b.runtime);
}

/** Whether an option (or a ruled-out entry, whose runtime is optional) is this option. */
export const sameOption = (
  a: { readonly placement: string; readonly runtime?: string },
  b: OptionKey,
): boolean => a.placement === b.placement && a.runtime === b.runtime;
