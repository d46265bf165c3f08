import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdviceV1 } from '../../contracts/advice.ts';
import { sql } from '../../lib/storage/sql.ts';
import { openStore } from '../../lib/storage/open-store.ts';
import { resultTsv, RESULT_COLUMNS } from '../../lib/storage/results.ts';
import { CONTAINER, PROCESS, withIntervals } from '../../support/advice-fixtures.ts';
import { platformResults } from '../../support/advisor.ts';
import { runBerth } from '../../support/cli.ts';
import { removeDir, startTestNats, tempDir } from '../../support/servers.ts';

const adviceCheck = TypeCompiler.Compile(AdviceV1);

const QUESTION = {
  workload: 'nightly-report',
  os: { family: 'linux' },
  lifetimeSeconds: 7200,
  instances: 4,
  trust: 'untrusted',
  sensitivity: ['cpu'],
};

describe('berth advise', () => {
  let nats: Awaited<ReturnType<typeof startTestNats>>;
  let dataDir: string;
  let env: Record<string, string>;

  const writeQuestion = async (name: string, question: unknown): Promise<string> => {
    const path = join(dataDir, name);
    await writeFile(path, typeof question === 'string' ? question : JSON.stringify(question));
    return path;
  };

  /** The embedded store the command uses, opened here while no command runs. */
  const openEmbeddedStore = (): ReturnType<typeof openStore> =>
    openStore({
      dataDir,
      clickhouseUrl: undefined,
      clickhouseUser: undefined,
      clickhousePassword: undefined,
      clickhouseDatabase: 'berth',
    });

  beforeAll(async () => {
    nats = await startTestNats();
    dataDir = await tempDir('advise');
    // Port 1 has no advisor, so the command answers from the store itself.
    env = { BERTH_DATA_DIR: dataDir, NATS_URL: nats.url, BERTH_ADVISOR_PORT: '1' };
  });

  afterAll(async () => {
    await nats.stop();
    await removeDir(dataDir);
  });

  it('answers from the store when no advisor runs, and keeps the answer in the audit log', async () => {
    const run = await runBerth(
      ['advise', await writeQuestion('good.json', QUESTION), '--json'],
      env,
    );
    expect(run.code, run.stderr).toBe(0);
    const advice: unknown = JSON.parse(run.stdout);
    expect(adviceCheck.Check(advice)).toBe(true);
    if (!adviceCheck.Check(advice)) return;
    expect(advice.question).toEqual(QUESTION);
    // Untrusted code never lands on the shared host kernel.
    expect(advice.options.map((option) => option.placement)).not.toContain('container');
    expect(advice.ruledOut.map((out) => out.placement)).toContain('container');

    const store = await openEmbeddedStore();
    try {
      const rows = await store.query<{ advice_id: string; workload: string }>(
        sql`SELECT advice_id, workload FROM advice FINAL`,
      );
      expect(rows).toEqual([{ advice_id: advice.id, workload: 'nightly-report' }]);
    } finally {
      await store.close();
    }
  });

  it('prints a readable answer: the verdict first, then the ranking, the ruled-out options and the confidence', async () => {
    const run = await runBerth(['advise', await writeQuestion('good.json', QUESTION)], env);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.split('\n')[0]).toMatch(/^Run it as \S+ \(score [\d.]+/);
    expect(run.stdout).toMatch(/^rank\s+placement\s+runtime\s+score/m);
    expect(run.stdout).toContain('ruled out:');
    expect(run.stdout).toMatch(/confidence \d\.\d\d, resting on:/);
  });

  it('exports a RuntimeClass with the measured memory overhead, and refuses a runtime never measured', async () => {
    const store = await openEmbeddedStore();
    try {
      const tsv = resultTsv(
        {
          schemaVersion: 1,
          id: 'rc-runc-1',
          hostId: 'host-rc',
          runId: 'run-rc',
          takenAt: Date.now(),
          platform: {
            name: 'container',
            runtime: 'runc',
            runtimeVersion: '1.1.5',
            accel: 'none',
            settings: {},
          },
          workload: { name: 'instance', version: '1' },
          metrics: [{ name: 'memory-overhead', unit: 'MiB', value: 2.4, samples: 5, rme: 10 }],
        },
        Date.now(),
      );
      await store.insertTsv('results', RESULT_COLUMNS, tsv);
    } finally {
      await store.close();
    }
    const run = await runBerth(
      ['advise', 'export', 'runtimeclass', '--runtime', 'container:runc'],
      env,
    );
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('handler: runc\n');
    expect(run.stdout).toContain('memory: "3Mi"');
    expect(run.stdout).toContain('host-rc');

    const missing = await runBerth(
      ['advise', 'export', 'runtimeclass', '--runtime', 'vm:libvirt'],
      env,
    );
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('no measured memory overhead for vm:libvirt');
  });

  it('writes a Nova flavor with extra specs and an aggregate for the recommended placement with --format openstack', async () => {
    const run = await runBerth(
      [
        'advise',
        await writeQuestion('sized.json', { ...QUESTION, memoryMiB: 256 }),
        '--format',
        'openstack',
      ],
      env,
    );
    expect(run.code, run.stderr).toBe(0);
    const document = JSON.parse(run.stdout) as {
      advice: { workload: string; placement: string; runtime: string };
      flavor?: { name: string; ram?: number; extra_specs: Record<string, string> };
      aggregate: { name: string; metadata: Record<string, string>; hosts: unknown[] };
      commands: string[];
      notes: string[];
    };
    const { placement, runtime } = document.advice;
    expect(document.advice.workload).toBe('nightly-report');
    // Untrusted code gets a VM layer, so Nova has a flavor to place.
    expect(placement).not.toBe('container');
    const ram = document.flavor?.ram;
    expect(ram).toBeGreaterThan(256);
    expect(document.flavor).toMatchObject({
      name: 'berth-nightly-report',
      extra_specs: {
        'aggregate_instance_extra_specs:berth_placement': placement,
        'aggregate_instance_extra_specs:berth_runtime': runtime,
      },
    });
    expect(document.aggregate).toMatchObject({
      name: `berth-${placement}-${runtime}`,
      metadata: { berth_placement: placement, berth_runtime: runtime },
    });
    expect(document.commands).toContain(
      `openstack flavor create --ram ${ram} --vcpus 1 berth-nightly-report`,
    );
    // No agent sent an inventory, so no host goes into the aggregate.
    expect(document.aggregate.hosts).toEqual([]);
    expect(document.notes).toContainEqual(expect.stringMatching(/^The advice names no host/));
    // The store holds no VM measurement: the overhead is a published figure, and it says so.
    expect(document.notes).toContainEqual(expect.stringMatching(/overhead .*\(published: /));
  });

  it('refuses an unknown --format, naming the option and the formats it takes', async () => {
    const run = await runBerth(
      ['advise', await writeQuestion('good.json', QUESTION), '--format', 'yaml'],
      env,
    );
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('--format must be one of text, json, openstack, got "yaml"');
    expect(run.stderr).toContain('BERTH_ERR_PARAMETER');
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it.each([
    [
      'a question with a bad field',
      { ...QUESTION, trust: 'maybe' },
      /trust must be one of trusted, untrusted/,
    ],
    ['a question missing a field', { workload: 'x' }, /os is required/],
    ['a file that is not JSON', 'lifetime: long', /is not JSON/],
  ])('refuses %s, naming what is wrong, with a non-zero exit', async (_, question, message) => {
    const run = await runBerth(['advise', await writeQuestion('bad.json', question)], env);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(message);
    expect(run.stderr).toContain('BERTH_ERR_QUESTION');
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it('says which options are tied within measurement error and the rule that broke the tie, and berth results shows the interval', async () => {
    const host = 'cli-tied';
    const batches = [PROCESS, withIntervals(CONTAINER, 0.2)].flatMap((figures) =>
      platformResults(host, figures),
    );
    const store = await openEmbeddedStore();
    try {
      const rows = batches.map((batch) => resultTsv(batch, Date.now())).join('');
      await store.insertTsv('results', RESULT_COLUMNS, rows);
    } finally {
      await store.close();
    }
    const tied = {
      ...QUESTION,
      lifetimeSeconds: 3600,
      instances: 10,
      trust: 'trusted',
      hosts: [host],
    };
    const run = await runBerth(['advise', await writeQuestion('tied.json', tied)], env);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^rank\s+placement\s+runtime\s+score\s+tied\s/m);
    expect(run.stdout).toMatch(/^2\s+container\s+runc\s+[\d.]+ \[[\d.]+–[\d.]+\]\s+tied\s/m);
    expect(run.stdout).toMatch(
      /^tie: .+ are tied within measurement error .+ first because stronger isolation breaks a tie/m,
    );
    expect(run.stdout).toContain('Tied within measurement error with container/runc');

    const results = await runBerth(['results', '--host', host, '--platform', 'container'], env);
    expect(results.code, results.stderr).toBe(0);
    expect(results.stdout).toMatch(/\svs process\s/);
    expect(results.stdout).toMatch(/cpu-sha256\s+throughput\s.+\s0\.99× \[0\.79–1\.19\] unclear\s/);
  });
});
