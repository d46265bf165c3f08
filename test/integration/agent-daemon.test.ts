import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  heartbeatCodec,
  inventorySubject,
  jobProgressCodec,
  jobProgressSubject,
  jobRequestCodec,
  jobsSubject,
  type JobProgress,
  type JobRequest,
} from '../../contracts/index.ts';
import { INVENTORY_STREAM } from '../../lib/nats/streams.ts';
import { countStoredResults } from '../../lib/storage/results.ts';
import { spawnBerth, type BerthProcess } from '../../support/cli.ts';
import { consumerIsIdle, startIngestStack, type IngestStack } from '../../support/ingest.ts';
import { processesMatching } from '../../support/leftovers.ts';
import { cleanUp, removeDir, startTestNats, tempDir } from '../../support/servers.ts';
import { waitFor } from '../../support/wait.ts';

describe('berth agent start', () => {
  let dir: string;
  let stack: IngestStack;
  let agent: BerthProcess;
  let hostId: string;

  const ask = async (payload: Uint8Array): Promise<JobProgress> => {
    const reply = await stack.nc.request(jobsSubject(hostId), payload, { timeout: 30_000 });
    const decoded = jobProgressCodec.decode(reply.data, 1 << 20);
    if (!decoded.ok) throw new Error(decoded.reason);
    return decoded.value;
  };
  const job = (overrides: Partial<JobRequest> = {}): JobRequest => ({
    schemaVersion: 1,
    id: `job-${Date.now()}`,
    hostId,
    requestedAt: Date.now(),
    requestedBy: 'test',
    suite: 'quick',
    platforms: ['process'],
    ...overrides,
  });

  beforeAll(async () => {
    dir = await tempDir('agent-daemon');
    stack = await startIngestStack();
    agent = spawnBerth(['agent', 'start'], {
      NATS_URL: stack.nats.url,
      BERTH_DATA_DIR: join(dir, 'agent'),
      BERTH_JOB_PLATFORMS: 'process,container:runc',
    });
    const ready = await agent.waitForLine(/berth agent ready/, 90_000);
    hostId = /host (\S+),/.exec(ready)?.[1] ?? '';
  }, 120_000);

  afterAll(async () => {
    agent.child.kill('SIGKILL');
    await cleanUp(
      () => stack.stop(),
      () => removeDir(dir),
    );
  });

  it('sends heartbeats on its inventory subject', async () => {
    // The first heartbeat went out at start, as a plain publish the stream stores a moment
    // later: read the stream's copy until it is there instead of waiting 15 s for the next.
    const jsm = await jetstreamManager(stack.nc);
    let beat: ReturnType<typeof heartbeatCodec.decode> | undefined;
    await waitFor('the first heartbeat in the inventory stream', async () => {
      const last = await jsm.streams.getMessage(INVENTORY_STREAM, {
        last_by_subj: inventorySubject(hostId),
      });
      beat = heartbeatCodec.decode(last?.data ?? new Uint8Array(), 1 << 20);
      return beat.ok;
    });
    expect(beat?.ok && beat.value).toMatchObject({ type: 'heartbeat', hostId, busy: false });
  });

  it.each<[string, () => Uint8Array, string]>([
    [
      'a request that is not JSON',
      () => new TextEncoder().encode('run please'),
      'BERTH_ERR_NOT_JSON',
    ],
    [
      'a request that breaks the schema',
      () => jobRequestCodec.encode({ ...job(), suite: 'huge' as 'quick' }),
      'BERTH_ERR_SCHEMA',
    ],
    [
      'a job for another host',
      () => jobRequestCodec.encode(job({ hostId: 'someone-else' })),
      'BERTH_ERR_HOST_MISMATCH',
    ],
    [
      'an unknown platform',
      () => jobRequestCodec.encode(job({ platforms: ['mainframe'] })),
      'BERTH_ERR_UNKNOWN_PLATFORM',
    ],
    [
      'a platform this agent runs no job on (BERTH_JOB_PLATFORMS)',
      () => jobRequestCodec.encode(job({ platforms: ['vm'] })),
      'BERTH_ERR_UNKNOWN_PLATFORM',
    ],
    [
      'an unknown workload',
      () => jobRequestCodec.encode(job({ workloads: ['cpu-sha256', 'bitcoin'] })),
      'BERTH_ERR_UNKNOWN_WORKLOAD',
    ],
  ])('rejects %s with the reason, and carries on', async (_, payload, code) => {
    const answer = await ask(payload());
    expect(answer.state).toBe('rejected');
    expect(answer.error?.code).toBe(code);
    expect(answer.error?.message.length).toBeGreaterThan(5);
    expect(agent.child.exitCode).toBeNull();
  });

  it('runs a job, reports progress to done, refuses a second one meanwhile, and stores the results', async () => {
    const progress: JobProgress[] = [];
    const subscription = stack.nc.subscribe(jobProgressSubject(hostId), {
      callback: (_, message) => {
        const decoded = jobProgressCodec.decode(message.data, 1 << 20);
        if (decoded.ok) progress.push(decoded.value);
      },
    });
    const request = job({ workloads: ['syscall-fstat', 'cpu-sha256'] });
    const accepted = await ask(jobRequestCodec.encode(request));
    expect(accepted).toMatchObject({ state: 'accepted', jobId: request.id });
    const busy = await ask(jobRequestCodec.encode(job({ id: 'job-second' })));
    expect(busy.error?.code).toBe('BERTH_ERR_AGENT_BUSY');

    await waitFor(
      'the job to be done',
      () => progress.some((p) => p.jobId === request.id && p.state === 'done'),
      90_000,
    );
    subscription.unsubscribe();
    const mine = progress.filter((p) => p.jobId === request.id);
    expect(mine.some((p) => p.state === 'running' && p.done > 0)).toBe(true);
    const done = mine.find((p) => p.state === 'done');
    expect(done?.done).toBe(done?.total);

    await waitFor('ingest to catch up', () => consumerIsIdle(stack.nc), 60_000);
    expect(
      await countStoredResults(stack.testStore.store, { runId: accepted.runId ?? '' }),
    ).toMatchObject({
      // The instance result and one per workload the job asked for.
      results: 3,
      duplicateRows: 0,
    });
  }, 120_000);

  it('stops cleanly on SIGTERM', async () => {
    agent.child.kill('SIGTERM');
    expect(await agent.exited(), agent.stderr()).toBe(0);
  });
});

describe('berth agent start with a Docker engine of its own', () => {
  let dir: string;
  let nats: Awaited<ReturnType<typeof startTestNats>>;

  beforeAll(async () => {
    dir = await tempDir('agent-daemon-docker');
    nats = await startTestNats();
  });

  afterAll(async () => {
    await cleanUp(
      () => nats.stop(),
      () => removeDir(dir),
    );
  });

  it('runs the engine it started for the inventory only while it finds the platforms', async () => {
    const agent = spawnBerth(['agent', 'start'], {
      NATS_URL: nats.url,
      BERTH_DATA_DIR: join(dir, 'agent'),
      BERTH_JOB_PLATFORMS: 'container:docker',
      BERTH_DOCKER_ENGINE: 'own',
    });
    await agent.waitForLine(/berth agent ready/, 90_000);
    expect(processesMatching(join(dir, 'agent', 'agent', 'docker'))).toEqual([]);
    agent.child.kill('SIGTERM');
    expect(await agent.exited(), agent.stderr()).toBe(0);
  }, 120_000);

  it('stopped while it checks the platforms, says so at once, ends the checks, and stops without a ready line', async () => {
    const dataDir = join(dir, 'stopped-early');
    const agent = spawnBerth(['agent', 'start'], {
      NATS_URL: nats.url,
      BERTH_DATA_DIR: dataDir,
      BERTH_JOB_PLATFORMS: 'container:docker',
      BERTH_DOCKER_ENGINE: 'own',
      BERTH_LOG_LEVEL: 'info',
    });
    await waitFor(
      'the Docker engine the platform checks start',
      () => processesMatching(join(dataDir, 'agent', 'docker')).length > 0,
      90_000,
      20,
    );
    agent.child.kill('SIGTERM');
    await waitFor('the stop to be acknowledged', () =>
      agent.stderr().includes('stopping once the platform checks under way end'),
    );
    expect(await agent.exited(), agent.stderr()).toBe(0);
    expect(agent.stdout()).not.toContain('berth agent ready');
    expect(processesMatching(join(dataDir, 'agent', 'docker'))).toEqual([]);
  }, 120_000);
});
