import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Advice, AdviceQuestion } from '../../contracts/advice.ts';
import {
  jobProgressCodec,
  jobProgressSubject,
  jobRequestCodec,
  jobsSubject,
  type JobProgress,
  type ResultBatch,
} from '../../contracts/index.ts';
import { connectNats } from '../../lib/nats/connect.ts';
import { RESULTS_STREAM } from '../../lib/nats/streams.ts';
import {
  ensureClusterStreams,
  startNatsCluster,
  type NatsCluster,
} from '../../support/nats-cluster.ts';
import { openClickHouseStore } from '../../lib/storage/clickhouse-store.ts';
import { countStoredResults, dedupedResults } from '../../lib/storage/results.ts';
import { sql } from '../../lib/storage/sql.ts';
import type { Store } from '../../lib/storage/store.ts';
import { spawnBerth, startIngestWorker, type BerthProcess } from '../../support/cli.ts';
import { consumerIsIdle } from '../../support/ingest.ts';
import { alive, cgroupsOfRun, ociContainers, processesMatching } from '../../support/leftovers.ts';
import {
  cleanUp,
  removeDir,
  startTestClickHouse,
  tempDir,
  uniqueDatabase,
} from '../../support/servers.ts';
import { waitFor } from '../../support/wait.ts';

const AGENTS = 6;
const WORKLOADS = ['syscall-fstat', 'cpu-sha256'];
const TOKEN = 'scale-test-token';
const QUESTION: AdviceQuestion = {
  workload: 'scale-ci',
  os: { family: 'linux' },
  lifetimeSeconds: 120,
  instances: 50,
  trust: 'trusted',
  sensitivity: ['cpu'],
};

interface Agent {
  readonly process: BerthProcess;
  readonly dataDir: string;
  readonly hostId: string;
  runId?: string | undefined;
}

/** What an agent's outbox journal holds: every batch it produced, and which were acknowledged. */
async function readJournal(
  dataDir: string,
): Promise<{ added: Map<string, ResultBatch>; acked: Set<string> }> {
  const added = new Map<string, ResultBatch>();
  const acked = new Set<string>();
  const text = await readFile(join(dataDir, 'agent', 'outbox.jsonl'), 'utf8').catch(() => '');
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const entry = JSON.parse(line) as { add: ResultBatch } | { ack: string };
    if ('add' in entry) added.set(entry.add.id, entry.add);
    else acked.add(entry.ack);
  }
  return { added, acked };
}

/**
 * The whole fleet as separate processes on loopback: 3 clustered nats-servers (streams with 3
 * replicas), clickhouse-server, 2 ingest workers, 2 advisors and 6 agents, each with its own
 * data folder and so its own host id, running a short quick suite on process and container.
 * Mid-run one ingest worker is killed with SIGKILL and the results stream's leader node too.
 */
describe('scale: 3 NATS nodes, 2 ingest workers, 2 advisors, 6 agents', () => {
  let dir: string;
  let cluster: NatsCluster;
  let clickhouse: Awaited<ReturnType<typeof startTestClickHouse>>;
  let nc: NatsConnection;
  /** One connection to each of two nodes: whichever node dies, one of them hears progress. */
  const watchers: NatsConnection[] = [];
  let store: Store;
  const database = uniqueDatabase('scale');
  const ingest: BerthProcess[] = [];
  const advisors: { process: BerthProcess; url: string }[] = [];
  const agents: Agent[] = [];
  const progress: JobProgress[] = [];
  /** Every advisor and agent process, from the moment it is spawned. */
  const spawned: BerthProcess[] = [];

  beforeAll(async () => {
    dir = await tempDir('scale');
    cluster = await startNatsCluster({ dataDir: join(dir, 'nats') });
    clickhouse = await startTestClickHouse();
    // The test's own connection knows all three nodes, so it fails over like the services.
    nc = await connectNats({ url: cluster.url, name: 'scale-test' });
    await ensureClusterStreams(nc, { replicas: 3 });
    const natsEnv = { NATS_URL: cluster.url };
    const storeEnv = { CLICKHOUSE_URL: clickhouse.url, CLICKHOUSE_DATABASE: database };
    const workers = await Promise.all(
      [1, 2].map((index) =>
        startIngestWorker({
          natsUrl: cluster.url,
          clickhouseUrl: clickhouse.url,
          database,
          dataDir: join(dir, `ingest-${index}`),
          ackWaitMs: 2000,
        }),
      ),
    );
    ingest.push(...workers.map((started) => started.worker));
    for (const index of [1, 2]) {
      const advisor = spawnBerth(['advisor'], {
        ...natsEnv,
        ...storeEnv,
        BERTH_DATA_DIR: join(dir, `advisor-${index}`),
        BERTH_ADVISOR_PORT: '0',
        BERTH_ADVISOR_TOKEN: TOKEN,
      });
      spawned.push(advisor);
      advisors.push({ process: advisor, url: '' });
    }
    const readyAdvisors = await Promise.all(
      advisors.map(({ process }) => process.waitForLine(/advisor ready at/, 120_000)),
    );
    readyAdvisors.forEach((line, index) => {
      const entry = advisors[index];
      if (entry !== undefined) entry.url = /ready at (\S+)/.exec(line)?.[1] ?? '';
    });
    const started = Array.from({ length: AGENTS }, (_, index) => {
      const dataDir = join(dir, `agent-${index + 1}`);
      const agent = spawnBerth(['agent', 'start'], {
        ...natsEnv,
        BERTH_DATA_DIR: dataDir,
        BERTH_JOB_PLATFORMS: 'process,container:runc',
        // One round per job keeps six agents' jobs on two cores as short as one pass was.
        BERTH_ROUNDS: '1',
      });
      spawned.push(agent);
      return { dataDir, process: agent };
    });
    const ready = await Promise.all(
      started.map(({ process }) => process.waitForLine(/berth agent ready/, 240_000)),
    );
    ready.forEach((line, index) => {
      const { dataDir, process } = started[index] ?? {};
      if (dataDir === undefined || process === undefined) return;
      agents.push({ dataDir, process, hostId: /host (\S+),/.exec(line)?.[1] ?? '' });
    });
    store = await openClickHouseStore({ url: clickhouse.url, database });
  }, 420_000);

  afterAll(async () => {
    // Whatever still runs (a failed test's) is asked to stop, so agents tear down their
    // instances, then killed after a grace period.
    const everyone = [...spawned, ...ingest];
    const running = everyone.filter((child) => child.child.exitCode === null);
    for (const child of running) child.child.kill('SIGTERM');
    const grace = setTimeout(() => {
      for (const child of running) if (child.child.exitCode === null) child.child.kill('SIGKILL');
    }, 20_000);
    await Promise.all(running.map((child) => child.exited()));
    clearTimeout(grace);
    await cleanUp(
      ...watchers.map((watcher) => () => watcher.close()),
      () => nc.close(),
      () => store.close(),
      () => cluster.stop(),
      () => clickhouse.stop(),
      () => removeDir(dir),
    );
  }, 120_000);

  it('stores every result once through a worker and a NATS node lost mid-run; both advisors answer alike; nothing is left behind', async () => {
    expect(new Set(agents.map((agent) => agent.hostId)).size).toBe(AGENTS);
    for (const node of cluster.nodes.slice(0, 2)) {
      const watcher = await connectNats({ url: node.url, name: 'scale-test-progress' });
      watchers.push(watcher);
      for (const agent of agents) {
        watcher.subscribe(jobProgressSubject(agent.hostId), {
          callback: (_, message) => {
            const decoded = jobProgressCodec.decode(message.data, 1 << 20);
            if (decoded.ok) progress.push(decoded.value);
          },
        });
      }
      await watcher.flush();
    }
    const finished = (agent: Agent): JobProgress | undefined =>
      progress.find(
        (p) =>
          p.hostId === agent.hostId &&
          p.runId === agent.runId &&
          (p.state === 'done' || p.state === 'failed'),
      );

    // One short job on each agent, all at once.
    await Promise.all(
      agents.map(async (agent, index) => {
        const request = jobRequestCodec.encode({
          schemaVersion: 1,
          id: `scale-job-${index + 1}`,
          hostId: agent.hostId,
          requestedAt: Date.now(),
          requestedBy: 'scale-test',
          suite: 'quick',
          platforms: ['process', 'container'],
          workloads: WORKLOADS,
        });
        const reply = await nc.request(jobsSubject(agent.hostId), request, { timeout: 30_000 });
        const answer = jobProgressCodec.decode(reply.data, 1 << 20);
        expect(answer.ok && answer.value.state).toBe('accepted');
        agent.runId = answer.ok ? answer.value.runId : undefined;
      }),
    );

    // Mid-run: as soon as results are being stored, one ingest worker dies (SIGKILL) and so
    // does the NATS node that leads the results stream.
    await waitFor(
      'the first results to be stored',
      async () => (await countStoredResults(store)).results > 0,
      240_000,
      200,
    );
    const doneAtKill = agents.filter((agent) => finished(agent) !== undefined).length;
    const victim = ingest[0];
    victim?.child.kill('SIGKILL');
    expect(await victim?.exited()).toBe('SIGKILL');
    const jsm = await jetstreamManager(nc, { timeout: 5000 });
    const leader = (await jsm.streams.info(RESULTS_STREAM)).cluster?.leader;
    const node = cluster.nodes.find((_, index) => `nats-${index + 1}` === leader);
    expect(node).toBeDefined();
    await node?.process.kill();
    expect(doneAtKill).toBeLessThan(AGENTS);

    await waitFor(
      "every agent's job to end",
      () => agents.every((agent) => finished(agent) !== undefined),
      360_000,
      500,
    );
    for (const agent of agents) {
      const last = finished(agent);
      expect(last?.state, `${agent.hostId}: ${last?.message ?? ''}`).toBe('done');
      expect(last?.done).toBe(last?.total);
    }
    // Every batch an agent journaled has been acknowledged by JetStream …
    const journals = await Promise.all(agents.map((agent) => readJournal(agent.dataDir)));
    await waitFor(
      "every agent's outbox to be acknowledged",
      async () => {
        const now = await Promise.all(agents.map((agent) => readJournal(agent.dataDir)));
        journals.splice(0, journals.length, ...now);
        return now.every(({ added, acked }) => [...added.keys()].every((id) => acked.has(id)));
      },
      120_000,
      500,
    );
    // … and the surviving worker has stored and acknowledged every message.
    await waitFor('ingest to catch up', () => consumerIsIdle(nc), 120_000, 500);

    const published = new Map<string, ResultBatch>();
    journals.forEach(({ added }, index) => {
      // Each agent produced results of its own run: the instance result and one per
      // workload, on each of the two platforms.
      expect(added.size, agents[index]?.hostId).toBe(2 * (1 + WORKLOADS.length));
      for (const [id, batch] of added) published.set(id, batch);
    });
    const stored = await store.query<{ result_id: string }>(
      sql`SELECT DISTINCT result_id FROM (${dedupedResults({})})`,
    );
    expect(stored.map((row) => row.result_id).sort()).toEqual([...published.keys()].sort());
    const rows = [...published.values()].reduce((sum, batch) => sum + batch.metrics.length, 0);
    expect(await countStoredResults(store)).toEqual({
      results: published.size,
      rows,
      duplicateRows: 0,
    });
    const info = await (await jetstreamManager(nc, { timeout: 5000 })).streams.info(RESULTS_STREAM);
    expect(info.state.messages).toBe(published.size);

    // The agents stop cleanly, so no advisor's request for a fresh run starts another job
    // between the two answers.
    for (const agent of agents) agent.process.child.kill('SIGTERM');
    for (const agent of agents) {
      expect(await agent.process.exited(), agent.process.stderr()).toBe(0);
    }

    const ask = async (url: string): Promise<Advice> => {
      const response = await fetch(`${url}/v1/advice`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
        body: JSON.stringify(QUESTION),
      });
      expect(response.status).toBe(200);
      return (await response.json()) as Advice;
    };
    const substance = (advice: Advice): unknown => ({
      options: advice.options,
      ruledOut: advice.ruledOut,
      confidence: advice.confidence,
      hosts: advice.hosts,
    });
    const measuredHosts = (advice: Advice): Set<string> =>
      new Set(
        advice.options.flatMap((option) =>
          option.evidence
            .filter((evidence) => evidence.source === 'measured')
            .flatMap((evidence) => evidence.hosts),
        ),
      );
    // Each advisor reads the store when ingest's stored notices arrive (or at its next poll):
    // both are asked, at once, until both rest on every agent's results and agree.
    let answers: Advice[] = [];
    await waitFor(
      'both advisors to answer alike from every host',
      async () => {
        answers = await Promise.all(advisors.map((advisor) => ask(advisor.url)));
        const [one, other] = answers.map((advice) => JSON.stringify(substance(advice)));
        return answers.every((advice) => measuredHosts(advice).size === AGENTS) && one === other;
      },
      60_000,
      1000,
    );
    const [first, second] = answers;
    expect(first?.id).not.toBe(second?.id);
    expect(first?.options.length).toBeGreaterThan(0);
    expect(substance(first as Advice)).toEqual(substance(second as Advice));

    // The rest stop cleanly too; nothing of the agents' runs is left.
    const rest = [...ingest.slice(1), ...advisors.map((advisor) => advisor.process)];
    for (const child of rest) child.child.kill('SIGTERM');
    for (const child of rest) expect(await child.exited(), child.stderr()).toBe(0);
    for (const agent of agents) {
      const runId = agent.runId ?? '';
      expect(runId).not.toBe('');
      expect(ociContainers('runc', runId)).toEqual([]);
      expect(cgroupsOfRun(runId)).toEqual([]);
    }
    expect(alive(processesMatching(`${dir}/agent-`).map(Number))).toEqual([]);
  }, 900_000);
});
