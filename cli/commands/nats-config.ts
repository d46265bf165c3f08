import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { nkeys } from '@nats-io/nats-core';
import { Command, Option } from 'commander';
import { BerthError, describeError } from '../../contracts/index.ts';
import {
  fleetRoles,
  natsServerConfig,
  type ClusterOptions,
  type FleetUser,
  type Role,
} from '../../lib/nats/fleet-config.ts';
import { printTable } from '../output.ts';

interface NatsConfigOptions {
  hosts?: string;
  hostsFile?: string;
  outDir: string;
  listen: string;
  storeDir: string;
  serverName?: string;
  clusterListen: string;
  routes?: string;
  nodes?: string;
}

const splitList = (raw: string): string[] =>
  raw
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');

/** Host ids from --hosts and --hosts-file (one a line; blank lines and `#` comments skipped). */
async function hostIdsOf(options: NatsConfigOptions): Promise<string[]> {
  const ids = options.hosts === undefined ? [] : splitList(options.hosts);
  if (options.hostsFile !== undefined) {
    let text: string;
    try {
      text = await readFile(options.hostsFile, 'utf8');
    } catch (error) {
      throw new BerthError(
        'BERTH_ERR_PARAMETER',
        `--hosts-file: cannot read ${options.hostsFile}: ${describeError(error)}`,
      );
    }
    for (const line of text.split('\n')) {
      const id = line.replace(/#.*/, '').trim();
      if (id !== '') ids.push(id);
    }
  }
  return ids;
}

/** The port of a host:port. */
function portOf(listen: string): string {
  const port = /:(\d+)$/.exec(listen)?.[1];
  if (port === undefined) {
    throw new BerthError('BERTH_ERR_PARAMETER', `--cluster-listen ${listen} has no :port`);
  }
  return port;
}

/**
 * The cluster settings of each node to write: none without a cluster, one for --server-name
 * and --routes, one per name of --nodes (each node reached by its name, as in a compose file).
 */
function clusterOf(options: NatsConfigOptions): ClusterOptions[] | undefined {
  if (options.nodes !== undefined) {
    if (options.routes !== undefined || options.serverName !== undefined) {
      throw new BerthError(
        'BERTH_ERR_PARAMETER',
        '--nodes writes every node: give it alone, or --server-name and --routes for one node',
      );
    }
    const names = splitList(options.nodes);
    if (names.length < 2 || new Set(names).size !== names.length) {
      throw new BerthError(
        'BERTH_ERR_PARAMETER',
        `--nodes needs two or more distinct names, got "${options.nodes}"`,
      );
    }
    const port = portOf(options.clusterListen);
    return names.map((serverName) => ({
      serverName,
      listen: options.clusterListen,
      routes: names
        .filter((other) => other !== serverName)
        .map((other) => `nats-route://${other}:${port}`),
    }));
  }
  if (options.routes === undefined) {
    if (options.serverName !== undefined) {
      throw new BerthError('BERTH_ERR_PARAMETER', '--server-name is for a cluster: give --routes');
    }
    return undefined;
  }
  if (options.serverName === undefined) {
    throw new BerthError(
      'BERTH_ERR_PARAMETER',
      '--routes needs --server-name, unique for each node of the cluster',
    );
  }
  return [
    {
      serverName: options.serverName,
      listen: options.clusterListen,
      routes: splitList(options.routes),
    },
  ];
}

/**
 * The role's public key, from its seed file when one is there (so a fleet keeps its keys when
 * hosts are added), else from a new seed written to a file only its owner can read.
 */
async function userOf(
  outDir: string,
  role: Role,
): Promise<FleetUser & { seedFile: string; created: boolean }> {
  const seedFile = join(outDir, `${role}.nk`);
  let seed: string | undefined;
  try {
    seed = (await readFile(seedFile, 'utf8')).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (seed !== undefined) {
    try {
      const publicKey = nkeys.fromSeed(new TextEncoder().encode(seed)).getPublicKey();
      return { role, publicKey, seedFile, created: false };
    } catch {
      throw new BerthError(
        'BERTH_ERR_PARAMETER',
        `${seedFile} does not hold an nkey seed; move it away to have a new one written`,
      );
    }
  }
  const user = nkeys.createUser();
  await writeFile(seedFile, `${new TextDecoder().decode(user.getSeed())}\n`, {
    mode: 0o600,
    flag: 'wx',
  });
  return { role, publicKey: user.getPublicKey(), seedFile, created: true };
}

export function natsConfigCommand(): Command {
  const command = new Command('nats-config')
    .description(
      'write a nats-server configuration for a fleet: one nkey user per agent, ingest, advisor and admin, each allowed only its own subjects (docs/security.md)',
    )
    .option('--hosts <list>', 'host ids of the agents, comma-separated')
    .option('--hosts-file <file>', 'host ids of the agents, one a line (# starts a comment)')
    .addOption(
      new Option(
        '--out-dir <dir>',
        'folder for nats-server.conf and the seed files <role>.nk (kept when there)',
      ).makeOptionMandatory(),
    )
    .option('--listen <host:port>', 'address nats-server listens on for clients', '0.0.0.0:4222')
    .option('--store-dir <path>', "JetStream's store folder on the server", '/var/lib/berth/nats')
    .option(
      '--routes <list>',
      'cluster: nats-route://host:port of the other nodes, comma-separated',
    )
    .option('--server-name <name>', 'cluster: the name of this node, unique in the cluster')
    .option(
      '--nodes <list>',
      'cluster: the names of every node, comma-separated, each reachable by its name; writes nats-server-<name>.conf for each, routed to the others',
    )
    .option('--cluster-listen <host:port>', 'cluster: address for routes', '0.0.0.0:6222');
  return command.action(async () => {
    const options = command.opts<NatsConfigOptions>();
    const roles = fleetRoles(await hostIdsOf(options));
    const nodes = clusterOf(options);
    const outDir = resolve(options.outDir);
    await mkdir(outDir, { recursive: true, mode: 0o700 });
    const users = [];
    for (const role of roles) users.push(await userOf(outDir, role));
    for (const cluster of nodes ?? [undefined]) {
      const configFile = join(
        outDir,
        cluster === undefined ? 'nats-server.conf' : `nats-server-${cluster.serverName}.conf`,
      );
      const text = natsServerConfig(
        {
          listen: options.listen,
          storeDir: options.storeDir,
          ...(cluster === undefined ? {} : { cluster }),
        },
        users,
      );
      await writeFile(configFile, text, { mode: 0o644 });
      process.stdout.write(`wrote ${configFile}\n`);
    }
    printTable(
      users.map((user) => ({
        role: user.role,
        seed: user.seedFile,
        state: user.created ? 'new' : 'kept',
        give: `NATS_NKEY_FILE=${user.seedFile}`,
      })),
      false,
    );
  });
}
