import { join } from 'node:path';
import cliProgress from 'cli-progress';
import type { ResultBatch } from '../../contracts/index.ts';
import type { Logger } from '../../lib/logger.ts';
import { judgementOf, loadPlansOf, type AgentConfig } from './agent-config.ts';
import { agentDir } from './agent-dir.ts';
import { baselineOf, closeDrivers, selectDrivers } from './agent-drivers.ts';
import { loadHostId } from './host-id.ts';
import { newRunId } from './ids.ts';
import { collectInventory } from './inventory.ts';
import { removeLeftovers } from './leftovers.ts';
import { openOutbox } from './outbox.ts';
import { connectOutbox, type OutboxConnection } from './outbox-connection.ts';
import { publishInventory } from './publish-inventory.ts';
import { clearCheckpoint, recoverCheckpoints, writeCheckpoint } from './run-checkpoint.ts';
import { SUITES, withRounds, type SuiteName } from './suite-catalogue.ts';
import type { SuiteOutcome, SuiteRun } from './suite-run.ts';
import { runSuite } from './suite.ts';

/** What `berth agent run` is asked to measure, and how long it waits for acknowledgements. */
export interface AgentRunOptions {
  readonly suite: SuiteName;
  /** Platforms (`vm`) or drivers (`vm:libvirt`) to run; all registered ones when empty. */
  readonly platforms: readonly string[];
  /** How long to wait at the end for JetStream to acknowledge every result. */
  readonly flushTimeoutMs: number;
  /** Rounds at least (`--rounds`); the suite's when not given. */
  readonly rounds?: number;
}

/** What one `berth agent run` measured, skipped and saw fail, for its summary. */
export interface AgentRunReport extends Omit<SuiteOutcome, 'seed'> {
  readonly hostId: string;
  readonly runId: string;
  readonly batches: readonly ResultBatch[];
  readonly skipped: readonly { platform: string; runtime: string; reason: string }[];
  readonly failed: readonly { platform: string; workload: string; message: string }[];
  /** True when NATS did not answer at all during the run: its results were not sent. */
  readonly natsUnreachable: boolean;
  /** Results in the outbox that JetStream has not acknowledged (this run's and earlier ones). */
  readonly unsent: number;
  /** The outbox journal, where unsent results wait for the next run or start to send them. */
  readonly outbox: string;
}

/** What the suite measured, and what it skipped and saw fail on the way. */
type Measured = Pick<AgentRunReport, 'batches' | 'skipped' | 'failed'> & {
  readonly outcome: SuiteOutcome;
};

/** Runs the suite with a progress bar on standard error when it is a terminal. */
async function measure(run: Omit<SuiteRun, 'onEvent'>, logger: Logger): Promise<Measured> {
  const batches: ResultBatch[] = [];
  const skipped: { platform: string; runtime: string; reason: string }[] = [];
  const failed: { platform: string; workload: string; message: string }[] = [];
  const bar = process.stderr.isTTY
    ? new cliProgress.SingleBar(
        { format: ' {bar} {value}/{total} {platform}: {what}', stream: process.stderr },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  bar?.start(0, 0, { platform: '', what: 'starting' });
  try {
    const outcome = await runSuite({
      ...run,
      onEvent: (event) => {
        switch (event.kind) {
          case 'steps':
            bar?.setTotal(bar.getTotal() + event.added);
            break;
          case 'round':
            bar?.update({ platform: '', what: event.what });
            if (bar === undefined) logger.info({ round: event.round }, event.what);
            break;
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
    return { outcome, batches, skipped, failed };
  } finally {
    bar?.stop();
  }
}

/** "1 result is", "8 results are". */
function resultsAre(count: number): string {
  return count === 1 ? '1 result is' : `${count} results are`;
}

/**
 * `berth agent run`: one suite on this host, every result journaled in the outbox before it
 * is published, and the command waits until JetStream acknowledged them all. When NATS does
 * not answer, the suite runs all the same: the results stay in the outbox (and go out as soon
 * as NATS answers during the run), and one line on standard error says where they wait.
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
  try {
    const inventory = await collectInventory(hostId, allDrivers);
    const outboxPath = join(dir, 'outbox.jsonl');
    const outbox = await openOutbox(outboxPath, undefined, logger);
    await recoverCheckpoints(dir, (batch) => outbox.add(batch), logger);
    let nats: OutboxConnection | undefined;
    try {
      nats = await connectOutbox(
        { url: config.natsUrl, name: `berth-agent-${hostId}` },
        async (nc) => {
          await publishInventory(nc, inventory, logger);
          outbox.connect(nc);
        },
        logger,
      );
      if (nats.unreachable !== undefined) {
        logger.info(`${nats.unreachable}; measuring anyway, the results wait in ${outboxPath}`);
      }
      const runId = newRunId();
      const suite = withRounds(SUITES[options.suite], options.rounds);
      const { outcome, batches, skipped, failed } = await measure(
        {
          hostId,
          runId,
          suite,
          drivers,
          ...baselineOf(allDrivers),
          ...judgementOf(config),
          ...loadPlansOf(config, suite, dir),
          deliver: (batch) => outbox.add(batch),
          checkpoint: (kept) => writeCheckpoint(dir, runId, kept),
          ...(signal === undefined ? {} : { signal }),
        },
        logger,
      );
      await clearCheckpoint(dir, runId);
      const nc = await nats.settle();
      if (nc === undefined) {
        process.stderr.write(
          `${nats.unreachable}; ${resultsAre(outbox.pending())} kept in ${outboxPath} and will be sent, with this host's inventory, by the next berth agent run or berth agent start\n`,
        );
      } else {
        if (outbox.pending() > 0) {
          process.stderr.write(`waiting for ${outbox.pending()} results to be acknowledged …\n`);
        }
        await outbox.flush(options.flushTimeoutMs);
      }
      const { rounds, comparisons, calibration, hostFingerprint, fingerprintChanged } = outcome;
      return {
        hostId,
        runId,
        batches,
        skipped,
        failed,
        rounds,
        comparisons,
        calibration,
        hostFingerprint,
        fingerprintChanged,
        natsUnreachable: nc === undefined,
        unsent: outbox.pending(),
        outbox: outboxPath,
      };
    } finally {
      await outbox.close();
      await (await nats?.settle())?.drain();
    }
  } finally {
    await closeDrivers([...drivers, ...allDrivers]);
  }
}
