import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resultsSubject } from '../../contracts/index.ts';
import { connectNats } from '../../lib/nats/connect.ts';
import {
  DLQ_STREAM,
  ensureStreams,
  INGEST_CONSUMER,
  INVENTORY_STREAM,
  RESULTS_STREAM,
} from '../../lib/nats/streams.ts';
import {
  ensureClusterStreams,
  startNatsCluster,
  type NatsCluster,
} from '../../support/nats-cluster.ts';
import { spawnBerth } from '../../support/cli.ts';
import { cleanUp, removeDir, tempDir } from '../../support/servers.ts';
import { waitFor } from '../../support/wait.ts';

const STREAMS = [RESULTS_STREAM, DLQ_STREAM, INVENTORY_STREAM];

describe('Berth streams on a 3-node NATS cluster', () => {
  let dir: string;
  let cluster: NatsCluster;
  let nc: NatsConnection;

  /** Copies of each stream: its leader and the replicas that are current with it. */
  const copies = async (): Promise<number[]> => {
    const jsm = await jetstreamManager(nc, { timeout: 5000 });
    return Promise.all(
      STREAMS.map(async (name) => {
        const { cluster: placed } = await jsm.streams.info(name);
        if (placed?.leader === undefined) return 0;
        return 1 + (placed.replicas ?? []).filter((replica) => replica.current).length;
      }),
    );
  };

  /** Waits until every stream has `count` copies: a resized stream takes a moment to settle. */
  const settlesAt = async (count: number): Promise<void> => {
    let seen: number[] = [];
    await waitFor(
      `${count} copies of every stream`,
      async () => {
        seen = await copies();
        return seen.every((each) => each === count);
      },
      30_000,
      250,
    ).catch((error: unknown) => {
      throw new Error(`${String(error)}; last seen ${JSON.stringify(seen)}`);
    });
    // Settled means it stays so.
    expect(await copies()).toEqual(STREAMS.map(() => count));
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

  it('berth ingest --stream-replicas 3 puts every stream, made with 1, on all three nodes; an unset count keeps them there', async () => {
    // A service not told a count makes the streams with one copy.
    await ensureClusterStreams(nc);
    await settlesAt(1);

    const ingest = spawnBerth(['ingest', '--stream-replicas', '3'], {
      NATS_URL: cluster.url,
      BERTH_DATA_DIR: join(dir, 'ingest'),
      BERTH_METRICS_PORT: '0',
    });
    try {
      await ingest.waitForLine(/berth ingest ready/, 60_000);
      await settlesAt(3);
      await waitFor('3 current copies of the ingest consumer', async () => {
        const jsm = await jetstreamManager(nc, { timeout: 5000 });
        const { cluster: placed } = await jsm.consumers.info(RESULTS_STREAM, INGEST_CONSUMER);
        return (placed?.replicas ?? []).filter((replica) => replica.current).length === 2;
      });
    } finally {
      ingest.child.kill('SIGTERM');
      await ingest.exited();
    }

    // Ingest and the advisor not told a count must not shrink them.
    await ensureStreams(await jetstreamManager(nc, { timeout: 5000 }));
    await settlesAt(3);
  }, 120_000);

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
