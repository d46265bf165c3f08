import { jetstream } from '@nats-io/jetstream';
import type { Msg } from '@nats-io/nats-core';
import { describe, expect, it } from 'vitest';
import type { Advice } from '../../contracts/advice.ts';
import type {
  AdviceList,
  DeadLetterList,
  PublishedFigures,
  RequestedRun,
  ResultValues,
} from '../../contracts/advisor-api.ts';
import {
  deadLetterCodec,
  DLQ_SUBJECT,
  heartbeatCodec,
  inventorySubject,
  jobProgressCodec,
  jobProgressSubject,
  jobRequestCodec,
  jobsSubject,
  type JobProgress,
  type JobRequest,
} from '../../contracts/index.ts';
import { CONTAINER, HOUR_MS, PROCESS } from '../../support/advice-fixtures.ts';
import {
  fakeDeadLetter,
  goodQuestion,
  openTestSocket,
  platformResults,
  seedInventory,
  seedMeasuredHost,
  seedResults,
  type Frame,
} from '../../support/advisor.ts';
import { advisorStackForBlock } from '../../support/hooks.ts';
import { waitFor } from '../../support/wait.ts';

/** The time the first results were taken: an hour ago, so the second ones are newer. */
const FIRST_TAKEN_AT = Date.now() - HOUR_MS;

const running = advisorStackForBlock({}, async (stack) => {
  await seedMeasuredHost(stack, 'host-a', [PROCESS, CONTAINER], FIRST_TAKEN_AT);
  await seedResults(stack, platformResults('host-a', PROCESS));
});

interface ErrorReply {
  error: { code: string; field?: string; message: string };
}

const get = (path: string): Promise<Response> => fetch(`${running().url}${path}`);

/**
 * Plays a host's agent: answers each job request with `answer`, then publishes `running` and
 * `done` on berth.progress.<hostId> as the real agent does.
 */
function fakeAgent(
  hostId: string,
  answer: 'accepted' | 'rejected',
): { requests: JobRequest[]; stop(): void } {
  const { nc } = running().ingest;
  const requests: JobRequest[] = [];
  const progress = (job: JobRequest, state: JobProgress['state'], done: number): JobProgress => ({
    schemaVersion: 1,
    jobId: job.id,
    hostId,
    runId: `run-${job.id}`,
    at: Date.now(),
    state,
    done,
    total: 2,
    ...(state === 'rejected'
      ? { error: { code: 'BERTH_ERR_AGENT_BUSY', message: 'the agent is already running a job' } }
      : {}),
  });
  const subscription = nc.subscribe(jobsSubject(hostId), {
    callback: (error, message: Msg) => {
      if (error !== null) return;
      const decoded = jobRequestCodec.decode(message.data, 1 << 20);
      if (!decoded.ok) return;
      const job = decoded.value;
      requests.push(job);
      message.respond(jobProgressCodec.encode(progress(job, answer, 0)));
      if (answer === 'rejected') return;
      for (const [state, done] of [
        ['running', 1],
        ['done', 2],
      ] as const) {
        nc.publish(jobProgressSubject(hostId), jobProgressCodec.encode(progress(job, state, done)));
      }
    },
  });
  return {
    requests,
    stop: () => {
      subscription.unsubscribe();
    },
  };
}

const jobFrameOf =
  (jobId: string, state: string) =>
  (frame: Frame): boolean => {
    const progress = frame['progress'] as JobProgress | undefined;
    return frame.type === 'job' && progress?.jobId === jobId && progress.state === state;
  };

describe('run now and job progress', () => {
  it('sends the job to the agent, answers with its id and relays the progress as frames', async () => {
    await seedInventory(running(), 'host-run');
    const agent = fakeAgent('host-run', 'accepted');
    const client = await openTestSocket(`${running().wsUrl}/v1/ws`);
    try {
      client.send({ type: 'subscribe', topics: ['jobs'] });
      // Frames are taken in order: once this is answered, the subscription is in place.
      client.send({ type: 'ask', id: 'sync', question: goodQuestion({ hosts: ['host-a'] }) });
      await client.next((frame) => frame['id'] === 'sync');

      // Progress that breaks the contract, or names another host than its subject, is dropped.
      running().ingest.nc.publish(jobProgressSubject('host-run'), '{"schemaVersion":1}');
      running().ingest.nc.publish(
        jobProgressSubject('host-run'),
        jobProgressCodec.encode({
          schemaVersion: 1,
          jobId: 'job-elsewhere',
          hostId: 'host-other',
          at: Date.now(),
          state: 'running',
          done: 0,
          total: 1,
        }),
      );

      const response = await fetch(`${running().url}/v1/hosts/host-run/runs`, { method: 'POST' });
      expect(response.status).toBe(200);
      const run = (await response.json()) as RequestedRun;
      expect(run).toMatchObject({
        hostId: 'host-run',
        state: 'accepted',
        requestedBy: 'advisor-api',
      });
      expect(agent.requests).toHaveLength(1);
      expect(agent.requests[0]).toMatchObject({
        id: run.jobId,
        hostId: 'host-run',
        suite: 'quick',
      });

      const runningFrame = await client.next(jobFrameOf(run.jobId, 'running'));
      expect(runningFrame['progress']).toMatchObject({ hostId: 'host-run', done: 1, total: 2 });
      await client.next(jobFrameOf(run.jobId, 'done'));
      expect(client.pending().filter((frame) => frame.type === 'job')).toEqual([]);
      expect(running().advisor.requestedRuns()).toContainEqual(run);
    } finally {
      agent.stop();
      await client.close();
    }
  });

  it('says when the agent rejects the job or no agent answers', async () => {
    await seedInventory(running(), 'host-busy');
    const agent = fakeAgent('host-busy', 'rejected');
    try {
      const rejected = await fetch(`${running().url}/v1/hosts/host-busy/runs`, { method: 'POST' });
      expect(await rejected.json()).toMatchObject({
        hostId: 'host-busy',
        state: 'rejected',
        detail: 'the agent is already running a job',
      });
    } finally {
      agent.stop();
    }
    // host-a has an inventory but no agent listening.
    const unanswered = await fetch(`${running().url}/v1/hosts/host-a/runs`, { method: 'POST' });
    expect(await unanswered.json()).toMatchObject({ hostId: 'host-a', state: 'unanswered' });
  });

  it('refuses a host it does not know with 404, naming it', async () => {
    const response = await fetch(`${running().url}/v1/hosts/host-nowhere/runs`, {
      method: 'POST',
    });
    expect(response.status).toBe(404);
    const body = (await response.json()) as ErrorReply;
    expect(body.error).toMatchObject({ code: 'BERTH_ERR_NOT_FOUND', field: 'hostId' });
    expect(body.error.message).toContain('"host-nowhere"');
  });

  it("shows each host's last run, kept after the run ends", async () => {
    const js = jetstream(running().ingest.nc);
    const beat = (busy: boolean): Uint8Array =>
      heartbeatCodec.encode({
        schemaVersion: 1,
        type: 'heartbeat',
        hostId: 'host-run',
        sentAt: Date.now(),
        uptimeSeconds: 10,
        busy,
        ...(busy ? { runId: 'run-last' } : {}),
      });
    await js.publish(inventorySubject('host-run'), beat(true));
    await waitFor('the fleet to see the run', () =>
      running()
        .fleet.hosts()
        .some((host) => host.hostId === 'host-run' && host.busy),
    );
    await js.publish(inventorySubject('host-run'), beat(false));
    await waitFor('the fleet to see the run end', () =>
      running()
        .fleet.hosts()
        .some((host) => host.hostId === 'host-run' && !host.busy),
    );
    const { hosts } = (await (await get('/v1/hosts')).json()) as {
      hosts: Record<string, unknown>[];
    };
    const host = hosts.find((each) => each['hostId'] === 'host-run');
    expect(host?.['runId']).toBeUndefined();
    expect(host?.['lastRun']).toMatchObject({ runId: 'run-last' });
  });

  it('takes the jobs topic and names the topics it has', async () => {
    const client = await openTestSocket(`${running().wsUrl}/v1/ws`);
    try {
      client.send({ type: 'subscribe', topics: ['results', 'fleet', 'jobs'] });
      client.send({ type: 'subscribe', topics: ['weather'] });
      const error = await client.next((frame) => frame.type === 'error');
      expect(error).toMatchObject({
        code: 'BERTH_ERR_FRAME',
        field: 'topics[0]',
        message: 'must be one of results, fleet, jobs',
      });
      expect(client.pending()).toEqual([]);
    } finally {
      await client.close();
    }
  });
});

describe('history', () => {
  const list = async (query: string): Promise<AdviceList['answers']> => {
    const response = await get(`/v1/advice${query}`);
    expect(response.status).toBe(200);
    return ((await response.json()) as AdviceList).answers;
  };

  it('lists past answers newest first, by limit and before, written or not', async () => {
    const asked: Advice[] = [];
    for (const workload of ['history-1', 'history-2', 'history-3']) {
      const response = await fetch(`${running().url}/v1/advice`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(goodQuestion({ workload })),
      });
      asked.push((await response.json()) as Advice);
      // Answers in different milliseconds, so newest-first is the order they were asked in.
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const [first, second, third] = asked;
    if (first === undefined || second === undefined || third === undefined) throw new Error();

    const newest = await list('?limit=2');
    expect(newest.map((answer) => answer.id)).toEqual([third.id, second.id]);
    expect(newest[0]).toEqual({
      id: third.id,
      answeredAt: third.answeredAt,
      workload: 'history-3',
      topPlacement: third.options[0]?.placement ?? '',
      confidence: third.confidence.value,
    });

    await running().audit.flush();
    expect((await list('?limit=2')).map((answer) => answer.id)).toEqual([third.id, second.id]);
    const older = await list(`?limit=2&before=${third.answeredAt}`);
    expect(older.map((answer) => answer.id)).toEqual([second.id, first.id]);
    expect((await list('')).map((answer) => answer.id)).toEqual(
      expect.arrayContaining(asked.map((advice) => advice.id)),
    );

    const reopened = await get(`/v1/advice/${first.id}`);
    expect(((await reopened.json()) as Advice).options).toEqual(first.options);
  });

  it('refuses bad parameters, naming each', async () => {
    for (const [query, field] of [
      ['limit=0', 'limit'],
      ['limit=501', 'limit'],
      ['limit=ten', 'limit'],
      ['limit=1&limit=2', 'limit'],
      ['before=-1', 'before'],
      ['before=1e12', 'before'],
      ["before=1'%20OR%201=1", 'before'],
      ['colour=red', 'colour'],
    ] as const) {
      const response = await get(`/v1/advice?${query}`);
      expect(response.status, query).toBe(400);
      expect(((await response.json()) as ErrorReply).error).toMatchObject({
        code: 'BERTH_ERR_PARAMETER',
        field,
      });
    }
  });
});

describe('result values', () => {
  const values = async (query: string): Promise<ResultValues> => {
    const response = await get(`/v1/results/values?${query}`);
    expect(response.status, query).toBe(200);
    return (await response.json()) as ResultValues;
  };

  it('gives the value of each result per series, newest first, within the limit', async () => {
    const all = await values('workload=cpu-sha256');
    expect(all.truncated).toBe(false);
    const process = all.series.find((series) => series.platform === 'process');
    const container = all.series.find((series) => series.platform === 'container');
    expect(process).toMatchObject({
      hostId: 'host-a',
      runtime: PROCESS.runtime,
      accel: PROCESS.accel,
      workload: 'cpu-sha256',
      metric: 'throughput',
      unit: 'op/s',
    });
    expect(process?.values).toHaveLength(2);
    const [newer, older] = process?.values ?? [];
    expect(newer?.takenAt).toBeGreaterThan(older?.takenAt ?? Infinity);
    expect(older?.takenAt).toBe(FIRST_TAKEN_AT);
    expect(container?.values).toHaveLength(1);

    const newest = await values('workload=cpu-sha256&limit=1&platform=process&host=host-a');
    expect(newest.series).toHaveLength(1);
    expect(newest.series[0]?.values).toEqual([newer]);

    const instance = await values('workload=instance&metric=startup');
    expect(new Set(instance.series.map((series) => series.metric))).toEqual(new Set(['startup']));
    expect(instance.series.map((series) => series.platform).sort()).toEqual([
      'container',
      'process',
    ]);
    expect((await values('workload=cpu-sha256&host=host-nowhere')).series).toEqual([]);
  });

  it('refuses bad parameters, naming each', async () => {
    for (const [query, field] of [
      ['', 'workload'],
      ['metric=throughput', 'workload'],
      ['workload=cpu%20sha', 'workload'],
      ["workload=x'%20OR%201=1", 'workload'],
      ['workload=cpu-sha256&metric=a.b', 'metric'],
      ['workload=cpu-sha256&host=a&host=b', 'host'],
      ['workload=cpu-sha256&limit=0', 'limit'],
      ['workload=cpu-sha256&limit=1001', 'limit'],
      ['workload=cpu-sha256&runtime=runc', 'runtime'],
    ] as const) {
      const response = await get(`/v1/results/values?${query}`);
      expect(response.status, query).toBe(400);
      expect(((await response.json()) as ErrorReply).error).toMatchObject({
        code: 'BERTH_ERR_PARAMETER',
        field,
      });
    }
  });
});

describe('dead letters', () => {
  it('gives the newest from the stream, oldest first, as many as the limit says', async () => {
    const js = jetstream(running().ingest.nc);
    for (const n of [1, 2, 3]) {
      await js.publish(
        DLQ_SUBJECT,
        deadLetterCodec.encode({ ...fakeDeadLetter(n), reason: `dead letter ${n}` }),
      );
    }
    const reasons = async (query: string): Promise<string[]> => {
      const response = await get(`/v1/dead-letters${query}`);
      expect(response.status, query).toBe(200);
      return ((await response.json()) as DeadLetterList).deadLetters.map((entry) => entry.reason);
    };
    expect(await reasons('?limit=2')).toEqual(['dead letter 2', 'dead letter 3']);
    expect(await reasons('')).toEqual(['dead letter 1', 'dead letter 2', 'dead letter 3']);
  });
});

describe('published figures and the OpenAPI document', () => {
  it('lists the published figures with their sources', async () => {
    const response = await get('/v1/published');
    expect(response.status).toBe(200);
    const published = (await response.json()) as PublishedFigures;
    const ids = new Set(published.sources.map((source) => source.id));
    expect(published.sources).toContainEqual(
      expect.objectContaining({ id: 'firecracker2020', short: 'Firecracker, NSDI 2020' }),
    );
    expect(published.figures).toContainEqual(
      expect.objectContaining({
        source: 'firecracker2020',
        metric: 'startup',
        value: 125,
        unit: 'ms',
        standsInFor: ['vm'],
      }),
    );
    for (const figure of published.figures) expect(ids).toContain(figure.source);
  });

  it('describes the new endpoints and frames', async () => {
    const openApi = (await (await get('/openapi.json')).json()) as {
      paths: Record<string, Record<string, unknown>>;
      components: { schemas: Record<string, unknown> };
    };
    expect(Object.keys(openApi.paths['/v1/advice'] ?? {}).sort()).toEqual(['get', 'post']);
    for (const path of ['/v1/hosts/{hostId}/runs', '/v1/results/values', '/v1/published', '/']) {
      expect(openApi.paths, path).toHaveProperty([path]);
    }
    for (const schema of ['AdviceList', 'RequestedRun', 'ResultValues', 'PublishedFigures']) {
      expect(openApi.components.schemas, schema).toHaveProperty([schema]);
    }
    expect(JSON.stringify(openApi.components.schemas['ServerFrame'])).toContain('"job"');
  });
});
