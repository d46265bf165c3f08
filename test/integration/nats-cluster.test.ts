import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resultsSubject } from '../../contracts/index.ts';
import { connectNats } from '../../lib/nats/connect.ts';
import {
  DLQ_STREAM,
  ensureStreams,
  INVENTORY_STREAM,
  RESULTS_STREAM,
} from '../../lib/nats/streams.ts';
import { startNatsCluster, type NatsCluster } from '../../lib/servers/nats-cluster.ts';
import { cleanUp, removeDir, tempDir } from '../helpers/servers.ts';
import { waitFor } from '../helpers/wait.ts';

const STREAMS = [RESULTS_STREAM, DLQ_STREAM, INVENTORY_STREAM];

describe('Berth streams on a 3-node NATS cluster', () => {
  let dir: string;
  let cluster: NatsCluster;
  let nc: NatsConnection;

  /** Copies of each stream: its leader and the replicas it names. */
  const copies = async (): Promise<number[]> => {
    const jsm = await jetstreamManager(nc, { timeout: 5000 });
    return Promise.all(
      STREAMS.map(
        async (name) => 1 + ((await jsm.streams.info(name)).cluster?.replicas?.length ?? 0),
      ),
    );
  };

  beforeAll(async () => {
    dir = await tempDir('nats-cluster');
    cluster = await startNatsCluster({ dataDir: dir });
    // All three URLs, as services are given them, so the client fails over.
    nc = await connectNats({ url: cluster.url, name: 'cluster-test' });
  }, 60_000);

  afterAll(async () => {
    await cleanUp(
      () => nc.close(),
      () => cluster.stop(),
      () => removeDir(dir),
    );
  });

  it('ensureStreams({ replicas: 3 }) puts every stream on all three nodes; an unset count keeps them there', async () => {
    // Until the nodes have elected a JetStream leader, its API does not answer.
    await waitFor(
      'the streams to be made with 3 replicas',
      async () => {
        try {
          await ensureStreams(await jetstreamManager(nc, { timeout: 5000 }), { replicas: 3 });
          return true;
        } catch {
          return false;
        }
      },
      60_000,
      500,
    );
    expect(await copies()).toEqual([3, 3, 3]);
    // Ingest and the advisor call ensureStreams without a count: they must not shrink them.
    await ensureStreams(await jetstreamManager(nc, { timeout: 5000 }));
    expect(await copies()).toEqual([3, 3, 3]);
  }, 90_000);

  it('the results stream takes and keeps messages with its leader node stopped', async () => {
    const js = jetstream(nc, { timeout: 5000 });
    await js.publish(resultsSubject('host-c'), 'before', { msgID: 'before' });
    const jsm = await jetstreamManager(nc, { timeout: 5000 });
    const leader = (await jsm.streams.info(RESULTS_STREAM)).cluster?.leader;
    const victim = cluster.nodes.find((_, index) => `nats-${index + 1}` === leader);
    expect(victim).toBeDefined();
    await victim?.stop();
    let published = false;
    await waitFor(
      'a publish after the leader stopped',
      async () => {
        try {
          await js.publish(resultsSubject('host-c'), 'after', { msgID: 'after' });
          published = true;
          return true;
        } catch {
          return false;
        }
      },
      60_000,
      500,
    );
    expect(published).toBe(true);
    const info = await (await jetstreamManager(nc, { timeout: 5000 })).streams.info(RESULTS_STREAM);
    expect(info.state.messages).toBe(2);
    expect(info.cluster?.leader).not.toBe(leader);
  }, 90_000);
});
