import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import { startChildServer } from '../../lib/servers/child-server.ts';
import { openClickHouseStore } from '../../lib/storage/clickhouse-store.ts';
import { freePort } from '../../lib/servers/free-port.ts';
import {
  removeDir,
  startTestClickHouse,
  startTestNats,
  tempDir,
  cleanUp,
} from '../helpers/servers.ts';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('servers Berth starts', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await tempDir('servers');
  });

  afterAll(async () => {
    await cleanUp(() => removeDir(dir));
  });

  it('nats-server comes up with JetStream on a free port and is gone after stop()', async () => {
    const nats = await startTestNats();
    const nc = await connect({ servers: nats.url });
    expect(nc.info?.jetstream).toBe(true);
    await nc.close();
    await nats.stop();
    expect(alive(nats.process.pid)).toBe(false);
  });

  it('clickhouse-server 18.16 comes up on loopback and answers /ping', async () => {
    const clickhouse = await startTestClickHouse();
    const response = await fetch(`${clickhouse.url}/ping`);
    expect(await response.text()).toBe('Ok.\n');
    const version = await (await fetch(`${clickhouse.url}/?query=SELECT%20version()`)).text();
    expect(version.trim()).toMatch(/^18\.16\./);
    await clickhouse.stop();
    expect(alive(clickhouse.process.pid)).toBe(false);
  });

  it('a program that is not installed is named, with how to install it', async () => {
    await expect(
      startChildServer({
        name: 'ghost',
        command: 'berth-no-such-program',
        args: [],
        readyWhen: () => undefined,
      }),
    ).rejects.toThrow(/the program berth-no-such-program is not installed \(run: npm run setup\)/);
  });

  it('a server that exits before it is ready is reported with its last output', async () => {
    await expect(
      startChildServer({
        name: 'quitter',
        command: 'sh',
        args: ['-c', 'echo "cannot bind: port taken"; exit 3'],
        readyWhen: () => undefined,
      }),
    ).rejects.toThrow(/quitter exited before it was ready \(code 3\)[\s\S]*port taken/);
  });

  it('a server that never says it is ready is stopped after the timeout', async () => {
    const marker = `berth-sleeper-${process.pid}`;
    await expect(
      startChildServer({
        name: 'sleeper',
        command: 'sh',
        args: ['-c', `exec -a ${marker} sleep 30`],
        readyWhen: () => undefined,
        startTimeoutMs: 300,
      }),
    ).rejects.toMatchObject({ code: 'BERTH_ERR_SERVER_START' });
    let left = '';
    try {
      left = execFileSync('pgrep', ['-f', marker], { encoding: 'utf8' });
    } catch {
      left = '';
    }
    expect(left).toBe('');
  });

  it('an unreachable ClickHouse is named by URL, without its credentials', async () => {
    const port = await freePort();
    await expect(
      openClickHouseStore({ url: `http://berth:hunter2@127.0.0.1:${port}`, database: 'x' }),
    ).rejects.toThrow(`ClickHouse at http://127.0.0.1:${port} did not answer`);
    const error: unknown = await openClickHouseStore({
      url: `http://berth:hunter2@127.0.0.1:${port}`,
      database: 'x',
    }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'BERTH_ERR_STORE_UNREACHABLE' });
    expect((error as Error).message).not.toContain('hunter2');
  });
});
