import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { SETTINGS } from '../../lib/config.ts';
import { runBerth } from '../helpers/cli.ts';
import { removeDir, tempDir } from '../helpers/servers.ts';
import { waitFor } from '../helpers/wait.ts';

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

/** A Berth service runs the image built from ./Dockerfile. */
const isBerth = (service: Service): boolean =>
  service.build === '.' || (typeof service.build === 'object' && service.build.context === '.');

/** `berth <command> --help`, white space squeezed, for every command a compose file names. */
type HelpOf = (command: readonly string[]) => string;

const KNOWN_ENV = new Set(Object.values(SETTINGS).map((setting) => setting.env));

/**
 * What is wrong with a compose file: a Berth service whose command is not a `berth` command,
 * or that sets a variable the config module does not know or that its command does not read;
 * a dependency on a service that is not there; a NATS or ClickHouse address that names no
 * service of the file, or ClickHouse credentials that differ from the server's.
 */
function composeProblems(compose: Compose, helpOf: HelpOf): string[] {
  const problems: string[] = [];
  const names = new Set(Object.keys(compose.services));
  const clickhouse = compose.services['clickhouse']?.environment ?? {};
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
    const command = commandOf(service);
    const help = helpOf(command);
    if (!help.startsWith(`Usage: berth ${command.join(' ')} [options]`)) {
      problems.push(`${name}: "berth ${command.join(' ')}" is not a command of the CLI`);
      continue;
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
        .map((service) => commandOf(service).join(' ')),
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
        .replace('CLICKHOUSE_DATABASE: berth', 'CLICKHOUSE_DATABASE: other'),
    );
    expect(composeProblems(broken, helpOf)).toEqual([
      'ingest: "berth ingst" is not a command of the CLI',
      "advisor: CLICKHOUSE_DATABASE differs from the clickhouse service's CLICKHOUSE_DB",
      'advisor: BERTH_ADVISOR_HOSTNAME is not a setting of lib/config.ts',
      'agent: berth agent start does not read BERTH_METRICS_PORT',
    ]);
  });

  it('has the fleet: 3 NATS nodes in one JetStream cluster, ClickHouse, 2 ingest, 2 advisors, 1 agent', () => {
    const { services } = compose;
    const nats = Object.keys(services).filter((name) => name.startsWith('nats-'));
    expect(nats).toEqual(['nats-1', 'nats-2', 'nats-3']);
    for (const name of nats) {
      const args = commandOf(services[name] ?? {});
      const flag = (key: string): string | undefined => args[args.indexOf(key) + 1];
      expect(services[name]?.image).toMatch(/^nats:2\.\d+/);
      expect(args).toContain('--jetstream');
      expect(flag('--server_name')).toBe(name);
      expect(flag('--cluster_name')).toBe('berth');
      expect(flag('--cluster')).toBe('nats://0.0.0.0:6222');
      expect(flag('--routes')?.split(',').sort()).toEqual(
        nats.filter((other) => other !== name).map((other) => `nats://${other}:6222`),
      );
    }
    expect(services['clickhouse']?.image).toMatch(/^clickhouse\/clickhouse-server:2[5-9]\.\d+$/);
    expect(services['ingest']?.deploy?.replicas).toBe(2);
    expect(services['advisor']?.deploy?.replicas).toBe(2);
    expect(services['advisor']?.ports).toEqual(['7700-7701:7700']);
    const agents = Object.values(services).filter(
      (service) => commandOf(service).join(' ') === 'agent start',
    );
    expect(agents).toHaveLength(1);
    expect(agents[0]).toMatchObject({ privileged: true, cgroup: 'host', init: true });
    expect(agents[0]?.volumes).toEqual(['agent-data:/var/lib/berth']);
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
    expect(berth.map(([name]) => name).sort()).toEqual(['advisor', 'agent', 'ingest']);
    for (const [, service] of berth) expect(service.image).toBe('berth:local');
  });

  it("the NATS nodes' flags make one JetStream cluster that holds a stream on all three", async () => {
    const nodes = Object.keys(compose.services).filter((name) => name.startsWith('nats-'));
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
    try {
      for (const name of nodes) {
        // The compose command as it is, each address moved to loopback and a port of its own.
        const args = commandOf(compose.services[name] ?? {}).map((arg) =>
          arg
            .replace(/^\/data$/, join(dir, name))
            .replace('nats://0.0.0.0:6222', `nats://127.0.0.1:${port(name).cluster}`)
            .replace(
              /nats:\/\/(nats-\d):6222/g,
              (_, other: string) => `nats://127.0.0.1:${port(other).cluster}`,
            )
            .replace(/^8222$/, String(port(name).http)),
        );
        const server = spawn(
          'nats-server',
          [...args, '--addr', '127.0.0.1', '--port', String(port(name).client)],
          {
            stdio: 'ignore',
          },
        );
        servers.push(server);
      }
      const nc = await connect({
        servers: nodes.map((name) => `nats://127.0.0.1:${port(name).client}`),
        maxReconnectAttempts: -1,
        reconnectTimeWait: 200,
        waitOnFirstConnect: true,
      });
      try {
        let replicas = 0;
        await waitFor(
          'a stream with 3 replicas',
          async () => {
            // Until the three have elected a JetStream leader, its API does not answer.
            try {
              const jsm = await jetstreamManager(nc, { timeout: 2000 });
              const info = await jsm.streams.add({
                name: 'FLEET',
                subjects: ['fleet.>'],
                num_replicas: 3,
              });
              replicas = 1 + (info.cluster?.replicas?.length ?? 0);
              return true;
            } catch {
              return false;
            }
          },
          30_000,
          500,
        );
        expect(replicas).toBe(3);
      } finally {
        await nc.close();
      }
    } finally {
      const running = servers.filter((server) => server.exitCode === null);
      for (const server of running) server.kill('SIGTERM');
      await Promise.all(running.map((server) => once(server, 'exit')));
      await removeDir(dir);
    }
  });
});
