import { nkeys } from '@nats-io/nats-core';
import { describe, expect, it } from 'vitest';
import { BerthError } from '../../contracts/index.ts';
import {
  fleetRoles,
  natsServerConfig,
  permissionsOf,
  type FleetUser,
} from '../../lib/nats/fleet-config.ts';

const userOf = (role: FleetUser['role']): FleetUser => ({
  role,
  publicKey: nkeys.createUser().getPublicKey(),
});

const codeOf = (run: () => unknown): string | undefined => {
  try {
    run();
  } catch (error) {
    return error instanceof BerthError ? error.code : 'not a BerthError';
  }
  return undefined;
};

describe('fleetRoles', () => {
  it('gives an agent per host, then ingest, advisor and admin', () => {
    expect(fleetRoles(['a', 'b-2'])).toEqual([
      'agent-a',
      'agent-b-2',
      'ingest',
      'advisor',
      'admin',
    ]);
  });

  it('refuses no hosts, a host twice and an id that is not a subject token', () => {
    expect(codeOf(() => fleetRoles([]))).toBe('BERTH_ERR_PARAMETER');
    expect(codeOf(() => fleetRoles(['a', 'a']))).toBe('BERTH_ERR_PARAMETER');
    expect(codeOf(() => fleetRoles(['a.>']))).toBe('BERTH_ERR_UNSAFE_ID');
    expect(codeOf(() => fleetRoles(['*']))).toBe('BERTH_ERR_UNSAFE_ID');
  });
});

describe('permissionsOf', () => {
  it('lets an agent publish its own results, inventory and progress, and read its own jobs', () => {
    expect(permissionsOf('agent-a')).toEqual({
      publish: ['berth.results.a', 'berth.inventory.a', 'berth.progress.a'],
      subscribe: ['berth.jobs.a', '_INBOX.berth-agent-a.>'],
      allowResponses: true,
    });
  });

  it('gives ingest the results consumer, the stream upkeep, dead letters and notices, and no agent subject', () => {
    const { publish, subscribe, allowResponses } = permissionsOf('ingest');
    expect(publish).toContain('$JS.API.CONSUMER.MSG.NEXT.BERTH_RESULTS.berth-ingest');
    expect(publish).toContain('$JS.ACK.BERTH_RESULTS.berth-ingest.>');
    expect(publish).toContain('$JS.API.STREAM.UPDATE.BERTH_RESULTS');
    expect(publish).toEqual(expect.arrayContaining(['berth.dlq', 'berth.stored']));
    expect(publish.filter((subject) => !subject.startsWith('$JS.'))).toEqual([
      'berth.dlq',
      'berth.stored',
    ]);
    expect(publish.some((subject) => subject.includes('DELETE'))).toBe(false);
    expect(subscribe).toEqual(['_INBOX.berth-ingest.>']);
    expect(allowResponses).toBe(false);
  });

  it('gives the advisor the inventory and dead-letter streams, notices, progress and job requests, and no stream upkeep', () => {
    const { publish, subscribe } = permissionsOf('advisor');
    expect(publish.filter((subject) => !subject.startsWith('$JS.'))).toEqual(['berth.jobs.*']);
    expect(publish.filter((subject) => subject.includes('CONSUMER'))).toEqual([
      '$JS.API.CONSUMER.CREATE.BERTH_INVENTORY.>',
      '$JS.API.CONSUMER.INFO.BERTH_INVENTORY.*',
      '$JS.API.CONSUMER.DELETE.BERTH_INVENTORY.*',
      '$JS.API.CONSUMER.MSG.NEXT.BERTH_INVENTORY.*',
      '$JS.API.CONSUMER.CREATE.BERTH_DLQ.>',
      '$JS.API.CONSUMER.INFO.BERTH_DLQ.*',
      '$JS.API.CONSUMER.DELETE.BERTH_DLQ.*',
      '$JS.API.CONSUMER.MSG.NEXT.BERTH_DLQ.*',
    ]);
    expect(publish.some((subject) => /STREAM\.(UPDATE|DELETE|PURGE)/.test(subject))).toBe(false);
    expect(subscribe).toEqual([
      'berth.stored',
      'berth.progress.*',
      '_INBOX.berth-advisor.>',
      '_INBOX.berth-advise.>',
    ]);
  });

  it('no one but admin may use a wildcard over every subject', () => {
    for (const role of fleetRoles(['a'])) {
      const { publish, subscribe } = permissionsOf(role);
      const open = [...publish, ...subscribe].some((subject) => subject === '>');
      expect(open).toBe(role === 'admin');
    }
  });
});

describe('natsServerConfig', () => {
  it('writes listen, JetStream and one nkey user with its permissions per role', () => {
    const users = fleetRoles(['a']).map(userOf);
    const text = natsServerConfig(
      { listen: '0.0.0.0:4222', storeDir: '/var/lib/berth/nats' },
      users,
    );
    expect(text).toContain('listen: "0.0.0.0:4222"');
    expect(text).toContain('jetstream {\n  store_dir: "/var/lib/berth/nats"\n}');
    for (const user of users) expect(text).toContain(`nkey: "${user.publicKey}"`);
    expect(text).toContain('"berth.results.a"');
    expect(text.match(/allow_responses: true/g)).toHaveLength(1);
    expect(text).not.toContain('cluster');
    expect(text).not.toMatch(/password|SU[A-Z2-7]{56}/);
  });

  it('writes the cluster block and the server name of a node', () => {
    const text = natsServerConfig(
      {
        listen: '0.0.0.0:4222',
        storeDir: '/data',
        cluster: {
          serverName: 'n1',
          listen: '0.0.0.0:6222',
          routes: ['nats-route://n2:6222', 'nats-route://n3:6222'],
        },
      },
      [userOf('admin')],
    );
    expect(text).toContain('server_name: "n1"');
    expect(text).toContain(
      'cluster {\n  name: "berth"\n  listen: "0.0.0.0:6222"\n  routes: ["nats-route://n2:6222", "nats-route://n3:6222"]\n}',
    );
  });

  it('writes a TLS block for clients, asking for their certificates only with verifyClients, and one for the routes', () => {
    const tls = { caFile: '/c/ca.crt', certFile: '/c/n1.crt', keyFile: '/c/n1.key' };
    const cluster = { serverName: 'n1', listen: '0.0.0.0:6222', routes: ['nats-route://n2:6222'] };
    const block = (indent: string, verify: boolean): string =>
      [
        `${indent}tls {`,
        `${indent}  cert_file: "/c/n1.crt"`,
        `${indent}  key_file: "/c/n1.key"`,
        `${indent}  ca_file: "/c/ca.crt"`,
        ...(verify ? [`${indent}  verify: true`] : []),
        `${indent}  timeout: 5`,
        `${indent}}`,
      ].join('\n');
    for (const verifyClients of [false, true]) {
      const text = natsServerConfig(
        { listen: '0.0.0.0:4222', storeDir: '/data', cluster, tls: { ...tls, verifyClients } },
        [userOf('admin')],
      );
      expect(text).toContain(`\n${block('', verifyClients)}\njetstream {`);
      expect(text).toContain(`routes: ["nats-route://n2:6222"]\n${block('  ', true)}\n}`);
    }
    const plain = natsServerConfig({ listen: '0.0.0.0:4222', storeDir: '/data', cluster }, [
      userOf('admin'),
    ]);
    expect(plain).not.toContain('tls');
  });

  it('escapes quotes and backslashes, and refuses control characters and keys that are not user keys', () => {
    const text = natsServerConfig({ listen: ':4222', storeDir: 'C:\\nats "store"' }, []);
    expect(text).toContain('store_dir: "C:\\\\nats \\"store\\""');
    expect(codeOf(() => natsServerConfig({ listen: ':4222', storeDir: 'a\nb' }, []))).toBe(
      'BERTH_ERR_PARAMETER',
    );
    const seed = new TextDecoder().decode(nkeys.createUser().getSeed());
    expect(
      codeOf(() =>
        natsServerConfig({ listen: ':4222', storeDir: '/d' }, [{ role: 'admin', publicKey: seed }]),
      ),
    ).toBe('BERTH_ERR_PARAMETER');
  });
});
