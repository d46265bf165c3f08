import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import { BerthError } from '../../contracts/index.ts';
import { startChildServer } from '../../lib/servers/child-server.ts';
import { freePort } from '../../support/free-port.ts';
import { startNatsServer } from '../../lib/servers/nats-server.ts';
import { openClickHouseStore, redactUrl } from '../../lib/storage/clickhouse-store.ts';
import {
  cleanUp,
  removeDir,
  startTestClickHouse,
  startTestNats,
  tempDir,
} from '../../support/servers.ts';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Processes whose command line contains marker (read-only: pgrep, never pkill). */
function processesMatching(marker: string): string {
  try {
    return execFileSync('pgrep', ['-f', marker], { encoding: 'utf8' }).trim();
  } catch {
    // pgrep exits 1 when nothing matches.
    return '';
  }
}

async function rejectionOf(promise: Promise<unknown>): Promise<BerthError> {
  const error: unknown = await promise.then(
    () => new Error('expected a rejection'),
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(BerthError);
  return error as BerthError;
}

describe('servers Berth starts', () => {
  let dir: string | undefined;
  const stops: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    dir = await tempDir('servers');
  });

  afterAll(async () => {
    // Servers a failed test left running, then the folder.
    await cleanUp(...stops, () => (dir === undefined ? undefined : removeDir(dir)));
  });

  it('nats-server comes up with JetStream on a port it picks and is gone after stop()', async () => {
    const nats = await startTestNats();
    stops.push(() => nats.stop());
    expect(nats.url).toBe(`nats://127.0.0.1:${nats.port}`);
    expect(nats.port).toBeGreaterThan(0);
    const nc = await connect({ servers: nats.url });
    expect(nc.info?.jetstream).toBe(true);
    await nc.close();
    expect(nats.process.running()).toBe(true);
    await nats.stop();
    expect(nats.process.running()).toBe(false);
    expect(alive(nats.process.pid)).toBe(false);
  });

  it('nats-server listens on the free port it is given', async () => {
    if (dir === undefined) throw new Error('no temporary folder');
    const port = await freePort();
    const nats = await startNatsServer({ dataDir: `${dir}/nats-fixed`, port });
    stops.push(() => nats.stop());
    expect(nats.port).toBe(port);
    expect(nats.url).toBe(`nats://127.0.0.1:${port}`);
    const nc = await connect({ servers: nats.url });
    expect(nc.getServer()).toContain(String(port));
    await nc.close();
    await nats.stop();
    expect(alive(nats.process.pid)).toBe(false);
  });

  it('clickhouse-server 18.16 comes up on loopback, answers /ping and is gone after stop()', async () => {
    const clickhouse = await startTestClickHouse();
    stops.push(() => clickhouse.stop());
    expect(clickhouse.url).toBe(`http://127.0.0.1:${clickhouse.httpPort}`);
    const response = await fetch(`${clickhouse.url}/ping`);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('Ok.\n');
    const version = await (await fetch(`${clickhouse.url}/?query=SELECT%20version()`)).text();
    expect(version.trim()).toMatch(/^18\.16\./);
    await clickhouse.stop();
    expect(clickhouse.process.running()).toBe(false);
    expect(alive(clickhouse.process.pid)).toBe(false);
    await expect(fetch(`${clickhouse.url}/ping`)).rejects.toThrow();
  });

  it('a program that is not installed gives BERTH_ERR_MISSING_PROGRAM, naming it', async () => {
    const error = await rejectionOf(
      startChildServer({
        name: 'ghost',
        command: 'berth-no-such-program',
        args: [],
        readyWhen: () => 'ready',
      }),
    );
    expect(error.code).toBe('BERTH_ERR_MISSING_PROGRAM');
    expect(error.message).toBe(
      'ghost: the program berth-no-such-program is not installed (run: npm run setup)',
    );
  });

  it('a server that exits before it is ready gives BERTH_ERR_SERVER_START with its output', async () => {
    const error = await rejectionOf(
      startChildServer({
        name: 'quitter',
        command: 'sh',
        args: ['-c', 'echo "starting up"; echo "cannot bind: port taken" >&2; exit 3'],
        readyWhen: () => undefined,
      }),
    );
    expect(error.code).toBe('BERTH_ERR_SERVER_START');
    expect(error.message).toMatch(/^quitter exited before it was ready \(code 3\); last output:\n/);
    expect(error.message).toContain('starting up');
    expect(error.message).toContain('cannot bind: port taken');
  });

  it('a server that never says it is ready is killed after the timeout', async () => {
    // sleep adds up its arguments; the odd one marks this very process for pgrep.
    const marker = `0.${process.pid}${Date.now() % 1000}`;
    const error = await rejectionOf(
      startChildServer({
        name: 'sleeper',
        command: 'sleep',
        args: ['30', marker],
        readyWhen: () => undefined,
        startTimeoutMs: 300,
      }),
    );
    expect(error.code).toBe('BERTH_ERR_SERVER_START');
    expect(error.message).toMatch(/^sleeper was not ready after 300 ms/);
    expect(processesMatching(`sleep 30 ${marker}`)).toBe('');
  });

  it('the ready line is the one readyWhen picks, and stop() ends the process', async () => {
    const server = await startChildServer({
      name: 'talker',
      command: 'sh',
      args: ['-c', 'echo "warming up"; echo "listening on 4321"; exec sleep 30'],
      readyWhen: (line) => /listening on (\d+)/.exec(line)?.[1],
      stopGraceMs: 2000,
    });
    stops.push(() => server.stop());
    expect(server.readyValue).toBe('4321');
    expect(server.recentOutput()).toEqual(['warming up', 'listening on 4321']);
    expect(server.running()).toBe(true);
    await server.stop();
    expect(server.running()).toBe(false);
    expect(alive(server.pid)).toBe(false);
  });

  it('an unreachable ClickHouse gives BERTH_ERR_STORE_UNREACHABLE, naming the URL', async () => {
    const port = await freePort();
    const error = await rejectionOf(
      openClickHouseStore({ url: `http://127.0.0.1:${port}`, database: 'x' }),
    );
    expect(error.code).toBe('BERTH_ERR_STORE_UNREACHABLE');
    expect(error.message).toContain(`ClickHouse at http://127.0.0.1:${port} did not answer`);
  });

  it('credentials in the URL never appear in that error', async () => {
    const port = await freePort();
    const errors = [
      await rejectionOf(
        openClickHouseStore({ url: `http://berth:hunter2@127.0.0.1:${port}`, database: 'x' }),
      ),
      await rejectionOf(
        openClickHouseStore({
          url: `http://127.0.0.1:${port}`,
          database: 'x',
          username: 'berth',
          password: 'swordfish',
        }),
      ),
    ];
    for (const error of errors) {
      expect(error.code).toBe('BERTH_ERR_STORE_UNREACHABLE');
      expect(error.message).toContain(`ClickHouse at http://127.0.0.1:${port} did not answer`);
      for (const secret of ['hunter2', 'swordfish', 'berth:']) {
        expect(error.message).not.toContain(secret);
      }
      expect(String(error.cause)).not.toContain('hunter2');
    }
  });

  it('redactUrl removes user and password and keeps the rest', () => {
    expect(redactUrl('http://berth:hunter2@127.0.0.1:8123')).toBe('http://127.0.0.1:8123');
    expect(redactUrl('https://only-user@example.com:8443/')).toBe('https://example.com:8443');
    expect(redactUrl('http://u:p%40ss@h:1/path?q=1')).toBe('http://h:1/path?q=1');
    expect(redactUrl('http://127.0.0.1:8123')).toBe('http://127.0.0.1:8123');
    expect(redactUrl('http://user:hunter2@exa mple:1')).toBe('(unparseable URL)');
  });
});
