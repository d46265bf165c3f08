import { mkdir, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnBerth, type BerthProcess } from '../../support/cli.ts';
import { makeResult, publishResults } from '../../support/results.ts';
import { removeDir, tempDir } from '../../support/servers.ts';
import {
  alive,
  cgroupsOfRun,
  descendantsOf,
  entriesOf,
  ociContainers,
  processesMatching,
} from '../../support/leftovers.ts';
import { waitFor } from '../../support/wait.ts';

interface HostsAnswer {
  hosts: { hostId: string; inventory?: unknown; platforms: { platform: string }[] }[];
}
interface ResultsAnswer {
  results: { hostId: string; platform: string; workload: string; results: number }[];
}

/** Every `berth up` a test started: one a failed assertion left running is stopped afterwards. */
const started: BerthProcess[] = [];

/** `berth up` on a free port and metrics port, with the agent settings given. */
function up(dataDir: string, env: Readonly<Record<string, string>> = {}): BerthProcess {
  const process = spawnBerth(['up', '--data-dir', dataDir, '--metrics-port', '0', '--port', '0'], {
    NATS_URL: '',
    CLICKHOUSE_URL: '',
    ...env,
  });
  started.push(process);
  return process;
}

/** Ends what a failed test left running: berth up on SIGTERM stops its children in order. */
async function stopLeftRunning(): Promise<void> {
  const running = started.filter(
    (process) => process.child.exitCode === null && process.child.signalCode === null,
  );
  for (const process of running) process.child.kill('SIGTERM');
  await Promise.all(running.map((process) => process.exited()));
}

const getJson = async <T>(url: string): Promise<T> => (await fetch(url)).json() as Promise<T>;

/** The one line `berth up` printed to stderr for an error: no stack trace, nothing else. */
function errorLines(process: BerthProcess): string[] {
  return process
    .stderr()
    .split('\n')
    .filter((line) => line.startsWith('berth:') || /^\s+at /.test(line));
}

describe('berth up', () => {
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await tempDir('up');
  });

  afterAll(async () => {
    await stopLeftRunning();
    await removeDir(dataDir);
  });

  it('starts the stack and a local agent whose inventory and results are stored, and stops it all on SIGINT leaving nothing behind', async () => {
    // The agent's first suite: one workload on the bare process and on runc, in rounds; SIGINT
    // comes in its second round, while a runc instance is up.
    const first = up(dataDir, {
      BERTH_AGENT_PLATFORMS: 'process,container:runc',
      BERTH_AGENT_WORKLOADS: 'cpu-sha256',
    });
    const ready = await first.waitForLine(/dashboard ready/, 60_000);
    const advisorUrl = /dashboard ready: (http:\/\/127\.0\.0\.1:\d+)\/$/.exec(ready)?.[1] ?? '';
    expect(advisorUrl).not.toBe('');
    expect(first.stdout().match(/dashboard ready/g)).toHaveLength(1);
    expect(first.stdout()).toMatch(/store: chdb at .*chdb/);
    const natsUrl = /NATS: (nats:\/\/\S+)/.exec(first.stdout())?.[1] ?? '';
    const metricsUrl = /metrics at (http:\/\/\S+)/.exec(first.stdout())?.[1] ?? '';

    // Ingest stores what any agent publishes.
    const nc = await connect({ servers: natsUrl });
    await publishResults(nc, [makeResult(1, 'host-up'), makeResult(2, 'host-up')]);
    await nc.close();
    await waitFor('two results stored', async () => {
      const text = await (await fetch(metricsUrl)).text();
      return /berth_ingest_stored_results_total [1-9]/.test(text);
    });

    const agentLine = await first.waitForLine(/local agent: host \S+/, 120_000);
    const hostId = /host (\S+),/.exec(agentLine)?.[1] ?? '';
    await waitFor(
      "the agent's inventory",
      async () => {
        const { hosts } = await getJson<HostsAnswer>(`${advisorUrl}/v1/hosts`);
        const host = hosts.find((candidate) => candidate.hostId === hostId);
        return host?.inventory !== undefined && host.platforms.length > 0;
      },
      30_000,
    );
    const runLine = await first.waitForLine(/agent \[.*\] \d+\/\d+ run (\S+)/, 60_000);
    const runId = /agent \[.*\] \d+\/\d+ run (\S+)/.exec(runLine)?.[1] ?? '';
    expect(runId).toMatch(/^run-/);

    // SIGINT in the second round while a runc instance is up: the first round is complete and
    // published, the second is not.
    await first.waitForLine(/agent \[.*\] \d+\/\d+ round 2\//, 120_000);
    const bundles = join(dataDir, 'agent', 'bundles');
    await waitFor('a runc instance', () => entriesOf(bundles).length > 0, 60_000, 50);
    const children = descendantsOf(first.child.pid ?? 0);
    expect(children.length).toBeGreaterThanOrEqual(3);
    first.child.kill('SIGINT');
    expect(await first.exited(), first.stderr()).toBe(0);
    expect(first.stdout()).toContain('stopped cleanly');
    expect(first.stdout()).toMatch(new RegExp(`agent: run ${runId} (stopped|done)`));
    // The summary names the platforms measured, not the rounds the progress lines announced.
    expect(first.stdout()).toMatch(
      /agent: run \S+ \w+; in [^;]+; measured (process, container|container, process)\b/,
    );
    expect(alive(children)).toEqual([]);
    expect(processesMatching(dataDir)).toEqual([]);
    expect(entriesOf(bundles)).toEqual([]);
    expect(ociContainers('runc', runId)).toEqual([]);
    expect(cgroupsOfRun(runId)).toEqual([]);

    // A second `berth up` on the same data folder has the first one's host and results.
    const second = up(dataDir, { BERTH_AGENT: 'off' });
    const secondReady = await second.waitForLine(/dashboard ready/, 60_000);
    const secondUrl = /(http:\/\/\S+)\/$/.exec(secondReady)?.[1] ?? '';
    // Said after the dashboard line, so wait for it rather than read what came so far.
    await second.waitForLine(/local agent: off/, 10_000);
    await waitFor('the first run’s host and its first round’s results', async () => {
      const { hosts } = await getJson<HostsAnswer>(`${secondUrl}/v1/hosts`);
      const { results } = await getJson<ResultsAnswer>(`${secondUrl}/v1/results?host=${hostId}`);
      return (
        hosts.some((host) => host.hostId === hostId) &&
        results.some((row) => row.platform === 'process' && row.workload === 'cpu-sha256') &&
        results.some((row) => row.platform === 'container' && row.workload === 'cpu-sha256')
      );
    });

    // A third on the same folder stops at the store, in one line.
    const third = up(dataDir, { BERTH_AGENT: 'off' });
    expect(await third.exited()).toBe(1);
    expect(errorLines(third)).toEqual([
      expect.stringMatching(
        /^berth: the store could not be opened: the embedded store at \S+ cannot be opened \(is another Berth process using it\?\).*\[BERTH_ERR_STORE_LOCKED\]$/,
      ),
    ]);

    second.child.kill('SIGINT');
    expect(await second.exited(), second.stderr()).toBe(0);
    expect(processesMatching(dataDir)).toEqual([]);
  }, 240_000);

  describe('says in one line what cannot start', () => {
    let taken: Server;
    let port: number;

    beforeAll(async () => {
      taken = createServer();
      await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
      port = (taken.address() as { port: number }).port;
    });

    afterAll(async () => {
      await new Promise((resolve) => taken.close(resolve));
    });

    it('the advisor port taken: which address and the --port setting, and nothing left running', async () => {
      const dir = join(dataDir, 'port-taken');
      const run = spawnBerth(['up', '--data-dir', dir, '--metrics-port', '0', '--no-agent'], {
        NATS_URL: '',
        BERTH_ADVISOR_PORT: String(port),
      });
      expect(await run.exited()).toBe(2);
      expect(errorLines(run)).toEqual([
        `berth: the advisor cannot listen on 127.0.0.1:${port}: another process uses that port (another berth up?); stop it, or choose another port with --port / BERTH_ADVISOR_PORT [BERTH_ERR_CONFIG]`,
      ]);
      expect(run.stdout()).not.toContain('dashboard ready');
      expect(processesMatching(dir)).toEqual([]);
    });

    it('nats-server failing to start: its own reason', async () => {
      const dir = join(dataDir, 'nats-fails');
      await mkdir(join(dir, 'nats'), { recursive: true });
      await writeFile(join(dir, 'nats', 'jetstream'), 'not a folder');
      const run = up(dir, { BERTH_AGENT: 'off' });
      expect(await run.exited()).toBe(1);
      expect(errorLines(run)).toEqual([
        `berth: nats-server could not start (data in ${dir}/nats): Can't start JetStream: storage directory is not a directory (nats-server exited before it was ready (code 1)) [BERTH_ERR_SERVER_START]`,
      ]);
      expect(processesMatching(dir)).toEqual([]);
    });
  });
});
