import { join } from 'node:path';
import cliProgress from 'cli-progress';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream } from '@nats-io/jetstream';
import {
  BerthError,
  describeError,
  hostInventoryCodec,
  inventorySubject,
  type HostInventory,
  type ResultBatch,
} from '../../contracts/index.ts';
import type { Config } from '../../lib/config.ts';
import type { Logger } from '../../lib/logger.ts';
import { connectNats } from '../../lib/nats/connect.ts';
import { createDrivers } from './drivers/registry.ts';
import type { PlatformDriver } from './drivers/driver.ts';
import { matchDrivers, unknownPlatformsMessage } from './drivers/select.ts';
import { loadHostId } from './host-id.ts';
import { collectInventory } from './inventory.ts';
import { removeLeftovers } from './leftovers.ts';
import { openOutbox } from './outbox.ts';
import { runnerBundle } from './runner-bundle.ts';
import { newRunId, platformSteps, runSuite, SUITES, suiteSteps, type SuiteName } from './suite.ts';

/** What choosing and making the drivers reads of the configuration. */
export type DriverConfig = Config<'dataDir' | 'libvirtUri' | 'containersPerVm'>;
export type AgentConfig = DriverConfig & Config<'natsUrl' | 'hostId'>;

export interface AgentRunOptions {
  readonly suite: SuiteName;
  /** Platforms (`vm`) or drivers (`vm:libvirt`) to run; all registered ones when empty. */
  readonly platforms: readonly string[];
  /** How long to wait at the end for JetStream to acknowledge every result. */
  readonly flushTimeoutMs: number;
}

export interface AgentRunReport {
  readonly hostId: string;
  readonly runId: string;
  readonly batches: readonly ResultBatch[];
  readonly skipped: readonly { platform: string; runtime: string; reason: string }[];
  readonly failed: readonly { platform: string; workload: string; message: string }[];
}

/** The agent's folder under the data folder: host id, outbox journal. */
export function agentDir(dataDir: string): string {
  return join(dataDir, 'agent');
}

/**
 * Publishes the inventory on berth.inventory.<hostId>. The inventory is sent again at every
 * start, so a failure only delays it: it is logged, and the run goes on.
 */
export async function publishInventory(
  nc: NatsConnection,
  inventory: HostInventory,
  logger: Logger,
): Promise<void> {
  try {
    await jetstream(nc).publish(
      inventorySubject(inventory.hostId),
      hostInventoryCodec.encode(inventory),
      {
        timeout: 5_000,
      },
    );
  } catch (error) {
    logger.warn({ err: describeError(error) }, 'inventory not published');
  }
}

/** Shows the guest image being built (once, the first time a VM platform is used). */
export function printImageStep(done: number, total: number, what: string): void {
  process.stderr.write(`guest image [${done}/${total}] ${what}\n`);
}

/**
 * The drivers the names pick (all when there are none): a platform (`vm`) picks each of its
 * drivers, `platform:runtime` (`vm:libvirt`) one.
 */
export async function selectDrivers(
  config: DriverConfig,
  platforms: readonly string[],
  option = '--platforms',
): Promise<PlatformDriver[]> {
  const drivers = createDrivers(await runnerBundle(config.dataDir), agentDir(config.dataDir), {
    libvirtUri: config.libvirtUri,
    containersPerVm: config.containersPerVm,
    onImageStep: printImageStep,
  });
  const { selected, unknown } = matchDrivers(drivers, platforms);
  if (unknown.length > 0) {
    throw new BerthError(
      'BERTH_ERR_UNKNOWN_PLATFORM',
      `${option}: ${unknownPlatformsMessage(unknown, drivers)}`,
    );
  }
  return selected;
}

/** The bare process driver among the drivers, as a suite's memory baseline. */
export function baselineOf(drivers: readonly PlatformDriver[]): { baseline?: PlatformDriver } {
  const baseline = drivers.find((driver) => driver.platform === 'process');
  return baseline === undefined ? {} : { baseline };
}

/**
 * `berth agent run`: one suite on this host, every result journaled in the outbox before it
 * is published, and the command waits until JetStream acknowledged them all.
 */
export async function runAgentSuite(
  config: AgentConfig,
  options: AgentRunOptions,
  logger: Logger,
  signal?: AbortSignal,
): Promise<AgentRunReport> {
  const dir = agentDir(config.dataDir);
  const hostId = await loadHostId(join(dir, 'host-id'), config.hostId);
  await removeLeftovers(dir, logger, config.libvirtUri);
  const drivers = await selectDrivers(config, options.platforms);
  const allDrivers = await selectDrivers(config, []);
  const nc = await connectNats({ url: config.natsUrl, name: `berth-agent-${hostId}` });
  await publishInventory(nc, await collectInventory(hostId, allDrivers), logger);
  const outbox = await openOutbox(join(dir, 'outbox.jsonl'), nc, logger);
  const runId = newRunId();
  const suite = SUITES[options.suite];
  const batches: ResultBatch[] = [];
  const skipped: { platform: string; runtime: string; reason: string }[] = [];
  const failed: { platform: string; workload: string; message: string }[] = [];
  const bar = process.stderr.isTTY
    ? new cliProgress.SingleBar(
        { format: ' {bar} {value}/{total} {platform}: {what}', stream: process.stderr },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  bar?.start(suiteSteps(suite, drivers.length), 0, { platform: '', what: 'starting' });
  try {
    await runSuite({
      hostId,
      runId,
      suite,
      drivers,
      ...baselineOf(allDrivers),
      deliver: (batch) => outbox.add(batch),
      ...(signal === undefined ? {} : { signal }),
      onEvent: (event) => {
        switch (event.kind) {
          case 'step':
            bar?.increment({ platform: event.platform, what: event.what });
            if (bar === undefined) logger.info({ platform: event.platform }, event.what);
            break;
          case 'result':
            batches.push(event.batch);
            break;
          case 'platform-skipped':
            skipped.push({
              platform: event.platform,
              runtime: event.runtime,
              reason: event.reason,
            });
            bar?.increment(platformSteps(suite), {
              platform: event.platform,
              what: 'skipped',
            });
            logger.warn(
              { platform: event.platform, runtime: event.runtime },
              `skipped: ${event.reason}`,
            );
            break;
          case 'workload-failed':
            failed.push({
              platform: event.platform,
              workload: event.workload,
              message: event.message,
            });
            logger.warn({ platform: event.platform, workload: event.workload }, event.message);
            break;
        }
      },
    });
    bar?.stop();
    if (outbox.pending() > 0) {
      process.stderr.write(`waiting for ${outbox.pending()} results to be acknowledged …\n`);
    }
    await outbox.flush(options.flushTimeoutMs);
  } finally {
    bar?.stop();
    await outbox.close();
    await nc.drain();
  }
  return { hostId, runId, batches, skipped, failed };
}
