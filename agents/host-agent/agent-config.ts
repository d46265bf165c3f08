import { totalmem } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../../lib/config.ts';
import type { Suite } from './suite-catalogue.ts';
import type { SuiteRun } from './suite-run.ts';

/** What choosing and making the drivers reads of the configuration. */
export type DriverConfig = Config<
  'dataDir' | 'libvirtUri' | 'containersPerVm' | 'dockerEngine' | 'libvirtDaemon'
>;

/** How a run judges its comparisons and the host's state in each round. */
export type JudgementConfig = Config<'equivalenceMargin' | 'maxSteal' | 'maxForeignLoad'>;

/** What density at load and noisy neighbours read of the configuration. */
export type LoadConfig = Config<
  'loadWorkload' | 'sloShare' | 'loadMemoryBudget' | 'loadTimeBudget' | 'loadCap' | 'antagonists'
>;

/** What the agent (`berth agent run` and `berth agent start`) reads of the configuration. */
export type AgentConfig = DriverConfig &
  JudgementConfig &
  LoadConfig &
  Config<'natsUrl' | 'hostId'>;

/** A run's equivalence margin and disturbance thresholds, from the settings. */
export function judgementOf(config: JudgementConfig): Pick<SuiteRun, 'margin' | 'disturbance'> {
  return {
    margin: config.equivalenceMargin,
    disturbance: { maxSteal: config.maxSteal, maxForeignLoadCores: config.maxForeignLoad },
  };
}

/** Three quarters of the host's memory, MiB: the full suite's budget for density at load. */
function hostBudgetMiB(): number {
  return Math.floor((totalmem() * 0.75) / 2 ** 20);
}

/**
 * A run's density at load and noisy neighbours, from the suite and the settings: neither when
 * the load workload is `off`, no noisy neighbours when no antagonist is named. Antagonists
 * write in `<agentDir>/scratch`.
 */
export function loadPlansOf(
  config: LoadConfig,
  suite: Suite,
  agentDir: string,
): Pick<SuiteRun, 'densityAtLoad' | 'interference'> {
  const workload = config.loadWorkload;
  if (workload === 'off') return {};
  const { load } = suite;
  return {
    densityAtLoad: {
      workload,
      trialMs: load.trialMs,
      memoryBudgetMiB:
        config.loadMemoryBudget ??
        (load.memoryBudgetMiB === 'host' ? hostBudgetMiB() : load.memoryBudgetMiB),
      timeBudgetMs:
        config.loadTimeBudget === undefined ? load.timeBudgetMs : config.loadTimeBudget * 1000,
      cap: config.loadCap ?? load.cap,
      sloShare: config.sloShare,
    },
    ...(config.antagonists.length === 0
      ? {}
      : {
          interference: {
            workload,
            trialMs: load.trialMs,
            antagonists: config.antagonists,
            scratchDir: join(agentDir, 'scratch'),
          },
        }),
  };
}
