import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  resultBatchCodec,
  resultsSubject,
  STORED_SUBJECT,
  storedNoticeCodec,
} from '../../contracts/index.ts';
import { connectNats, type NatsConnectOptions } from '../../lib/nats/connect.ts';
import { ensureCa, issueCertificate, type CertificateFiles } from '../../lib/nats/fleet-tls.ts';
import { startNatsServer, type NatsServer } from '../../lib/servers/nats-server.ts';
import { runBerth, spawnBerth, type BerthProcess } from '../../support/cli.ts';
import { ensureClusterStreams } from '../../support/nats-cluster.ts';
import { startWrittenCluster, type WrittenCluster } from '../../support/nats-written-cluster.ts';
import { freePort } from '../../support/free-port.ts';
import { makeResult } from '../../support/results.ts';
import { cleanUp, removeDir, startTestNats, tempDir } from '../../support/servers.ts';

const HOST = 'tls-host';
const NODES = ['nats-1', 'nats-2', 'nats-3'];

/** The TLS of a connection as a node's /connz reports it (empty when the connection is plain). */
interface Connz {
  readonly connections: readonly { readonly name?: string; readonly tls_version?: string }[];
}

async function connz(httpPort: number): Promise<Connz> {
  const answer = await fetch(`http://127.0.0.1:${httpPort}/connz?state=all&limit=1024`);
  return (await answer.json()) as Connz;
}

/** The environment a Berth process of a role signs in with, as nats-config printed it. */
const envOf = (config: string, role: string, mutual: boolean): Record<string, string> => ({
  NATS_NKEY_FILE: join(config, `${role}.nk`),
  NATS_CA: join(config, 'ca.crt'),
  ...(mutual
    ? { NATS_CERT: join(config, `${role}.crt`), NATS_KEY: join(config, `${role}.key`) }
    : {}),
});

/** Runs berth nats-config --tls for HOST, its node certificates naming 127.0.0.1. */
async function writeFleetConfig(outDir: string, args: readonly string[]): Promise<void> {
  const written = await runBerth([
    'nats-config',
    ...['--hosts', HOST, '--out-dir', outDir, '--tls', '--tls-hosts', '127.0.0.1'],
    ...args,
  ]);
  expect(written.code, written.stderr).toBe(0);
}

/** The message of a rejected connection, which must be one line. */
async function refusal(options: NatsConnectOptions): Promise<string> {
  let nc: NatsConnection;
  try {
    nc = await connectNats(options);
  } catch (error) {
    const message = (error as Error).message;
    expect(message).not.toContain('\n');
    expect(message).not.toContain('PRIVATE KEY');
    return message;
  }
  await nc.close();
  throw new Error('the connection was not refused');
}

describe('a 3-node NATS cluster with mutual TLS from berth nats-config --tls --tls-verify', () => {
  let dir: string;
  let config: string;
  let cluster: WrittenCluster;
  let admin: NatsConnection;
  let agent: NatsConnection;
  let ingest: BerthProcess | undefined;
  /** A client certificate of another CA, named as the admin's. */
  let stranger: CertificateFiles;
  const stops: (() => Promise<unknown>)[] = [];

  /** A connection of a role, with the files nats-config wrote for it. */
  const signIn = async (role: string, name: string): Promise<NatsConnection> => {
    const nc = await connectNats({
      url: cluster.url,
      name,
      nkeyFile: join(config, `${role}.nk`),
      tls: {
        natsCa: join(config, 'ca.crt'),
        natsCert: join(config, `${role}.crt`),
        natsKey: join(config, `${role}.key`),
      },
    });
    stops.push(() => nc.close());
    return nc;
  };

  beforeAll(async () => {
    dir = await tempDir('nats-tls');
    stops.push(() => removeDir(dir));
    config = join(dir, 'config');
    await writeFleetConfig(config, ['--nodes', NODES.join(','), '--tls-verify']);
    cluster = await startWrittenCluster({ configDir: config, nodes: NODES, dataDir: dir });
    stops.push(() => cluster.stop());
    admin = await signIn('admin', 'berth-admin');
    await ensureClusterStreams(admin, { replicas: 3 }, 60_000);
    agent = await signIn(`agent-${HOST}`, `berth-agent-${HOST}`);
    await mkdir(join(dir, 'other'));
    stranger = await issueCertificate({
      ca: await ensureCa(join(dir, 'other')),
      dir: join(dir, 'other'),
      base: 'stranger',
      commonName: 'admin',
      usage: 'client',
    });
  }, 120_000);

  afterAll(async () => {
    if (ingest !== undefined && ingest.child.exitCode === null) {
      ingest.child.kill('SIGTERM');
      await ingest.exited();
    }
    await cleanUp(...[...stops].reverse());
  }, 60_000);

  it('writes a CA, a certificate per node naming it, and keys only their owner reads', async () => {
    for (const file of ['ca.key', ...NODES.map((node) => `nats-server-${node}.key`)]) {
      expect((await stat(join(config, file))).mode & 0o777, file).toBe(0o600);
    }
    for (const role of [`agent-${HOST}`, 'ingest', 'advisor', 'admin']) {
      expect((await stat(join(config, `${role}.key`))).mode & 0o777, role).toBe(0o600);
    }
    const nodeConfig = await readFile(join(config, 'nats-server-nats-1.conf'), 'utf8');
    expect(nodeConfig).toContain(`cert_file: "${join(config, 'nats-server-nats-1.crt')}"`);
    expect(nodeConfig).toContain('verify: true');
    // Client connections and routes each have their TLS block.
    expect(nodeConfig.match(/tls \{/g)).toHaveLength(2);
  });

  it('an agent publishes and berth ingest stores over TLS, and the nodes report every connection as TLS', async () => {
    const stored = admin.subscribe(STORED_SUBJECT);
    ingest = spawnBerth(['ingest'], {
      NATS_URL: cluster.url,
      ...envOf(config, 'ingest', true),
      BERTH_DATA_DIR: join(dir, 'ingest'),
      BERTH_METRICS_PORT: '0',
      BERTH_STREAM_REPLICAS: '3',
      BERTH_INGEST_BATCH_WAIT_MS: '50',
    });
    await ingest.waitForLine(/berth ingest ready/, 60_000);
    const batch = makeResult(1, HOST);
    await jetstream(agent, { timeout: 5000 }).publish(
      resultsSubject(HOST),
      resultBatchCodec.encode(batch),
      { msgID: batch.id },
    );
    let storedHosts: readonly string[] = [];
    for await (const message of stored) {
      const notice = storedNoticeCodec.decode(message.data, 1 << 20);
      storedHosts = notice.ok ? notice.value.hosts : [];
      if (storedHosts.includes(HOST)) break;
    }
    expect(storedHosts).toContain(HOST);

    const connections = (
      await Promise.all(cluster.nodes.map((node) => connz(node.httpPort)))
    ).flatMap((report) => report.connections);
    const names = connections.map((connection) => connection.name);
    expect(names).toEqual(expect.arrayContaining(['berth-ingest', `berth-agent-${HOST}`]));
    for (const connection of connections) {
      expect(connection.tls_version, connection.name).toMatch(/^1\.[23]$/);
    }
  }, 120_000);

  it('refuses a client without the CA, without a certificate, or with one of another CA', async () => {
    const url = cluster.url;
    const name = 'berth-admin';
    const nkeyFile = join(config, 'admin.nk');
    expect(await refusal({ url, name, nkeyFile, tls: {} })).toMatch(
      /^NATS at .* presented a certificate this client does not trust \(setting --nats-ca \/ NATS_CA, not set\): /,
    );
    expect(await refusal({ url, name, nkeyFile, tls: { natsCa: join(config, 'ca.crt') } })).toMatch(
      /^NATS at .* refused this client's certificate \(setting --nats-cert \/ NATS_CERT, not set\): /,
    );
    expect(
      await refusal({
        url,
        name,
        nkeyFile,
        tls: {
          natsCa: join(config, 'ca.crt'),
          natsCert: stranger.certFile,
          natsKey: stranger.keyFile,
        },
      }),
    ).toMatch(
      new RegExp(
        `^NATS at .* refused this client's certificate \\(setting --nats-cert / NATS_CERT, ${stranger.certFile}\\): `,
      ),
    );
  }, 60_000);

  it('berth ingest with the wrong CA exits with one line naming the setting', async () => {
    const run = await runBerth(['ingest'], {
      NATS_URL: cluster.url,
      ...envOf(config, 'ingest', true),
      NATS_CA: join(dir, 'other', 'ca.crt'),
      BERTH_DATA_DIR: join(dir, 'wrong-ca'),
      BERTH_METRICS_PORT: '0',
    });
    expect(run.code).not.toBe(0);
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('--nats-ca / NATS_CA');
    expect(lines[0]).toContain('does not trust');
    expect(run.stderr).not.toContain('PRIVATE KEY');
  }, 60_000);
});

describe('a NATS server with TLS from berth nats-config --tls', () => {
  let dir: string;
  let config: string;
  let server: NatsServer;
  let httpPort: number;
  const stops: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    dir = await tempDir('nats-tls-one');
    stops.push(() => removeDir(dir));
    config = join(dir, 'config');
    await writeFleetConfig(config, ['--store-dir', join(dir, 'js')]);
    httpPort = await freePort();
    server = await startNatsServer({
      dataDir: join(dir, 'js'),
      configFile: join(config, 'nats-server.conf'),
      extraArgs: ['--http_port', String(httpPort)],
    });
    stops.push(() => server.stop());
  }, 60_000);

  afterAll(async () => {
    await cleanUp(...[...stops].reverse());
  });

  /** A node certificate for one name, signed by the CA nats-config made. */
  const nodeCertificate = (base: string, name: string, days?: number): Promise<CertificateFiles> =>
    issueCertificate({
      ca: { certFile: join(config, 'ca.crt'), keyFile: join(config, 'ca.key') },
      dir,
      base,
      commonName: name,
      usage: 'node',
      names: [name],
      ...(days === undefined ? {} : { days }),
    });

  const admin = (): Pick<NatsConnectOptions, 'name' | 'nkeyFile'> => ({
    name: 'berth-admin',
    nkeyFile: join(config, 'admin.nk'),
  });

  it('takes a client with the CA and no certificate, over TLS', async () => {
    const nc = await connectNats({
      url: server.url,
      ...admin(),
      tls: { natsCa: join(config, 'ca.crt') },
    });
    try {
      await nc.flush();
      expect(nc.info?.tls_required).toBe(true);
    } finally {
      await nc.close();
    }
  });

  it('refuses a server reached by a name its certificate does not hold', async () => {
    expect(
      await refusal({
        url: `nats://localhost:${server.port}`,
        ...admin(),
        tls: { natsCa: join(config, 'ca.crt') },
      }),
    ).toMatch(
      /^NATS at nats:\/\/localhost:\d+ presented a certificate that does not name the address it was reached at \(setting --nats-ca \/ NATS_CA, /,
    );
  });

  it('refuses a server whose certificate has expired', async () => {
    const expired = await nodeCertificate('expired', '127.0.0.1', -1);
    const text = (await readFile(join(config, 'nats-server.conf'), 'utf8'))
      .replace(join(config, 'nats-server.crt'), expired.certFile)
      .replace(join(config, 'nats-server.key'), expired.keyFile);
    const expiredConfig = join(dir, 'expired.conf');
    await writeFile(expiredConfig, text);
    const old = await startNatsServer({
      dataDir: join(dir, 'js-expired'),
      configFile: expiredConfig,
    });
    try {
      expect(
        await refusal({ url: old.url, ...admin(), tls: { natsCa: join(config, 'ca.crt') } }),
      ).toMatch(
        /presented a certificate outside its validity \(setting --nats-ca \/ NATS_CA, .*certificate has expired/,
      );
    } finally {
      await old.stop();
    }
  });

  it('with a CA set, refuses a server that does not offer TLS before sending anything', async () => {
    const plain = await startTestNats();
    try {
      expect(
        await refusal({
          url: plain.url,
          name: 'berth-admin',
          tls: { natsCa: join(config, 'ca.crt') },
        }),
      ).toMatch(
        /^NATS at .* does not offer TLS, which --nats-ca \/ NATS_CA asks for: nothing was sent$/,
      );
    } finally {
      await plain.stop();
    }
  });

  it('a client certificate without its key is a configuration error naming both settings', async () => {
    expect(
      await refusal({
        url: server.url,
        ...admin(),
        tls: { natsCa: join(config, 'ca.crt'), natsCert: join(config, 'ca.crt') },
      }),
    ).toBe(
      'a NATS client certificate needs both --nats-cert / NATS_CERT and --nats-key / NATS_KEY',
    );
  });

  it('berth up on it connects (for ingest and the advisor) and starts its local agent over TLS', async () => {
    const up = spawnBerth(['up', '--port', '0', '--metrics-port', '0'], {
      NATS_URL: server.url,
      ...envOf(config, 'admin', false),
      BERTH_DATA_DIR: join(dir, 'up'),
      BERTH_AGENT_SUITE: 'none',
    });
    try {
      await up.waitForLine(/dashboard ready/, 60_000);
      await up.waitForLine(/local agent: host \S+/, 120_000);
      const { connections } = await connz(httpPort);
      expect(connections.map((connection) => connection.name)).toEqual(
        expect.arrayContaining(['berth-up', expect.stringMatching(/^berth-agent-/)]),
      );
      for (const connection of connections) {
        expect(connection.tls_version, connection.name).toMatch(/^1\.[23]$/);
      }
    } finally {
      up.child.kill('SIGINT');
      await up.exited();
    }
  }, 180_000);

  it('berth agent install writes the TLS settings into the service’s environment file', async () => {
    const root = join(dir, 'root');
    await mkdir(join(root, 'etc/systemd/system'), { recursive: true });
    const files = envOf(config, `agent-${HOST}`, false);
    const installed = await runBerth(
      ['agent', 'install', '--root', root, '--nats-url', server.url, '--host-id', HOST],
      { ...files, NATS_CERT: join(config, 'client.crt'), NATS_KEY: join(config, 'client.key') },
    );
    expect(installed.code, installed.stderr).toBe(0);
    const env = await readFile(join(root, 'etc/berth/agent.env'), 'utf8');
    for (const [variable, value] of Object.entries({
      ...files,
      NATS_CERT: join(config, 'client.crt'),
      NATS_KEY: join(config, 'client.key'),
    })) {
      expect(env).toContain(`${variable}="${value}"\n`);
    }
    expect(env).not.toContain('PRIVATE KEY');
  });

  it('nats-config checks an operator’s own files before it copies them', async () => {
    const own = await nodeCertificate('own', 'nats.example.org');
    const old = await nodeCertificate('own-expired', 'nats.example.org', -1);
    const out = join(dir, 'own-config');
    const base = [
      'nats-config',
      '--hosts',
      HOST,
      '--out-dir',
      out,
      '--tls-ca',
      join(config, 'ca.crt'),
    ];
    const good = await runBerth([...base, '--tls-cert', own.certFile, '--tls-key', own.keyFile]);
    expect(good.code, good.stderr).toBe(0);
    expect(await readFile(join(out, 'nats-server.crt'), 'utf8')).toBe(
      await readFile(own.certFile, 'utf8'),
    );
    expect((await stat(join(out, 'nats-server.key'))).mode & 0o777).toBe(0o600);
    const wrongKey = await runBerth([
      ...base,
      '--tls-cert',
      own.certFile,
      '--tls-key',
      old.keyFile,
    ]);
    expect(wrongKey.code).not.toBe(0);
    expect(wrongKey.stderr.trim()).toBe(
      `berth: --tls-key ${old.keyFile} is not the key of --tls-cert ${own.certFile} [BERTH_ERR_PARAMETER]`,
    );
    const expired = await runBerth([...base, '--tls-cert', old.certFile, '--tls-key', old.keyFile]);
    expect(expired.code).not.toBe(0);
    expect(expired.stderr).toContain('certificate has expired');
    expect(expired.stderr).not.toContain('PRIVATE KEY');
    for (const [args, message] of [
      [['--tls'], '--tls needs the names clients reach the server by'],
      [['--tls-verify'], '--tls-hosts and --tls-verify need --tls'],
      [
        ['--tls-ca', own.certFile],
        'bring your own TLS files with all of --tls-ca, --tls-cert and --tls-key',
      ],
    ] as const) {
      const refused = await runBerth(['nats-config', '--hosts', HOST, '--out-dir', out, ...args]);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain(message);
    }
  });
});
