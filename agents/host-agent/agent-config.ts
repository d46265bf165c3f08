import type { Config } from '../../lib/config.ts';
import type { SuiteRun } from './suite-run.ts';

/** What choosing and making the drivers reads of the configuration. */
export type DriverConfig = Config<
  'dataDir' | 'libvirtUri' | 'containersPerVm' | 'dockerEngine' | 'libvirtDaemon'
>;

/** How a run judges its comparisons and the host's state in each round. */
export type JudgementConfig = Config<'equivalenceMargin' | 'maxSteal' | 'maxForeignLoad'>;

/** What the agent (`berth agent run` and `berth agent start`) reads of the configuration. */
export type AgentConfig = DriverConfig & JudgementConfig & Config<'natsUrl' | 'hostId'>;

/** A run's equivalence margin and disturbance thresholds, from the settings. */
export function judgementOf(config: JudgementConfig): Pick<SuiteRun, 'margin' | 'disturbance'> {
  return {
    margin: config.equivalenceMargin,
    disturbance: { maxSteal: config.maxSteal, maxForeignLoadCores: config.maxForeignLoad },
  };
}
