import type { Logger } from './logger.ts';

export interface ShutdownStep {
  readonly name: string;
  readonly run: () => Promise<void>;
}

/**
 * Resolves on the first SIGINT or SIGTERM. A second signal exits at once, for a person
 * who does not want to wait for the orderly shutdown. A process started with an IPC channel
 * (the local agent of `berth up`) also stops when that channel closes: its parent is gone
 * without stopping it (killed), so nothing else would.
 */
export function untilSignal(logger: Logger): Promise<NodeJS.Signals | 'parent gone'> {
  return new Promise((resolve) => {
    const onParentGone = (): void => {
      onSignal('parent gone');
    };
    const onSignal = (signal: NodeJS.Signals | 'parent gone'): void => {
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
      process.removeListener('disconnect', onParentGone);
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
    if (process.channel !== undefined) {
      // The channel is only watched: it does not keep the process alive.
      process.channel.unref();
      process.once('disconnect', onParentGone);
    }
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
