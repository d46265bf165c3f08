import type { Logger } from './logger.ts';

export interface ShutdownStep {
  readonly name: string;
  readonly run: () => Promise<void>;
}

/**
 * Resolves on the first SIGINT or SIGTERM. A second signal exits at once, for a person
 * who does not want to wait for the orderly shutdown.
 */
export function untilSignal(logger: Logger): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
      const force = (): void => {
        logger.warn('second signal: exiting without finishing the shutdown');
        process.exit(130);
      };
      process.once('SIGINT', force);
      process.once('SIGTERM', force);
      resolve(signal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

/** Runs the steps in order; a step that fails is logged and the rest still run. */
export async function shutDown(steps: readonly ShutdownStep[], logger: Logger): Promise<boolean> {
  let clean = true;
  for (const step of steps) {
    try {
      await step.run();
      logger.debug({ step: step.name }, 'stopped');
    } catch (error) {
      clean = false;
      logger.error({ step: step.name, err: error }, 'shutdown step failed');
    }
  }
  return clean;
}
