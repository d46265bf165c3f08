import type { ResultBatch, ResultBatchV2 } from '../../contracts/index.ts';
import { selectDrivers } from '../../agents/host-agent/agent-drivers.ts';
import type { PlatformDriver } from '../../agents/host-agent/drivers/driver.ts';
import { newRunId } from '../../agents/host-agent/ids.ts';
import type { Suite } from '../../agents/host-agent/suite-catalogue.ts';
import type { SuiteOutcome } from '../../agents/host-agent/suite-run.ts';
import { runSuite } from '../../agents/host-agent/suite.ts';
import { SETTINGS } from '../../lib/config.ts';
import { progress } from './output.ts';

/** The libvirt connection of the bench: libvirt's test driver, which vm:libvirt skips itself on. */
const LIBVIRT_TEST_URI = 'test:///default';

/** Longest a round's announcement is shown: an extra round names every unclear comparison. */
const ROUND_TEXT_MAX = 160;

/** Text cut to ROUND_TEXT_MAX characters, with an ellipsis where it was cut. */
function shortened(text: string): string {
  return text.length <= ROUND_TEXT_MAX ? text : `${text.slice(0, ROUND_TEXT_MAX - 1)}…`;
}

/** What every step of the bench shares. */
export interface BenchContext {
  readonly dataDir: string;
  readonly signal: AbortSignal;
  /** The equivalence margin of every comparison: the setting's default. */
  readonly margin: number;
  /** Every suite run id so far, for the check of what was left behind. */
  readonly runIds: string[];
  /** performance.now() as the bench began, for its time budget. */
  readonly startedAt: number;
}

/** One suite run: what it found, the version 2 batches it published, and how long it took. */
export interface BenchSuiteRun {
  readonly outcome: SuiteOutcome;
  readonly batches: readonly ResultBatchV2[];
  readonly wallMs: number;
}

/** The drivers the names pick over the bench's data folder, libvirt on its test driver. */
export function benchDrivers(
  context: BenchContext,
  names: readonly string[],
): Promise<PlatformDriver[]> {
  return selectDrivers(
    {
      dataDir: context.dataDir,
      libvirtUri: LIBVIRT_TEST_URI,
      containersPerVm: SETTINGS.containersPerVm.defaultValue,
      dockerEngine: SETTINGS.dockerEngine.defaultValue,
      libvirtDaemon: SETTINGS.libvirtDaemon.defaultValue,
    },
    names,
  );
}

/** The process platform's driver over the bench's data folder. */
export async function processDriver(context: BenchContext): Promise<PlatformDriver> {
  const [driver] = await benchDrivers(context, ['process']);
  if (driver === undefined) throw new Error('no process platform driver is registered');
  return driver;
}

/**
 * Runs a suite as `berth agent run` does, with the settings' disturbance thresholds and the
 * bench's margin; its batches are kept here, not sent. Rounds, skipped platforms and failures
 * are shown as progress under `label`. Throws when the bench is interrupted.
 */
export async function runBenchSuite(
  context: BenchContext,
  suite: Suite,
  drivers: readonly PlatformDriver[],
  label: string,
): Promise<BenchSuiteRun> {
  const runId = newRunId();
  context.runIds.push(runId);
  const batches: ResultBatch[] = [];
  const started = performance.now();
  const outcome = await runSuite({
    hostId: 'fidelity',
    runId,
    suite,
    drivers,
    margin: context.margin,
    signal: context.signal,
    deliver: (batch) => {
      batches.push(batch);
      return Promise.resolve();
    },
    onEvent: (event) => {
      if (event.kind === 'round') progress(`${label}: ${shortened(event.what)}`);
      if (event.kind === 'platform-skipped') {
        progress(`${label}: ${event.platform}:${event.runtime} skipped: ${event.reason}`);
      }
      if (event.kind === 'workload-failed') {
        progress(`${label}: ${event.platform} ${event.workload}: ${event.message}`);
      }
    },
  });
  const wallMs = performance.now() - started;
  if (context.signal.aborted) throw new Error('interrupted');
  return {
    outcome,
    batches: batches.filter((batch): batch is ResultBatchV2 => batch.schemaVersion === 2),
    wallMs,
  };
}
