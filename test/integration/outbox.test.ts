import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openOutbox } from '../../agents/host-agent/outbox.ts';
import { silentLogger } from '../../lib/logger.ts';
import { ensureStreams, RESULTS_STREAM } from '../../lib/nats/streams.ts';
import { startNatsServer, type NatsServer } from '../../lib/servers/nats-server.ts';
import { makeResult } from '../../support/results.ts';
import { cleanUp, removeDir, tempDir } from '../../support/servers.ts';

async function storedInStream(nc: NatsConnection): Promise<number> {
  const jsm = await jetstreamManager(nc);
  return (await jsm.streams.info(RESULTS_STREAM)).state.messages;
}

async function journalLines(path: string): Promise<string[]> {
  return (await readFile(path, 'utf8')).split('\n').filter((line) => line !== '');
}

describe('the agent outbox', () => {
  let dir: string;
  let nats: NatsServer;
  let nc: NatsConnection;

  beforeAll(async () => {
    dir = await tempDir('outbox');
    nats = await startNatsServer({ dataDir: join(dir, 'nats') });
    nc = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 200 });
    await ensureStreams(await jetstreamManager(nc));
  });

  afterAll(async () => {
    await cleanUp(
      () => nc.close(),
      () => nats.stop(),
      () => removeDir(dir),
    );
  });

  it('publishes every batch once and keeps nothing after the acks', async () => {
    const path = join(dir, 'one.jsonl');
    const outbox = await openOutbox(path, nc, silentLogger);
    for (let index = 0; index < 50; index += 1) await outbox.add(makeResult(index, 'host-o1'));
    await outbox.flush(10_000);
    expect(outbox.pending()).toBe(0);
    await outbox.close();
    expect(await storedInStream(nc)).toBe(50);

    const reopened = await openOutbox(path, nc, silentLogger);
    expect(reopened.pending()).toBe(0);
    await reopened.close();
    expect(await journalLines(path)).toEqual([]);
  });

  it('holds batches while NATS is down and sends them when it is back', async () => {
    const before = await storedInStream(nc);
    const outbox = await openOutbox(join(dir, 'two.jsonl'), nc, silentLogger);
    await nats.process.kill();
    for (let index = 0; index < 20; index += 1) await outbox.add(makeResult(index, 'host-o2'));
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(outbox.pending()).toBe(20);
    nats = await startNatsServer({ dataDir: join(dir, 'nats'), port: nats.port });
    await outbox.flush(30_000);
    await outbox.close();
    expect((await storedInStream(nc)) - before).toBe(20);
  });

  it('resends after a stop without acks, and JetStream keeps each result once', async () => {
    const path = join(dir, 'three.jsonl');
    const before = await storedInStream(nc);
    const batches = Array.from({ length: 10 }, (_, index) => makeResult(index, 'host-o3'));

    const first = await openOutbox(path, nc, silentLogger);
    for (const batch of batches.slice(0, 5)) await first.add(batch);
    await first.flush(10_000);
    await nats.process.kill();
    for (const batch of batches.slice(5)) await first.add(batch);
    await first.close();
    expect((await journalLines(path)).filter((line) => line.startsWith('{"add"'))).toHaveLength(10);

    nats = await startNatsServer({ dataDir: join(dir, 'nats'), port: nats.port });
    const second = await openOutbox(path, nc, silentLogger);
    expect(second.pending()).toBe(5);
    await second.add(batches[0] ?? makeResult(0, 'host-o3'));
    await second.flush(30_000);
    await second.close();
    expect((await storedInStream(nc)) - before).toBe(10);
  });
});
