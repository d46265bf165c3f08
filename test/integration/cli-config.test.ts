import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBerth } from '../../support/cli.ts';
import { removeDir, startTestNats, tempDir } from '../../support/servers.ts';

describe('bad configuration gives one clear message and a non-zero exit', () => {
  let nats: Awaited<ReturnType<typeof startTestNats>>;
  let dataDir: string;
  let busy: Server;
  let busyPort: number;

  beforeAll(async () => {
    nats = await startTestNats();
    dataDir = await tempDir('cli');
    busy = createServer();
    await new Promise<void>((resolve) => {
      busy.listen(0, '127.0.0.1', resolve);
    });
    busyPort = (busy.address() as { port: number }).port;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) =>
      busy.close(() => {
        resolve();
      }),
    );
    await nats.stop();
    await removeDir(dataDir);
  });

  const base = (): Record<string, string> => ({ BERTH_DATA_DIR: dataDir, BERTH_METRICS_PORT: '0' });

  it('an unreachable NATS URL names NATS_URL', async () => {
    const run = await runBerth(['ingest', '--nats-url', 'nats://127.0.0.1:1'], base());
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /cannot reach NATS at nats:\/\/127\.0\.0\.1:1 \(setting --nats-url \/ NATS_URL\)/,
    );
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it('an unreachable ClickHouse URL names CLICKHOUSE_URL and hides the password', async () => {
    const run = await runBerth(['ingest'], {
      ...base(),
      NATS_URL: nats.url,
      CLICKHOUSE_URL: 'http://berth:s3cret@127.0.0.1:1',
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/ClickHouse at http:\/\/127\.0\.0\.1:1 did not answer/);
    expect(run.stderr).toMatch(/--clickhouse-url \/ CLICKHOUSE_URL/);
    expect(run.stderr).not.toContain('s3cret');
  });

  it('stream replicas asked of a NATS server not in a cluster name the setting, exit code 2', async () => {
    const run = await runBerth(['ingest', '--stream-replicas', '3'], {
      ...base(),
      NATS_URL: nats.url,
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(
      /--stream-replicas \/ BERTH_STREAM_REPLICAS asks for 3 copies of each stream, but the NATS server is not in a cluster/,
    );
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it('out-of-range and malformed values are all listed at once, exit code 2', async () => {
    const run = await runBerth(['ingest', '--metrics-port', '99999', '--batch-size', 'many'], {
      ...base(),
      NATS_URL: 'http://127.0.0.1:4222',
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--metrics-port / BERTH_METRICS_PORT must be from 0 to 65535');
    expect(run.stderr).toContain('--batch-size / BERTH_INGEST_BATCH_SIZE must be a whole number');
    expect(run.stderr).toContain('--nats-url / NATS_URL must start with nats:');
  });

  it('a metrics port already in use names the setting', async () => {
    const run = await runBerth(['ingest', '--metrics-port', String(busyPort)], {
      ...base(),
      NATS_URL: nats.url,
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`port ${busyPort} on 127.0.0.1 is already in use`);
    expect(run.stderr).toContain('--metrics-port / BERTH_METRICS_PORT');
  });

  it('an unknown option is refused by name', async () => {
    const run = await runBerth(['ingest', '--batchsize', '10'], base());
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("unknown option '--batchsize'");
  });
});
