import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnBerth } from '../helpers/cli.ts';
import { makeResult, publishResults } from '../helpers/results.ts';
import { removeDir, tempDir } from '../helpers/servers.ts';
import { processesMatching } from '../helpers/leftovers.ts';
import { waitFor } from '../helpers/wait.ts';

describe('berth up', () => {
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await tempDir('up');
  });

  afterAll(async () => {
    await removeDir(dataDir);
  });

  it('starts nats-server, the embedded store, ingest and the advisor, and stops them all on SIGINT', async () => {
    const up = spawnBerth(['up', '--data-dir', dataDir, '--metrics-port', '0', '--port', '0'], {
      NATS_URL: '',
    });
    await up.waitForLine(/Berth is up/, 60_000);
    const natsUrl = /NATS: (nats:\/\/\S+)/.exec(up.stdout())?.[1] ?? '';
    const metricsUrl = /metrics at (http:\/\/\S+)/.exec(up.stdout())?.[1] ?? '';
    const advisorUrl = /advisor: (http:\/\/\S+)/.exec(up.stdout())?.[1] ?? '';
    expect(up.stdout()).toMatch(/store: chdb at .*chdb/);
    expect(processesMatching(`${dataDir}/nats`)).toHaveLength(1);

    const nc = await connect({ servers: natsUrl });
    await publishResults(nc, [makeResult(1, 'host-up'), makeResult(2, 'host-up')]);
    await nc.close();
    await waitFor('two results stored', async () => {
      const text = await (await fetch(metricsUrl)).text();
      return /berth_ingest_stored_results_total 2/.test(text);
    });

    const answer = await fetch(`${advisorUrl}/v1/advice`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        workload: 'batch',
        os: { family: 'linux' },
        lifetimeSeconds: 60,
        instances: 10,
        trust: 'trusted',
      }),
    });
    expect(answer.status).toBe(200);
    const advice = (await answer.json()) as { id: string; options: unknown[] };
    expect(advice.options.length).toBeGreaterThan(0);
    expect((await fetch(`${advisorUrl}/v1/advice/${advice.id}`)).status).toBe(200);

    up.child.kill('SIGINT');
    expect(await up.exited()).toBe(0);
    expect(up.stdout()).toContain('stopped cleanly');
    expect(processesMatching(`${dataDir}/nats`)).toEqual([]);
  });
});
