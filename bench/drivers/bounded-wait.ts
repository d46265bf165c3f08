import { setTimeout as sleep } from 'node:timers/promises';
import { BOOT_TIMEOUT_MS } from '../../agents/host-agent/drivers/vm-qemu.ts';

/** How long a runner or the agent may take to be ready: as long as the VM driver waits for a guest. */
export const READY_TIMEOUT_MS = BOOT_TIMEOUT_MS;

/** The work's value, unless the run is interrupted or timeoutMs passes first. */
export async function bounded<T>(
  work: Promise<T>,
  signal: AbortSignal,
  timeoutMs: number,
  what: string,
): Promise<T> {
  // Whatever the work ends with after we stopped waiting is of no interest.
  work.catch(() => undefined);
  const controller = new AbortController();
  try {
    return await Promise.race([
      work,
      sleep(timeoutMs, undefined, { signal: AbortSignal.any([signal, controller.signal]) }).then(
        () => {
          throw new Error(`${what}: not done within ${timeoutMs} ms`);
        },
        () => {
          throw new Error('interrupted');
        },
      ),
    ]);
  } finally {
    controller.abort();
  }
}
