import {
  PUBLISHED_FIGURES,
  PUBLISHED_SOURCES,
  type PublishedFigure,
  type PublishedMetric,
} from '../../services/advisor/engine/published.ts';
import { RSS_TARGET_MB } from './agent-memory.ts';
import { mb, say } from './output.ts';
import type { PlatformResult } from './startup.ts';
import type { Summary } from './timing.ts';

/** Where the published figures come from: the advisor engine's own list. */
const FIGURES_FILE = 'services/advisor/engine/published.ts';

/** The first published figure of a placement and runtime for a metric. */
function published(placement: string, runtime: string, metric: PublishedMetric): PublishedFigure {
  const figure = PUBLISHED_FIGURES.find(
    (each) => each.placement === placement && each.runtime === runtime && each.metric === metric,
  );
  if (figure === undefined) {
    throw new Error(`${FIGURES_FILE} has no ${metric} figure for ${placement} (${runtime})`);
  }
  return figure;
}

/** Figures of one source as a line: the source, its conditions, and what each claims. */
function sourceLine(first: PublishedFigure, ...more: readonly PublishedFigure[]): string {
  const source = PUBLISHED_SOURCES[first.source];
  const claims = [first, ...more].map((figure) => figure.claim).join('; ');
  return `  ${source.short} (${source.conditions}): ${claims}`;
}

/** This host's start-up at p50 and memory per instance beside the published figures. */
export function comparisonStep(results: readonly PlatformResult[], agentRss: number): void {
  const on = (platform: string, runtime: string): PlatformResult | undefined =>
    results.find((result) => result.platform === platform && result.runtime === runtime);
  const ms = (summary: Summary): string => `${summary.p50.toFixed(0)} ms`;
  const accels = new Set(
    results.filter((result) => result.accel !== 'none').map((result) => result.accel),
  );
  say(`compared with published figures (${FIGURES_FILE}); this host at p50`);
  if (accels.has('tcg')) {
    say(
      "  The VMs here ran under TCG, QEMU's software emulation of the CPU, not KVM: their start-up is not comparable with the KVM figures.",
    );
  } else if (accels.has('kvm')) {
    say('  The VMs here ran under KVM, as in the published VM figures.');
  }
  const bareProcess = on('process', 'node');
  if (bareProcess !== undefined) {
    say(
      `  Start-up here runs to the runner's ready line, so it includes node's own start-up (bare node here: ${ms(bareProcess.bare)}).`,
    );
  }
  const guest = (result: PlatformResult): string =>
    `${result.accel}, ${String(result.settings['cpus'] ?? '?')} vCPU, ${String(result.settings['memoryMiB'] ?? '?')} MiB, kernel ${String(result.settings['kernel'] ?? '?')}`;
  const vm = on('vm', 'qemu-microvm');
  say(sourceLine(published('vm', 'firecracker', 'startup')));
  if (vm !== undefined) {
    say(`    here, vm (${guest(vm)}): Berth ${ms(vm.berth)}, bare QEMU ${ms(vm.bare)}`);
  }
  const kata = on('container-in-vm', 'qemu-microvm');
  say(
    sourceLine(
      published('container-in-vm', 'kata', 'startup'),
      published('container-in-vm', 'kata', 'memory-overhead'),
    ),
  );
  if (kata !== undefined) {
    say(
      `    here, container-in-vm (${guest(kata)}): Berth ${ms(kata.berth)}, bare QEMU ${ms(kata.bare)}${kata.memoryBytes === undefined ? '' : `; ${mb(kata.memoryBytes)} per instance (PSS of QEMU)`}`,
    );
  }
  const container = on('container', 'runc');
  say(sourceLine(published('container', 'any', 'startup')));
  if (container !== undefined) {
    say(
      `    here, container (runc): Berth ${ms(container.berth)}, bare runc ${ms(container.bare)}${container.memoryBytes === undefined ? '' : `; ${mb(container.memoryBytes)} per instance (cgroup peak)`}`,
    );
  }
  say(sourceLine(published('process', 'fork-exec', 'startup')));
  if (bareProcess !== undefined) {
    say(
      `    here, process: Berth ${ms(bareProcess.berth)}, bare node ${ms(bareProcess.bare)} (node's start-up)`,
    );
  }
  say(`  agent idle RSS here: ${mb(agentRss)} (target <= ${RSS_TARGET_MB} MB)`);
  say();
}
