import { symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resultsSubject, type ResultBatch, type ResultBatchV2 } from '../../contracts/index.ts';
import { readDeadLetters } from '../../lib/nats/dead-letters.ts';
import { openStore } from '../../lib/storage/open-store.ts';
import { resultTsv, RESULT_COLUMNS } from '../../lib/storage/results.ts';
import { CONTAINER, PROCESS } from '../../support/advice-fixtures.ts';
import {
  platformResults,
  seedResults,
  startAdvisorStack,
  type AdvisorStack,
} from '../../support/advisor.ts';
import { runBerth } from '../../support/cli.ts';
import { makeResultV2, publishRaw } from '../../support/results.ts';
import { cleanUp, removeDir, tempDir } from '../../support/servers.ts';
import { waitFor } from '../../support/wait.ts';

const TAKEN_AT = 1_764_000_000_000;

/** Two hosts' quick suites: the bare process and runc on one, the bare process on the other. */
const BATCHES = [
  ...platformResults('reads-a', PROCESS, TAKEN_AT),
  ...platformResults('reads-a', CONTAINER, TAKEN_AT),
  ...platformResults('reads-b', PROCESS, TAKEN_AT),
];

/** The columns `berth results` prints, whichever way its answer came. */
const COLUMNS = [
  'host',
  'platform',
  'runtime',
  'accel',
  'workload',
  'metric',
  'unit',
  'results',
  'mean',
  'last',
];

/** What `berth results --host reads-a --workload cpu-sha256 --json` prints for BATCHES. */
const CPU_ROWS_OF_A = [
  {
    host: 'reads-a',
    platform: 'container',
    runtime: 'runc',
    accel: 'none',
    workload: 'cpu-sha256',
    metric: 'throughput',
    unit: 'op/s',
    results: 1,
    mean: 6138,
    last: new Date(TAKEN_AT).toISOString(),
  },
  {
    host: 'reads-a',
    platform: 'process',
    runtime: 'node',
    accel: 'none',
    workload: 'cpu-sha256',
    metric: 'throughput',
    unit: 'op/s',
    results: 1,
    mean: 6200,
    last: new Date(TAKEN_AT).toISOString(),
  },
];

/** Checks `berth results` of BATCHES, as JSON and as a table, with `env`; returns stderr. */
async function expectResults(env: Record<string, string>): Promise<string> {
  const all = await runBerth(['results', '--json'], env);
  expect(all.code, all.stderr).toBe(0);
  const rows = JSON.parse(all.stdout) as Record<string, unknown>[];
  // Per host: the instance workload's metrics and two workloads' throughput per platform.
  expect(rows).toHaveLength(16);
  for (const row of rows) expect(Object.keys(row)).toEqual(COLUMNS);

  const narrowed = await runBerth(
    ['results', '--host', 'reads-a', '--workload', 'cpu-sha256', '--json'],
    env,
  );
  expect(narrowed.code, narrowed.stderr).toBe(0);
  expect(JSON.parse(narrowed.stdout)).toEqual(CPU_ROWS_OF_A);

  const table = await runBerth(['results', '--platform', 'container'], env);
  expect(table.code, table.stderr).toBe(0);
  expect(table.stdout).toMatch(
    /^host\s+platform\s+runtime\s+accel\s+workload\s+metric\s+unit\s+results\s+mean\s+last$/m,
  );
  expect(table.stdout).toMatch(/^reads-a\s+container\s+runc\s+none\s+cpu-sha256\s+throughput\s/m);
  expect(table.stdout).not.toMatch(/\sprocess\s/);
  return all.stderr;
}

describe('berth results and dlq while an advisor holds the embedded store', () => {
  let stack: AdvisorStack;
  let dataDir: string;
  let advisorPort: string;
  /** No nats-server answers here: as for the CLI beside `berth up`, whose port it does not know. */
  const unreachableNats = 'nats://127.0.0.1:1';

  beforeAll(async () => {
    stack = await startAdvisorStack();
    // The command's data folder holds the advisor's store, as `berth up`'s does.
    dataDir = await tempDir('cli-reads');
    await symlink(stack.ingest.testStore.store.location, join(dataDir, 'chdb'));
    advisorPort = new URL(stack.url).port;
    await seedResults(stack, BATCHES);
  });

  afterAll(async () => {
    await cleanUp(
      () => stack.stop(),
      () => removeDir(dataDir),
    );
  });

  it('berth results asks the running advisor instead of opening the store it holds', async () => {
    const stderr = await expectResults({
      BERTH_DATA_DIR: dataDir,
      BERTH_ADVISOR_PORT: advisorPort,
      NATS_URL: unreachableNats,
    });
    expect(stderr).toContain(`note: answered by the advisor at ${stack.url}`);
  });

  it('berth results still says the store is locked when no advisor answers', async () => {
    const run = await runBerth(['results'], {
      BERTH_DATA_DIR: dataDir,
      BERTH_ADVISOR_PORT: '1',
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('BERTH_ERR_STORE_LOCKED');
  });

  // Waits on the advisor's GET /v1/dead-letters.
  it('berth dlq asks the running advisor for the dead letters ingest refused', async () => {
    await publishRaw(
      jetstream(stack.ingest.nc),
      resultsSubject('reads-a'),
      '{"schemaVersion":1,',
      'reads-dead-1',
    );
    await waitFor(
      'ingest to refuse the message',
      async () => (await readDeadLetters(stack.ingest.nc, 10)).length > 0,
    );
    const env = { BERTH_ADVISOR_PORT: advisorPort, NATS_URL: unreachableNats };

    const json = await runBerth(['dlq', '--json', '--limit', '5'], env);
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual([
      expect.objectContaining({
        subject: resultsSubject('reads-a'),
        msgId: 'reads-dead-1',
        code: 'BERTH_ERR_NOT_JSON',
      }),
    ]);
    expect(json.stderr).toContain(`note: answered by the advisor at ${stack.url}`);

    const table = await runBerth(['dlq'], env);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^received\s+seq\s+subject\s+code\s+bytes\s+reason$/m);
    expect(table.stdout).toContain('BERTH_ERR_NOT_JSON');
  });
});

/** A new data folder whose embedded store holds `batches`, as a command would find it. */
async function dataDirWith(prefix: string, batches: readonly ResultBatch[]): Promise<string> {
  const dataDir = await tempDir(prefix);
  const store = await openStore({
    dataDir,
    clickhouseUrl: undefined,
    clickhouseUser: undefined,
    clickhousePassword: undefined,
    clickhouseDatabase: 'berth',
  });
  try {
    await store.insertTsv(
      'results',
      RESULT_COLUMNS,
      batches.map((batch) => resultTsv(batch, TAKEN_AT)).join(''),
    );
  } finally {
    await store.close();
  }
  return dataDir;
}

describe('berth results when no advisor answers', () => {
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await dataDirWith('cli-reads-store', BATCHES);
  });

  afterAll(async () => {
    await removeDir(dataDir);
  });

  it('reads the store itself and prints the same rows an advisor gives', async () => {
    // Port 1 has no advisor.
    const stderr = await expectResults({ BERTH_DATA_DIR: dataDir, BERTH_ADVISOR_PORT: '1' });
    expect(stderr).toContain(`note: read from the chdb store at ${join(dataDir, 'chdb')}`);
  });
});

/** makeResultV2's batch on host-moved, measured in host state `fingerprint`. */
function inHostState(index: number, fingerprint: string): ResultBatchV2 {
  return { ...makeResultV2(index, 'host-moved'), hostFingerprint: fingerprint };
}

describe('berth results of a series measured across host states', () => {
  let dataDir: string;
  /** Port 1 has no advisor: the command reads the store itself. */
  const env = (): Record<string, string> => ({ BERTH_DATA_DIR: dataDir, BERTH_ADVISOR_PORT: '1' });

  beforeAll(async () => {
    // Containers (index % 4 === 1) before and after the host changed; the bare process
    // (index % 4 === 0) in one host state.
    dataDir = await dataDirWith('cli-host-states', [
      inHostState(1, 'state-before'),
      inHostState(5, 'state-after'),
      inHostState(4, 'state-after'),
    ]);
  });

  afterAll(async () => {
    await removeDir(dataDir);
  });

  it('marks the series whose results carry two host fingerprints, and only those', async () => {
    const run = await runBerth(['results', '--json'], env());
    expect(run.code, run.stderr).toBe(0);
    const rows = JSON.parse(run.stdout) as Record<string, unknown>[];
    expect(
      rows.map((row) => [row['platform'], row['metric'], row['results'], row['host states']]),
    ).toEqual([
      ['container', 'metric-0', 2, 'measured across 2 host states'],
      ['process', 'metric-0', 1, ''],
      ['container', 'metric-1', 2, 'measured across 2 host states'],
      ['process', 'metric-1', 1, ''],
    ]);
  });

  it('shows the mark in the table', async () => {
    const run = await runBerth(['results', '--workload', 'cpu-sha256'], env());
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/\shost states\s+last$/m);
    expect(run.stdout).toMatch(/^host-moved\s+container\s.*\smeasured across 2 host states\s/m);
    expect(run.stdout).not.toMatch(/^host-moved\s+process\s.*host states/m);
  });

  it('leaves the column out where every series is of one host state', async () => {
    const run = await runBerth(['results', '--platform', 'process', '--json'], env());
    expect(run.code, run.stderr).toBe(0);
    const rows = JSON.parse(run.stdout) as Record<string, unknown>[];
    expect(rows).toHaveLength(2);
    for (const row of rows) expect(row).not.toHaveProperty('host states');
  });
});
