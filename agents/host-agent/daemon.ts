import { join } from 'node:path';
import type { Msg, NatsConnection } from '@nats-io/nats-core';
import {
  describeError,
  heartbeatCodec,
  inventorySubject,
  jobProgressCodec,
  jobProgressSubject,
  jobRequestCodec,
  jobsSubject,
  type ErrorCode,
  type JobProgress,
  type JobRequest,
  type ResultBatch,
} from '../../contracts/index.ts';
import { settingLabel, type Config } from '../../lib/config.ts';
import type { Logger } from '../../lib/logger.ts';
import { connectNats } from '../../lib/nats/connect.ts';
import { untilSignal } from '../../lib/shutdown.ts';
import { loadHostId } from './host-id.ts';
import { matchDrivers, unknownPlatformsMessage } from './drivers/select.ts';
import { collectInventory } from './inventory.ts';
import { removeLeftovers } from './leftovers.ts';
import { openOutbox, type Outbox } from './outbox.ts';
import { clearCheckpoint, recoverCheckpoints, writeCheckpoint } from './run-checkpoint.ts';
import { judgementOf, loadPlansOf, type AgentConfig } from './agent-config.ts';
import { agentDir } from './agent-dir.ts';
import { baselineOf, closeDrivers, selectDrivers } from './agent-drivers.ts';
import { newRunId } from './ids.ts';
import { publishInventory } from './publish-inventory.ts';
import { SUITES, withRounds } from './suite-catalogue.ts';
import { runSuite } from './suite.ts';
import { isWorkloadName, WORKLOAD_NAMES } from '../../contracts/workloads.ts';

const HEARTBEAT_MS = 15_000;
/**
 * The inventory goes out again with every 10th heartbeat: the stream keeps the last 16
 * messages of a host, so one of them is always the inventory, for an advisor that starts later.
 */
const INVENTORY_EVERY_HEARTBEATS = 10;
const MAX_JOB_BYTES = 64 * 1024;

interface Running {
  readonly jobId: string;
  readonly runId: string;
  readonly abort: AbortController;
  readonly done: Promise<void>;
}

/**
 * `berth agent start`: the long-running agent. It publishes its inventory, then a heartbeat
 * every 15 s, and runs the suites it is asked for on berth.jobs.<hostId>, one at a time,
 * answering each request and publishing progress on berth.progress.<hostId>. A bad request
 * is answered with `rejected` and the reason; the agent carries on.
 */
export async function runAgentDaemon(
  config: AgentConfig & Config<'jobPlatforms' | 'rounds'>,
  logger: Logger,
): Promise<void> {
  // A signal during start-up (while leftovers are removed or the guest image is built) is
  // kept: the agent stops once it has started, tearing down what it made, not half-way.
  const stopped = untilSignal(logger);
  const dir = agentDir(config.dataDir);
  const hostId = await loadHostId(join(dir, 'host-id'), config.hostId);
  await removeLeftovers(dir, logger, config.libvirtUri);
  // The platforms it runs jobs on: those of the setting, or every one it has.
  const allDrivers = await selectDrivers(config, config.jobPlatforms, settingLabel('jobPlatforms'));
  const nc: NatsConnection = await connectNats({
    url: config.natsUrl,
    name: `berth-agent-${hostId}`,
  });
  const outbox: Outbox = await openOutbox(join(dir, 'outbox.jsonl'), nc, logger);
  const keep = (batch: ResultBatch): Promise<void> => outbox.add(batch);
  await recoverCheckpoints(dir, keep, logger);
  const started = Date.now();
  let running: Running | undefined;

  const publishProgress = (progress: JobProgress, reply?: string): void => {
    const bytes = jobProgressCodec.encode(progress);
    nc.publish(jobProgressSubject(hostId), bytes);
    if (reply !== undefined && reply !== '') nc.publish(reply, bytes);
  };
  const reject = (message: Msg, jobId: string, code: ErrorCode, reason: string): void => {
    logger.warn({ code, jobId }, `job rejected: ${reason}`);
    publishProgress(
      {
        schemaVersion: 1,
        jobId,
        hostId,
        at: Date.now(),
        state: 'rejected',
        done: 0,
        total: 0,
        error: { code, message: reason.slice(0, 1024) },
      },
      message.reply,
    );
  };

  const heartbeat = (): void => {
    nc.publish(
      inventorySubject(hostId),
      heartbeatCodec.encode({
        schemaVersion: 1,
        type: 'heartbeat',
        hostId,
        sentAt: Date.now(),
        uptimeSeconds: (Date.now() - started) / 1000,
        busy: running !== undefined,
        ...(running === undefined ? {} : { runId: running.runId }),
      }),
    );
  };

  const runJob = (job: JobRequest, message: Msg): void => {
    const runId = newRunId();
    const abort = new AbortController();
    // No list runs every platform; an empty list runs none.
    const drivers =
      job.platforms === undefined
        ? allDrivers
        : job.platforms.length === 0
          ? []
          : matchDrivers(allDrivers, job.platforms).selected;
    const suite = withRounds(
      {
        ...SUITES[job.suite],
        ...(job.workloads === undefined ? {} : { workloads: job.workloads }),
      },
      config.rounds,
    );
    let total = 0;
    let done = 0;
    const progress = (state: JobProgress['state'], text?: string): void => {
      publishProgress(
        {
          schemaVersion: 1,
          jobId: job.id,
          hostId,
          runId,
          at: Date.now(),
          state,
          done,
          total,
          ...(text === undefined ? {} : { message: text.slice(0, 1024) }),
        },
        state === 'accepted' ? message.reply : undefined,
      );
    };
    progress('accepted', `run ${runId}`);
    const work = runSuite({
      hostId,
      runId,
      suite,
      drivers,
      ...baselineOf(allDrivers),
      ...judgementOf(config),
      ...loadPlansOf(config, suite, dir),
      deliver: keep,
      checkpoint: (kept) => writeCheckpoint(dir, runId, kept),
      signal: abort.signal,
      onEvent: (event) => {
        if (event.kind === 'steps') {
          total += event.added;
        } else if (event.kind === 'round') {
          progress('running', event.what);
        } else if (event.kind === 'step') {
          done += 1;
          progress('running', `${event.platform}: ${event.what}`);
        } else if (event.kind === 'platform-skipped') {
          progress('running', `${event.platform}:${event.runtime} skipped: ${event.reason}`);
        }
      },
    })
      // A run that ends clears its checkpoint; one that fails hands its kept rounds to the outbox.
      .then(
        () => clearCheckpoint(dir, runId),
        async (error: unknown) => {
          await recoverCheckpoints(dir, keep, logger);
          throw error;
        },
      )
      .then(
        () => {
          done = total;
          progress(
            abort.signal.aborted ? 'failed' : 'done',
            abort.signal.aborted ? 'stopped' : undefined,
          );
        },
        (error: unknown) => {
          logger.error({ err: describeError(error), jobId: job.id }, 'job failed');
          progress('failed', describeError(error));
        },
      );
    running = {
      jobId: job.id,
      runId,
      abort,
      // A Docker engine or libvirtd Berth started for the job runs only while it does.
      done: work.finally(async () => {
        await closeDrivers(allDrivers);
        running = undefined;
      }),
    };
  };

  const subscription = nc.subscribe(jobsSubject(hostId), {
    callback: (error, message) => {
      if (error !== null) {
        logger.warn({ err: describeError(error) }, 'job subscription error');
        return;
      }
      const decoded = jobRequestCodec.decode(message.data, MAX_JOB_BYTES);
      const jobId = decoded.ok ? decoded.value.id : 'unknown';
      if (!decoded.ok) {
        reject(message, jobId, decoded.code, decoded.reason);
        return;
      }
      const job = decoded.value;
      if (job.hostId !== hostId) {
        reject(
          message,
          jobId,
          'BERTH_ERR_HOST_MISMATCH',
          `this agent is ${hostId}, the job is for ${job.hostId}`,
        );
        return;
      }
      const { unknown } = matchDrivers(allDrivers, job.platforms ?? []);
      if (unknown.length > 0) {
        reject(
          message,
          jobId,
          'BERTH_ERR_UNKNOWN_PLATFORM',
          `platforms: ${unknownPlatformsMessage(unknown, allDrivers)}`,
        );
        return;
      }
      const unknownWorkloads = (job.workloads ?? []).filter((name) => !isWorkloadName(name));
      if (unknownWorkloads.length > 0) {
        reject(
          message,
          jobId,
          'BERTH_ERR_UNKNOWN_WORKLOAD',
          `workloads: unknown ${unknownWorkloads.join(', ')} (known: ${WORKLOAD_NAMES.join(', ')})`,
        );
        return;
      }
      if (running !== undefined) {
        reject(
          message,
          jobId,
          'BERTH_ERR_AGENT_BUSY',
          `busy with job ${running.jobId} (run ${running.runId})`,
        );
        return;
      }
      runJob(job, message);
    },
  });

  // A stop asked for while the platforms are checked waits for the checks (they start and
  // stop runtimes: a Docker engine, a libvirtd, the guest image build) and says so at once;
  // the agent then stops without announcing itself ready.
  let inventoryTaken = false;
  let stopBeforeReady: Awaited<typeof stopped> | undefined;
  void stopped.then((signal) => {
    if (inventoryTaken) return;
    stopBeforeReady = signal;
    logger.info({ signal }, 'stopping once the platform checks under way end');
  });
  const inventory = await collectInventory(hostId, allDrivers);
  inventoryTaken = true;
  // What finding the platforms' availability started (a Docker engine, a libvirtd of
  // Berth's own) is not kept running while the agent waits for jobs.
  await closeDrivers(allDrivers);
  let timer: NodeJS.Timeout | undefined;
  if (stopBeforeReady === undefined) {
    await publishInventory(nc, inventory, logger);
    heartbeat();
    let beats = 0;
    timer = setInterval(() => {
      beats += 1;
      if (beats % INVENTORY_EVERY_HEARTBEATS === 0) {
        void publishInventory(nc, { ...inventory, sentAt: Date.now() }, logger);
      } else {
        heartbeat();
      }
    }, HEARTBEAT_MS);
    process.stdout.write(`berth agent ready: host ${hostId}, jobs on ${jobsSubject(hostId)}\n`);
  }

  const signal = await stopped;
  logger.info({ signal }, 'stopping: ending the current run and sending what is journaled');
  clearInterval(timer);
  subscription.unsubscribe();
  if (running !== undefined) {
    running.abort.abort();
    await running.done;
  }
  await outbox.flush(10_000).catch((error: unknown) => {
    logger.warn({ err: describeError(error) }, 'outbox not empty at stop');
  });
  await outbox.close();
  await nc.drain();
  await closeDrivers(allDrivers);
}
