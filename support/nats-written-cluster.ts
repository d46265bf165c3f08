import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startNatsServer, type NatsServer } from '../lib/servers/nats-server.ts';
import { freePort } from './free-port.ts';

/** A node of a cluster started from the files `berth nats-config --nodes` wrote. */
export interface WrittenNode {
  readonly name: string;
  readonly server: NatsServer;
  /** The monitoring port (/connz, /routez). */
  readonly httpPort: number;
}

export interface WrittenCluster {
  readonly nodes: readonly WrittenNode[];
  /** Every node's client URL, comma-separated, as NATS_URL takes them. */
  readonly url: string;
  stop(): Promise<void>;
}

export interface WrittenClusterOptions {
  /** The folder `berth nats-config` wrote nats-server-<node>.conf into. */
  readonly configDir: string;
  readonly nodes: readonly string[];
  /** Each node's JetStream store goes in a folder of its own below this one. */
  readonly dataDir: string;
  /** The cluster port the configuration names (the routes' `nats-route://<node>:<port>`). */
  readonly clusterPort?: number;
}

/**
 * The nodes `berth nats-config --nodes` configured, each run by nats-server on loopback with
 * its configuration as written but its addresses: clients, routes and monitoring each on a
 * free port, and the routes to `<node>:<port>` moved to the node's loopback port. TLS and the
 * users stay as written.
 */
export async function startWrittenCluster(options: WrittenClusterOptions): Promise<WrittenCluster> {
  const clusterPort = options.clusterPort ?? 6222;
  const ports = new Map<string, number>();
  for (const name of options.nodes) ports.set(name, await freePort());
  const routeOf = (name: string): string => `nats-route://127.0.0.1:${ports.get(name) ?? 0}`;
  const started = await Promise.allSettled(
    options.nodes.map(async (name): Promise<WrittenNode> => {
      const dataDir = join(options.dataDir, name);
      let config = await readFile(join(options.configDir, `nats-server-${name}.conf`), 'utf8');
      config = config
        .replace(/store_dir: "[^"]*"/, `store_dir: "${dataDir}"`)
        .replace(
          new RegExp(`listen: "[^"]*:${clusterPort}"`),
          `listen: "127.0.0.1:${ports.get(name) ?? 0}"`,
        );
      for (const other of options.nodes) {
        config = config.replaceAll(`nats-route://${other}:${clusterPort}`, routeOf(other));
      }
      await mkdir(dataDir, { recursive: true });
      const configFile = join(options.dataDir, `${name}.conf`);
      await writeFile(configFile, config);
      const httpPort = await freePort();
      const server = await startNatsServer({
        dataDir,
        configFile,
        extraArgs: ['--http_port', String(httpPort)],
      });
      return { name, server, httpPort };
    }),
  );
  const nodes = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const stop = async (): Promise<void> => {
    await Promise.all(nodes.map((node) => node.server.stop()));
  };
  const failed = started.find((result) => result.status === 'rejected');
  if (failed !== undefined) {
    await stop();
    throw failed.reason;
  }
  return { nodes, url: nodes.map((node) => node.server.url).join(','), stop };
}
