import { execFile } from 'node:child_process';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstreamManager } from '@nats-io/jetstream';
import { nkeys } from '@nats-io/nats-core';
import { BerthError } from '../../contracts/index.ts';
import { connectNats } from '../../lib/nats/connect.ts';
import { ensureStreams } from '../../lib/nats/streams.ts';
import { freePort } from '../../support/free-port.ts';
import { spawnBerth } from '../../support/cli.ts';
import { startFleetNats, type FleetNats } from '../../support/nats-fleet.ts';
import { removeDir, tempDir } from '../../support/servers.ts';

const run = async (
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
): Promise<{ code: number | string; stdout: string; stderr: string }> => {
  const berth = spawnBerth(args, env);
  const code = await berth.exited();
  return { code, stdout: berth.stdout(), stderr: berth.stderr() };
};

const publicKeys = (config: string): string[] =>
  [...config.matchAll(/nkey: "(U[A-Z2-7]{55})"/g)].map((match) => match[1] ?? '');

describe('berth nats-config', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await tempDir('nats-config');
  });

  afterAll(async () => {
    await removeDir(dir);
  });

  it('writes a configuration nats-server accepts and a seed per role only its owner reads', async () => {
    const out = join(dir, 'fleet');
    const { code, stdout } = await run([
      'nats-config',
      '--hosts',
      'web-1,db-1',
      '--out-dir',
      out,
      '--store-dir',
      join(dir, 'js'),
    ]);
    expect(code).toBe(0);
    expect(stdout).toContain(`wrote ${join(out, 'nats-server.conf')}`);
    for (const role of ['agent-web-1', 'agent-db-1', 'ingest', 'advisor', 'admin']) {
      const seedFile = join(out, `${role}.nk`);
      expect(stdout).toContain(`NATS_NKEY_FILE=${seedFile}`);
      expect((await stat(seedFile)).mode & 0o777).toBe(0o600);
      const seed = (await readFile(seedFile, 'utf8')).trim();
      expect(seed).toMatch(/^SU[A-Z2-7]{56}$/);
      expect(stdout).not.toContain(seed);
    }
    expect((await stat(out)).mode & 0o077).toBe(0);
    await promisify(execFile)('nats-server', ['-c', join(out, 'nats-server.conf'), '-t']);
  });

  it('keeps the keys it wrote when hosts are added, so the fleet is not re-keyed', async () => {
    const out = join(dir, 'grow');
    await writeFile(join(dir, 'hosts.txt'), '# the fleet\nweb-1\n\ndb-1  # the database\n');
    expect(
      (await run(['nats-config', '--hosts-file', join(dir, 'hosts.txt'), '--out-dir', out])).code,
    ).toBe(0);
    const before = publicKeys(await readFile(join(out, 'nats-server.conf'), 'utf8'));
    const again = await run([
      'nats-config',
      '--hosts-file',
      join(dir, 'hosts.txt'),
      '--hosts',
      'gpu-1',
      '--out-dir',
      out,
    ]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/agent-gpu-1 .* new/);
    expect(again.stdout).toMatch(/agent-web-1 .* kept/);
    const after = publicKeys(await readFile(join(out, 'nats-server.conf'), 'utf8'));
    expect(after).toHaveLength(6);
    expect(after).toEqual(expect.arrayContaining(before));
  });

  it('writes the configuration of one node of a cluster', async () => {
    const out = join(dir, 'cluster');
    const { code } = await run([
      'nats-config',
      '--hosts',
      'a',
      '--out-dir',
      out,
      '--server-name',
      'n1',
      '--routes',
      'nats-route://n2:6222,nats-route://n3:6222',
    ]);
    expect(code).toBe(0);
    const config = await readFile(join(out, 'nats-server-n1.conf'), 'utf8');
    expect(config).toContain('server_name: "n1"');
    expect(config).toContain('routes: ["nats-route://n2:6222", "nats-route://n3:6222"]');
  });

  it('writes every node of a cluster with --nodes, each routed to the others by name', async () => {
    const out = join(dir, 'nodes');
    const { code, stdout } = await run([
      'nats-config',
      '--hosts',
      'a',
      '--out-dir',
      out,
      '--nodes',
      'nats-1,nats-2,nats-3',
      '--cluster-listen',
      '0.0.0.0:6333',
    ]);
    expect(code).toBe(0);
    const keys: string[][] = [];
    for (const name of ['nats-1', 'nats-2', 'nats-3']) {
      const file = join(out, `nats-server-${name}.conf`);
      expect(stdout).toContain(`wrote ${file}`);
      const config = await readFile(file, 'utf8');
      expect(config).toContain(`server_name: "${name}"`);
      expect(config).toContain('listen: "0.0.0.0:6333"');
      const routes = /routes: \[(.*)\]/.exec(config)?.[1];
      expect(routes?.split(', ').sort()).toEqual(
        ['nats-1', 'nats-2', 'nats-3']
          .filter((other) => other !== name)
          .map((other) => `"nats-route://${other}:6333"`),
      );
      keys.push(publicKeys(config));
      await promisify(execFile)('nats-server', ['-c', file, '-t']);
    }
    // One set of users on every node.
    expect(keys[1]).toEqual(keys[0]);
    expect(keys[2]).toEqual(keys[0]);
  });

  it('refuses no hosts, a bad host id, a route without a server name and a cluster of one', async () => {
    const out = join(dir, 'bad');
    for (const [args, message] of [
      [['--out-dir', out], 'no host ids given'],
      [['--hosts', 'a.b', '--out-dir', out], 'is not a safe subject token'],
      [['--hosts', 'a', '--out-dir', out, '--routes', 'nats-route://n2:6222'], '--server-name'],
      [['--hosts', 'a', '--out-dir', out, '--nodes', 'n1'], 'two or more distinct names'],
      [
        ['--hosts', 'a', '--out-dir', out, '--nodes', 'n1,n2', '--server-name', 'n1'],
        '--nodes writes every node',
      ],
    ] as const) {
      const { code, stderr } = await run(['nats-config', ...args]);
      expect(code).toBe(1);
      expect(stderr).toContain(message);
    }
  });

  it('--help names every option', async () => {
    const { code, stdout } = await run(['nats-config', '--help']);
    expect(code).toBe(0);
    for (const option of [
      '--hosts',
      '--hosts-file',
      '--out-dir',
      '--listen',
      '--store-dir',
      '--routes',
      '--server-name',
      '--nodes',
      '--cluster-listen',
    ]) {
      expect(stdout).toContain(option);
    }
  });
});

describe('a command signs in with --nats-nkey / NATS_NKEY_FILE', () => {
  let nats: FleetNats;

  beforeAll(async () => {
    nats = await startFleetNats(['a']);
    const admin = await connectNats({
      url: nats.url,
      name: 'berth-admin',
      nkeyFile: nats.seedFile('admin'),
    });
    await ensureStreams(await jetstreamManager(admin));
    await admin.close();
  });

  afterAll(async () => {
    await nats.stop();
  });

  it('berth dlq reads the dead letters as admin, with the flag or the variable', async () => {
    const byFlag = await run([
      'dlq',
      '--nats-url',
      nats.url,
      '--nats-nkey',
      nats.seedFile('admin'),
    ]);
    expect(byFlag.stderr).toBe('');
    expect(byFlag.code).toBe(0);
    const byVariable = await run(['dlq', '--nats-url', nats.url], {
      NATS_NKEY_FILE: nats.seedFile('admin'),
    });
    expect(byVariable.code).toBe(0);
  });

  it('berth agent install writes the host id and the seed file’s path in the agent’s environment file', async () => {
    const root = await tempDir('agent-install');
    try {
      const installed = await run([
        'agent',
        'install',
        '--root',
        root,
        '--host-id',
        'web-1',
        '--nats-nkey',
        '/etc/berth/agent-web-1.nk',
      ]);
      expect(installed.code).toBe(0);
      const env = await readFile(join(root, 'etc/berth/agent.env'), 'utf8');
      expect(env).toContain('NATS_NKEY_FILE="/etc/berth/agent-web-1.nk"\n');
      expect(env).toContain('BERTH_HOST_ID="web-1"\n');
    } finally {
      await removeDir(root);
    }
  });

  it('without a key, or with an agent’s, berth dlq fails naming the setting', async () => {
    const unsigned = await run(['dlq', '--nats-url', nats.url]);
    expect(unsigned.code).toBe(2);
    expect(unsigned.stderr).toContain(
      'refused to sign this client in (setting --nats-nkey / NATS_NKEY_FILE, not set)',
    );
    const agent = await run([
      'dlq',
      '--nats-url',
      nats.url,
      '--nats-nkey',
      nats.seedFile('agent-a'),
    ]);
    expect(agent.code).toBe(1);
    // Its replies would come on _INBOX.berth-dlq.…, which only the admin may read.
    expect(agent.stderr).toContain('Permissions Violation for Subscription to "_INBOX.berth-dlq.');
  });

  it('a seed the server does not know, or a file without one, fails without showing the file', async () => {
    const dir = await tempDir('nkeys');
    try {
      const stranger = new TextDecoder().decode(nkeys.createUser().getSeed());
      const garbage = 'SUNOTASEEDbutSECRETlooking';
      await writeFile(join(dir, 'stranger.nk'), stranger, { mode: 0o600 });
      await writeFile(join(dir, 'garbage.nk'), garbage, { mode: 0o600 });
      for (const [file, secret, message] of [
        ['stranger.nk', stranger, 'refused to sign this client in'],
        ['garbage.nk', garbage, 'does not hold a user nkey seed'],
        ['missing.nk', 'missing', 'cannot read the nkey seed file'],
      ] as const) {
        const error = await connectNats({
          url: nats.url,
          name: 'berth-test',
          nkeyFile: join(dir, file),
        }).then(
          () => undefined,
          (failure: unknown) => failure,
        );
        expect(error).toBeInstanceOf(BerthError);
        expect((error as BerthError).code).toBe('BERTH_ERR_CONFIG');
        expect((error as BerthError).message).toContain(message);
        expect((error as BerthError).message).toContain('--nats-nkey / NATS_NKEY_FILE');
        if (secret !== 'missing') expect((error as BerthError).message).not.toContain(secret);
      }
    } finally {
      await removeDir(dir);
    }
  });

  it('a password in the NATS URL never appears in the error', async () => {
    const port = await freePort();
    const error = await connectNats({
      url: `nats://berth:hunter2@127.0.0.1:${port}`,
      name: 'berth-test',
      timeoutMs: 500,
    }).then(
      () => undefined,
      (failure: unknown) => failure,
    );
    expect((error as BerthError).code).toBe('BERTH_ERR_NATS_UNREACHABLE');
    expect((error as BerthError).message).toContain(
      `cannot reach NATS at nats://127.0.0.1:${port}`,
    );
    expect((error as BerthError).message).not.toContain('hunter2');
  });
});
