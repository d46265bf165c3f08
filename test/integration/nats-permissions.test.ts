import { readFile } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { PermissionViolationError, RequestError, type NatsConnection } from '@nats-io/nats-core';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  JOB_PROGRESS_SUBJECTS,
  hostInventoryCodec,
  inventorySubject,
  jobProgressCodec,
  jobProgressSubject,
  jobRequestCodec,
  jobsSubject,
  resultBatchCodec,
  resultsSubject,
  type ResultBatch,
} from '../../contracts/index.ts';
import { loadConfig } from '../../lib/config.ts';
import { connectNats } from '../../lib/nats/connect.ts';
import { readDeadLetters } from '../../lib/nats/dead-letters.ts';
import type { DeadLetterList } from '../../contracts/advisor-api.ts';
import type { Role } from '../../lib/nats/fleet-config.ts';
import { DLQ_STREAM, RESULTS_STREAM } from '../../lib/nats/streams.ts';
import { sql } from '../../lib/storage/sql.ts';
import { startAdvisorService, type AdvisorService } from '../../services/advisor/main.ts';
import { startIngestService, type IngestService } from '../../services/ingest/main.ts';
import { ADVISOR_SETTINGS } from '../../cli/commands/advisor.ts';
import { INGEST_SETTINGS } from '../../cli/commands/ingest.ts';
import { inventoryOf } from '../../support/advisor.ts';
import { startFleetNats, type FleetNats } from '../../support/nats-fleet.ts';
import { makeResult } from '../../support/results.ts';
import { cleanUp, openTestStore, type TestStore } from '../../support/servers.ts';
import { waitFor } from '../../support/wait.ts';

const TOKEN = 'advisor-token-Zq81-never-logged';
const A = 'host-a';
const B = 'host-b';

/** Everything the services log, at trace level, as one string. */
function capturingLogger(): { logger: pino.Logger; text: () => string } {
  let text = '';
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  return { logger: pino({ level: 'trace' }, sink), text: () => text };
}

describe('a fleet on the nats-server configuration berth nats-config writes', () => {
  let nats: FleetNats;
  let testStore: TestStore;
  let ingestNc: NatsConnection;
  let advisorNc: NatsConnection;
  let agentA: NatsConnection;
  let admin: NatsConnection;
  let ingest: IngestService;
  let advisor: AdvisorService;
  const logs = capturingLogger();
  /** What beforeAll started, stopped again in reverse order. */
  const stops: (() => Promise<unknown>)[] = [];
  const seq = { next: 0 };
  /** The permissions violations the server reported to ingest and the advisor. */
  const violations: string[] = [];
  const watchViolations = async (nc: NatsConnection): Promise<void> => {
    for await (const status of nc.status()) {
      if (status.type === 'error' && status.error instanceof PermissionViolationError) {
        violations.push(status.error.message);
      }
    }
  };

  const signIn = (role: Role, name: string): Promise<NatsConnection> =>
    connectNats({ url: nats.url, name, nkeyFile: nats.seedFile(role) });

  const storedOf = async (hostId: string): Promise<number> => {
    const rows = await testStore.store.query<{ n: number | string }>(
      sql`SELECT count() AS n FROM (SELECT DISTINCT result_id FROM results WHERE host_id = ${hostId})`,
    );
    return Number(rows[0]?.n ?? 0);
  };

  const messagesIn = async (stream: string): Promise<number> =>
    (await (await jetstreamManager(admin)).streams.info(stream)).state.messages;

  /** Publishes a result of agent A as the agent does: its subject, the result id as message id. */
  const publishOwn = async (): Promise<ResultBatch> => {
    seq.next += 1;
    const batch = makeResult(seq.next, A);
    await jetstream(agentA).publish(resultsSubject(A), resultBatchCodec.encode(batch), {
      msgID: batch.id,
    });
    return batch;
  };

  beforeAll(async () => {
    nats = await startFleetNats([A, B]);
    stops.push(() => nats.stop());
    testStore = await openTestStore('chdb');
    stops.push(() => testStore.dispose());
    ingestNc = await signIn('ingest', 'berth-ingest');
    stops.push(() => ingestNc.drain());
    void watchViolations(ingestNc);
    ingest = await startIngestService(
      ingestNc,
      testStore.store,
      {
        ...loadConfig(INGEST_SETTINGS, {}, {}),
        natsUrl: nats.url,
        batchWaitMs: 50,
        encoderThreads: 0,
        metricsPort: 0,
      },
      logs.logger,
    );
    stops.push(() => ingest.stop());
    advisorNc = await signIn('advisor', 'berth-advisor');
    stops.push(() => advisorNc.drain());
    void watchViolations(advisorNc);
    advisor = await startAdvisorService(
      advisorNc,
      testStore.store,
      {
        ...loadConfig(ADVISOR_SETTINGS, {}, {}),
        natsUrl: nats.url,
        advisorPort: 0,
        advisorToken: TOKEN,
      },
      logs.logger,
    );
    stops.push(() => advisor.stop());
    agentA = await signIn(`agent-${A}`, `berth-agent-${A}`);
    stops.push(() => agentA.close());
    admin = await signIn('admin', 'berth-admin');
    stops.push(() => admin.close());
  });

  afterAll(async () => {
    await cleanUp(...[...stops].reverse());
  });

  it('agent A publishes its own results and ingest, on its own user, stores them', async () => {
    const batch = await publishOwn();
    await waitFor('the result of A to be stored', async () => (await storedOf(A)) >= 1);
    const rows = await testStore.store.query<{ id: string }>(
      sql`SELECT DISTINCT result_id AS id FROM results WHERE host_id = ${A}`,
    );
    expect(rows.map((row) => row.id)).toContain(batch.id);
  });

  it('agent A publishing on host B’s subjects is refused at once, and nothing of B is stored', async () => {
    const before = await messagesIn(RESULTS_STREAM);
    const forged = makeResult(1, B);
    const started = performance.now();
    const refusal = await jetstream(agentA)
      .publish(resultsSubject(B), resultBatchCodec.encode(forged), {
        msgID: forged.id,
        timeout: 5_000,
      })
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    // The server answers the publish with a permissions violation, which the client matches
    // to the request: a prompt error, not a timeout.
    expect(refusal).toBeInstanceOf(RequestError);
    expect((refusal as Error).message).toBe(
      `Permissions Violation for Publish to "${resultsSubject(B)}"`,
    );
    expect(performance.now() - started).toBeLessThan(2_000);
    await expect(
      jetstream(agentA).publish(inventorySubject(B), hostInventoryCodec.encode(inventoryOf(B)), {
        timeout: 5_000,
      }),
    ).rejects.toThrow(`Permissions Violation for Publish to "${inventorySubject(B)}"`);

    // A result of A's published after the refusal is stored: by then B's would have been too.
    const own = await publishOwn();
    await waitFor('A’s next result to be stored', async () => {
      const rows = await testStore.store.query<{ id: string }>(
        sql`SELECT DISTINCT result_id AS id FROM results WHERE host_id = ${A}`,
      );
      return rows.some((row) => row.id === own.id);
    });
    expect(await messagesIn(RESULTS_STREAM)).toBe(before + 1);
    expect(await storedOf(B)).toBe(0);
  });

  it('a result that claims host B on A’s own subject is dead-lettered, not stored', async () => {
    const before = await messagesIn(DLQ_STREAM);
    const claimed = { ...makeResult(99, B), id: 'r-claimed-b' };
    await jetstream(agentA).publish(resultsSubject(A), resultBatchCodec.encode(claimed), {
      msgID: claimed.id,
    });
    await waitFor('the dead letter', async () => (await messagesIn(DLQ_STREAM)) > before);
    const [letter] = (await readDeadLetters(admin, 1)).slice(-1);
    expect(letter?.code).toBe('BERTH_ERR_HOST_MISMATCH');
    expect(await storedOf(B)).toBe(0);
  });

  it('the advisor, on its own user, lists the dead letters', async () => {
    const response = await fetch(`${advisor.url}/v1/dead-letters?limit=1`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(response.status).toBe(200);
    const { deadLetters } = (await response.json()) as DeadLetterList;
    expect(deadLetters.map((entry) => entry.code)).toEqual(['BERTH_ERR_HOST_MISMATCH']);
  });

  it('agent A can neither read host B’s jobs, others’ replies nor the results stream, nor manage streams', async () => {
    for (const subject of [jobsSubject(B), 'berth.results.>', '_INBOX.>', '>']) {
      const subscription = agentA.subscribe(subject);
      const closedWith = await subscription.closed;
      expect(closedWith).toBeInstanceOf(PermissionViolationError);
      expect((closedWith as PermissionViolationError).subject).toBe(subject);
    }
    await expect(jetstream(agentA).consumers.get(RESULTS_STREAM)).rejects.toThrow(
      /Permissions Violation for Publish to "\$JS\.API\./,
    );
    await expect(jetstreamManager(agentA)).rejects.toThrow(
      'Permissions Violation for Publish to "$JS.API.INFO"',
    );
    await expect(
      agentA.request(`$JS.API.STREAM.DELETE.${RESULTS_STREAM}`, undefined, { timeout: 2_000 }),
    ).rejects.toThrow('Permissions Violation for Publish');
    expect(await messagesIn(RESULTS_STREAM)).toBeGreaterThan(0);
    expect(agentA.isClosed()).toBe(false);
  });

  it('the advisor, on its own user, reads the fleet and asks agent A for a run, which A answers', async () => {
    const jobs = agentA.subscribe(jobsSubject(A), {
      callback: (error, message) => {
        if (error !== null) return;
        const decoded = jobRequestCodec.decode(message.data, 64 * 1024);
        if (!decoded.ok) return;
        const progress = jobProgressCodec.encode({
          schemaVersion: 1,
          jobId: decoded.value.id,
          hostId: A,
          at: Date.now(),
          state: 'accepted',
          done: 0,
          total: 1,
        });
        agentA.publish(jobProgressSubject(A), progress);
        message.respond(progress);
      },
    });
    try {
      await jetstream(agentA).publish(
        inventorySubject(A),
        hostInventoryCodec.encode(inventoryOf(A)),
      );
      const headers = { authorization: `Bearer ${TOKEN}` };
      await waitFor('the advisor to know host A', async () => {
        const response = await fetch(`${advisor.url}/v1/hosts`, { headers });
        const body = (await response.json()) as { hosts: { hostId: string }[] };
        return body.hosts.some((host) => host.hostId === A);
      });
      const progressSeen = new Promise<string>((resolve) => {
        const watch = advisorNc.subscribe(JOB_PROGRESS_SUBJECTS, {
          callback: (error, message) => {
            if (error !== null) return;
            watch.unsubscribe();
            resolve(message.subject);
          },
        });
      });
      const response = await fetch(`${advisor.url}/v1/hosts/${A}/runs`, {
        method: 'POST',
        headers,
      });
      expect(response.status).toBe(200);
      expect(((await response.json()) as { state: string }).state).toBe('accepted');
      expect(await progressSeen).toBe(jobProgressSubject(A));
    } finally {
      jobs.unsubscribe();
    }
  });

  it('neither ingest nor the advisor met a permissions violation, and none can act as an agent', async () => {
    // A second worker finds the streams and the durable consumer there and updates it.
    const secondNc = await signIn('ingest', 'berth-ingest');
    void watchViolations(secondNc);
    const second = await startIngestService(
      secondNc,
      testStore.store,
      {
        ...loadConfig(INGEST_SETTINGS, {}, {}),
        natsUrl: nats.url,
        encoderThreads: 0,
        metricsPort: 0,
      },
      logs.logger,
    );
    await second.stop();
    await secondNc.drain();
    expect(violations).toEqual([]);
    for (const nc of [ingestNc, advisorNc]) {
      await expect(
        jetstream(nc).publish(resultsSubject(A), resultBatchCodec.encode(makeResult(1, A)), {
          timeout: 2_000,
        }),
      ).rejects.toThrow(`Permissions Violation for Publish to "${resultsSubject(A)}"`);
    }
    expect(violations).toHaveLength(2);
  });

  it('no token, seed or password reaches the logs', async () => {
    await fetch(`${advisor.url}/v1/hosts?token=${TOKEN}`);
    await fetch(`${advisor.url}/v1/hosts`, { headers: { authorization: `Bearer ${TOKEN}x` } });
    await fetch(`${advisor.url}/v1/hosts`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const seeds = await Promise.all(
      (['ingest', 'advisor', `agent-${A}`, 'admin'] as const).map(async (role) =>
        (await readFile(nats.seedFile(role), 'utf8')).trim(),
      ),
    );
    const written = logs.text();
    expect(written).toContain('ingest consuming');
    expect(written).not.toContain(TOKEN);
    const serverOutput = nats.process.recentOutput().join('\n');
    for (const seed of seeds) {
      expect(written).not.toContain(seed);
      expect(serverOutput).not.toContain(seed);
    }
  });
});
