import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { resultsSubject } from '../../contracts/index.ts';
import { SETTINGS } from '../../lib/config.ts';
import { connectNats } from '../../lib/nats/connect.ts';
import { RESULTS_STREAM } from '../../lib/nats/streams.ts';
import { ensureClusterStreams } from '../../support/nats-cluster.ts';
import { runBerth } from '../../support/cli.ts';
import { removeDir, tempDir } from '../../support/servers.ts';
import { waitFor } from '../../support/wait.ts';

const read = (path: string): string =>
  readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

interface Service {
  readonly image?: string;
  readonly build?: string | { readonly context?: string };
  readonly command?: string | readonly string[];
  readonly environment?: Readonly<Record<string, string | number | boolean | null>>;
  readonly depends_on?: readonly string[] | Readonly<Record<string, unknown>>;
  readonly deploy?: { readonly replicas?: number };
  readonly ports?: readonly string[];
  readonly privileged?: boolean;
  readonly cgroup?: string;
  readonly user?: string;
  readonly init?: boolean;
  readonly stop_grace_period?: string;
  readonly volumes?: readonly string[];
}

interface Compose {
  readonly services: Readonly<Record<string, Service>>;
}

const parseCompose = (text: string): Compose => parse(text, { merge: true }) as Compose;

const commandOf = (service: Service): string[] =>
  typeof service.command === 'string'
    ? service.command.split(/\s+/).filter((word) => word !== '')
    : [...(service.command ?? [])];

/** The `berth` command of a command line: its words before the first option. */
const subcommandOf = (service: Service): string[] => {
  const command = commandOf(service);
  const firstOption = command.findIndex((word) => word.startsWith('-'));
  return firstOption === -1 ? command : command.slice(0, firstOption);
};

/** The value after an option of a command line. */
const optionOf = (service: Service, option: string): string | undefined => {
  const command = commandOf(service);
  const at = command.indexOf(option);
  return at === -1 ? undefined : command[at + 1];
};

/** The NATS user a Berth service signs in as: the role `berth nats-config` wrote a seed for. */
const roleOf = (service: Service): string | undefined => {
  const command = subcommandOf(service).join(' ');
  if (command === 'ingest' || command === 'advisor') return command;
  if (command === 'agent start') return `agent-${String(service.environment?.['BERTH_HOST_ID'])}`;
  return undefined;
};

/** A Berth service runs the image built from ./Dockerfile. */
const isBerth = (service: Service): boolean =>
  service.build === '.' || (typeof service.build === 'object' && service.build.context === '.');

/** `berth <command> --help`, white space squeezed, for every command a compose file names. */
type HelpOf = (command: readonly string[]) => string;

const KNOWN_ENV = new Set(Object.values(SETTINGS).map((setting) => setting.env));

/**
 * What is wrong with a compose file: a Berth service whose command is not a `berth` command,
 * or that sets a variable the config module does not know or that its command does not read,
 * or that connects to NATS without checking it against the CA of nats-config's TLS;
 * a dependency on a service that is not there; a NATS or ClickHouse address that names no
 * service of the file, or ClickHouse credentials that differ from the server's.
 */
function composeProblems(compose: Compose, helpOf: HelpOf): string[] {
  const problems: string[] = [];
  const names = new Set(Object.keys(compose.services));
  const clickhouse = compose.services['clickhouse']?.environment ?? {};
  const natsConfig = compose.services['nats-config'];
  const seedDir = optionOf(natsConfig ?? {}, '--out-dir');
  const agentHosts = (optionOf(natsConfig ?? {}, '--hosts') ?? '').split(',');
  const natsTls = commandOf(natsConfig ?? {}).includes('--tls');
  for (const [name, service] of Object.entries(compose.services)) {
    const dependsOn = service.depends_on ?? [];
    // Array.isArray narrows a readonly array to any[]: say again what it holds.
    const others = Array.isArray(dependsOn)
      ? (dependsOn as readonly string[])
      : Object.keys(dependsOn);
    for (const other of others) {
      if (!names.has(other)) problems.push(`${name}: depends on ${other}, which is not a service`);
    }
    if (!isBerth(service)) continue;
    const command = subcommandOf(service);
    const help = helpOf(command);
    if (!help.startsWith(`Usage: berth ${command.join(' ')} [options]`)) {
      problems.push(`${name}: "berth ${command.join(' ')}" is not a command of the CLI`);
      continue;
    }
    for (const option of commandOf(service).filter((word) => word.startsWith('--'))) {
      if (!help.includes(`${option} `)) {
        problems.push(`${name}: berth ${command.join(' ')} has no option ${option}`);
      }
    }
    const role = roleOf(service);
    const seed = service.environment?.['NATS_NKEY_FILE'];
    if (role !== undefined && seed !== `${seedDir}/${role}.nk`) {
      problems.push(`${name}: NATS_NKEY_FILE is not the seed nats-config writes for ${role}`);
    }
    const ca = service.environment?.['NATS_CA'];
    if (role !== undefined && (!natsTls || ca !== `${seedDir}/ca.crt`)) {
      problems.push(`${name}: NATS_CA is not the CA nats-config --tls writes`);
    }
    if (role !== undefined && !(service.volumes ?? []).includes(`nats-config:${seedDir}:ro`)) {
      problems.push(`${name}: does not mount the nats-config volume at ${seedDir}`);
    }
    if (role?.startsWith('agent-') === true && !agentHosts.includes(role.slice('agent-'.length))) {
      problems.push(`${name}: nats-config's --hosts does not name ${role.slice('agent-'.length)}`);
    }
    for (const [variable, value] of Object.entries(service.environment ?? {})) {
      if (!KNOWN_ENV.has(variable)) {
        problems.push(`${name}: ${variable} is not a setting of lib/config.ts`);
      } else if (!help.includes(`[env ${variable};`) && !help.includes(`[env ${variable}]`)) {
        problems.push(`${name}: berth ${command.join(' ')} does not read ${variable}`);
      }
      const text = String(value);
      if (variable === 'NATS_URL') {
        for (const url of text.split(',')) {
          if (!names.has(new URL(url).hostname)) problems.push(`${name}: ${url} is no service`);
        }
      }
      if (variable === 'CLICKHOUSE_URL' && new URL(text).hostname !== 'clickhouse') {
        problems.push(`${name}: ${text} is not the clickhouse service`);
      }
      const server = {
        CLICKHOUSE_USER: 'CLICKHOUSE_USER',
        CLICKHOUSE_PASSWORD: 'CLICKHOUSE_PASSWORD',
        CLICKHOUSE_DATABASE: 'CLICKHOUSE_DB',
      }[variable];
      if (server !== undefined && clickhouse[server] !== value) {
        problems.push(`${name}: ${variable} differs from the clickhouse service's ${server}`);
      }
    }
  }
  return problems;
}

/** Whether something accepts connections on a loopback port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      resolve(false);
    });
  });
}

/** A port free on loopback now. */
async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

describe('docker-compose.yml and the Dockerfile', () => {
  const text = read('docker-compose.yml');
  const compose = parseCompose(text);
  const helps = new Map<string, string>();
  const helpOf: HelpOf = (command) => helps.get(command.join(' ')) ?? '';

  beforeAll(async () => {
    const commands = new Set([
      ...Object.values(compose.services)
        .filter(isBerth)
        .map((service) => subcommandOf(service).join(' ')),
      'ingst',
    ]);
    await Promise.all(
      [...commands].map(async (command) => {
        const run = await runBerth([...command.split(' '), '--help']);
        helps.set(command, run.stdout.replace(/\s+/g, ' '));
      }),
    );
  });

  it('runs Berth commands with settings those commands read, against its own servers', () => {
    expect(composeProblems(compose, helpOf)).toEqual([]);
  });

  it('finds an unknown command, an unknown variable and one the command does not read', () => {
    const broken = parseCompose(
      text
        .replace('command: [ingest]', 'command: [ingst]')
        .replace('BERTH_ADVISOR_HOST: 0.0.0.0', 'BERTH_ADVISOR_HOSTNAME: 0.0.0.0')
        .replace('BERTH_DATA_DIR: /var/lib/berth', 'BERTH_METRICS_PORT: "9464"')
        .replace('CLICKHOUSE_DATABASE: berth', 'CLICKHOUSE_DATABASE: other')
        .replace('- --nodes', '- --node')
        .replace(
          'NATS_NKEY_FILE: /nats-config/advisor.nk',
          'NATS_NKEY_FILE: /nats-config/ingest.nk',
        )
        .replace('BERTH_HOST_ID: berth-agent-1', 'BERTH_HOST_ID: berth-agent-2')
        .replace('      NATS_CA: /nats-config/ca.crt\n      # The id', '      # The id'),
    );
    expect(composeProblems(broken, helpOf)).toEqual([
      'nats-config: berth nats-config has no option --node',
      'ingest: "berth ingst" is not a command of the CLI',
      'advisor: NATS_NKEY_FILE is not the seed nats-config writes for advisor',
      "advisor: CLICKHOUSE_DATABASE differs from the clickhouse service's CLICKHOUSE_DB",
      'advisor: BERTH_ADVISOR_HOSTNAME is not a setting of lib/config.ts',
      'agent: NATS_NKEY_FILE is not the seed nats-config writes for agent-berth-agent-2',
      'agent: NATS_CA is not the CA nats-config --tls writes',
      "agent: nats-config's --hosts does not name berth-agent-2",
      'agent: berth agent start does not read BERTH_METRICS_PORT',
    ]);
  });

  it('has the fleet: 3 NATS nodes in one JetStream cluster, ClickHouse, 2 ingest, 2 advisors, 1 agent', () => {
    const { services } = compose;
    const nats = Object.keys(services).filter((name) => /^nats-\d+$/.test(name));
    expect(nats).toEqual(['nats-1', 'nats-2', 'nats-3']);
    // Each node runs the configuration nats-config writes for it, once that has run.
    expect(optionOf(services['nats-config'] ?? {}, '--nodes')?.split(',')).toEqual(nats);
    for (const name of nats) {
      expect(services[name]?.image).toMatch(/^nats:2\.\d+/);
      expect(commandOf(services[name] ?? {})).toEqual([
        '-c',
        `/nats-config/nats-server-${name}.conf`,
        '--http_port',
        '8222',
      ]);
      expect(services[name]?.volumes).toEqual([`${name}:/data`, 'nats-config:/nats-config:ro']);
      expect(services[name]?.depends_on).toEqual({
        'nats-config': { condition: 'service_completed_successfully' },
      });
    }
    expect(optionOf(services['nats-config'] ?? {}, '--store-dir')).toBe('/data');
    // Client connections and routes are TLS; the CLI of the Docker host reaches nats-1 by
    // loopback through its published port, so the certificates name that too.
    expect(commandOf(services['nats-config'] ?? {})).toContain('--tls');
    expect(optionOf(services['nats-config'] ?? {}, '--tls-hosts')?.split(',')).toEqual(
      expect.arrayContaining(['localhost', '127.0.0.1']),
    );
    expect(services['clickhouse']?.image).toMatch(/^clickhouse\/clickhouse-server:2[5-9]\.\d+$/);
    expect(services['ingest']?.deploy?.replicas).toBe(2);
    expect(services['advisor']?.deploy?.replicas).toBe(2);
    expect(services['advisor']?.ports).toEqual(['7700-7701:7700']);
    const agents = Object.values(services).filter(
      (service) => commandOf(service).join(' ') === 'agent start',
    );
    expect(agents).toHaveLength(1);
    expect(agents[0]).toMatchObject({ privileged: true, cgroup: 'host', init: true });
    expect(agents[0]?.volumes).toEqual([
      'agent-data:/var/lib/berth',
      'nats-config:/nats-config:ro',
    ]);
  });

  it('documents in docs/deploy.md every variable it takes from the shell', () => {
    const page = read('docs/deploy.md');
    const fromShell = [...text.matchAll(/\$\{(\w+)/g)].map((match) => match[1] ?? '');
    expect(new Set(fromShell)).toEqual(new Set(['CLICKHOUSE_PASSWORD', 'BERTH_ADVISOR_TOKEN']));
    for (const variable of fromShell) expect(page).toContain(`\`${variable}\``);
    for (const variable of Object.values(compose.services).flatMap((service) =>
      isBerth(service) ? Object.keys(service.environment ?? {}) : [],
    )) {
      expect(read('docs/configuration.md')).toContain(`\`${variable}\``);
    }
  });

  it('builds every Berth service from the Dockerfile: Node 20 on bookworm-slim, berth as entry point', () => {
    const dockerfile = read('Dockerfile');
    const instructions = dockerfile
      .replace(/\\\n/g, ' ')
      .split('\n')
      .filter((line) => /^[A-Z]+ /.test(line));
    expect(instructions.filter((line) => line.startsWith('FROM '))).toEqual([
      'FROM node:20-bookworm-slim',
    ]);
    expect(instructions).toContain('WORKDIR /opt/berth');
    expect(instructions).toContain('ENTRYPOINT ["node", "bin/berth.js"]');
    // The agent's Debian packages: those of scripts/setup.sh but the servers.
    const setup = /APT_PACKAGES=\(([^)]*)\)/.exec(read('scripts/setup.sh'))?.[1]?.split(' ') ?? [];
    const install = instructions.find((line) => line.includes('apt-get install')) ?? '';
    expect(setup.length).toBeGreaterThan(0);
    for (const pkg of setup.filter((name) => !name.endsWith('-server'))) {
      expect(install.split(/\s+/), pkg).toContain(pkg);
    }
    const berth = Object.entries(compose.services).filter(([, service]) => isBerth(service));
    expect(berth.map(([name]) => name).sort()).toEqual([
      'advisor',
      'agent',
      'ingest',
      'nats-config',
    ]);
    for (const [, service] of berth) expect(service.image).toBe('berth:local');
  });

  it("nats-config's configuration makes the nodes one JetStream cluster, and holds the agent to its host", async () => {
    const services = compose.services;
    const nodes = Object.keys(services).filter(
      (name) => name.startsWith('nats-') && name !== 'nats-config',
    );
    const natsConfig = services['nats-config'] ?? {};
    const seedDir = optionOf(natsConfig, '--out-dir') ?? '';
    const dir = await tempDir('nats-cluster');
    const ports = new Map<string, { client: number; cluster: number; http: number }>();
    for (const name of nodes) {
      ports.set(name, {
        client: await freePort(),
        cluster: await freePort(),
        http: await freePort(),
      });
    }
    const port = (name: string): { client: number; cluster: number; http: number } => {
      const found = ports.get(name);
      if (found === undefined) throw new Error(`no ports for ${name}`);
      return found;
    };
    const servers: ChildProcess[] = [];
    const connections: NatsConnection[] = [];
    try {
      // The nats-config service's command as it is, writing to a folder of the test.
      const written = await runBerth(
        commandOf(natsConfig).map((arg) => (arg === seedDir ? join(dir, 'config') : arg)),
      );
      expect(written.code, written.stderr).toBe(0);
      for (const name of nodes) {
        // The node's configuration, each address moved to loopback and a port of its own.
        const config = (await readFile(join(dir, 'config', `nats-server-${name}.conf`), 'utf8'))
          .replace('listen: "0.0.0.0:4222"', `listen: "127.0.0.1:${port(name).client}"`)
          .replace('listen: "0.0.0.0:6222"', `listen: "127.0.0.1:${port(name).cluster}"`)
          .replace('store_dir: "/data"', `store_dir: "${join(dir, name)}"`)
          .replace(
            /nats-route:\/\/(nats-\d):6222/g,
            (_, other: string) => `nats-route://127.0.0.1:${port(other).cluster}`,
          );
        const file = join(dir, `${name}.conf`);
        await writeFile(file, config);
        const args = commandOf(services[name] ?? {}).map((arg) =>
          arg === `${seedDir}/nats-server-${name}.conf`
            ? file
            : arg === '8222'
              ? String(port(name).http)
              : arg,
        );
        servers.push(spawn('nats-server', args, { stdio: 'ignore' }));
      }
      // Berth's clients fail at once when nothing listens: wait for every node to.
      for (const name of nodes) {
        await waitFor(`${name} to listen`, () => listening(port(name).client), 30_000, 100);
      }
      const url = nodes.map((name) => `nats://127.0.0.1:${port(name).client}`).join(',');
      // Each Berth service checks the nodes against the CA its NATS_CA names.
      const natsCa = join(dir, 'config', 'ca.crt');
      const signIn = async (role: string, name: string): Promise<NatsConnection> => {
        const nc = await connectNats({
          url,
          name,
          nkeyFile: join(dir, 'config', `${role}.nk`),
          tls: { natsCa },
        });
        connections.push(nc);
        return nc;
      };
      const admin = await signIn('admin', 'deploy-test');
      await ensureClusterStreams(admin, { replicas: 3 }, 30_000);
      const info = await (
        await jetstreamManager(admin, { timeout: 5000 })
      ).streams.info(RESULTS_STREAM);
      expect(1 + (info.cluster?.replicas?.length ?? 0)).toBe(3);

      const hostId = String(services['agent']?.environment?.['BERTH_HOST_ID']);
      const agent = await signIn(`agent-${hostId}`, `berth-agent-${hostId}`);
      const js = jetstream(agent, { timeout: 5000 });
      await js.publish(resultsSubject(hostId), 'own', { msgID: 'own' });
      await expect(
        js.publish(resultsSubject('another-host'), 'forged', { msgID: 'forged' }),
      ).rejects.toThrow(`Permissions Violation for Publish to "${resultsSubject('another-host')}"`);

      // Every connection the nodes hold is TLS (the test's port probes, plain, have closed),
      // and a client that does not check the nodes' certificates against the CA is refused.
      const held = [];
      for (const name of nodes) {
        const answer = await fetch(`http://127.0.0.1:${port(name).http}/connz`);
        const report = (await answer.json()) as {
          connections: { name?: string; tls_version?: string }[];
        };
        held.push(...report.connections);
      }
      expect(held.map((connection) => connection.name)).toEqual(
        expect.arrayContaining(['deploy-test', `berth-agent-${hostId}`]),
      );
      for (const connection of held) expect(connection.tls_version, connection.name).toBeTruthy();
      await expect(
        connectNats({
          url,
          name: 'deploy-test',
          nkeyFile: join(dir, 'config', 'admin.nk'),
          tls: {},
        }),
      ).rejects.toThrow('presented a certificate this client does not trust');
    } finally {
      await Promise.all(connections.map((nc) => nc.close()));
      const running = servers.filter((server) => server.exitCode === null);
      for (const server of running) server.kill('SIGTERM');
      await Promise.all(running.map((server) => once(server, 'exit')));
      await removeDir(dir);
    }
  }, 90_000);
});
