import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { sleep } from '../lib/backoff.ts';
import { ensureStreams, type ResultStreamOptions } from '../lib/nats/streams.ts';
import { freePort } from './free-port.ts';
import { startNatsServer, type NatsServer } from '../lib/servers/nats-server.ts';

export interface NatsClusterOptions {
  /** Each node keeps its JetStream store in a folder of its own below this one. */
  readonly dataDir: string;
  /**
   * How many nodes; 3 by default (JetStream needs a majority, so 3 outlive the loss of 1). One
   * node is a plain JetStream server, with no cluster to route to.
   */
  readonly nodes?: number;
  readonly clusterName?: string;
}

export interface NatsCluster {
  readonly nodes: readonly NatsServer[];
  /** Every node's client URL, comma-separated, as NATS_URL takes them. */
  readonly url: string;
  /** Stops every node still running. */
  stop(): Promise<void>;
}

/**
 * nats-server nodes on loopback routed into one JetStream cluster, with the flags
 * docker-compose.yml gives its nodes: each its own `--server_name` and store folder, one
 * `--cluster_name`, a `--cluster` listen address and `--routes` to the others. The nodes are
 * started at once, since JetStream waits for its peers before it elects a leader.
 */
export async function startNatsCluster(options: NatsClusterOptions): Promise<NatsCluster> {
  const count = options.nodes ?? 3;
  if (count === 1) {
    const node = await startNatsServer({ dataDir: join(options.dataDir, 'nats-1') });
    return { nodes: [node], url: node.url, stop: () => node.stop() };
  }
  const clusterName = options.clusterName ?? 'berth';
  const routePorts: number[] = [];
  for (let index = 0; index < count; index += 1) routePorts.push(await freePort());
  const route = (port: number): string => `nats://127.0.0.1:${port}`;
  const started = await Promise.allSettled(
    routePorts.map((port, index) =>
      startNatsServer({
        dataDir: join(options.dataDir, `nats-${index + 1}`),
        extraArgs: [
          '--server_name',
          `nats-${index + 1}`,
          '--cluster_name',
          clusterName,
          '--cluster',
          route(port),
          '--routes',
          routePorts
            .filter((other) => other !== port)
            .map(route)
            .join(','),
        ],
      }),
    ),
  );
  const nodes = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const stop = async (): Promise<void> => {
    await Promise.all(nodes.map((node) => node.stop()));
  };
  const failed = started.find((result) => result.status === 'rejected');
  if (failed !== undefined) {
    await stop();
    throw failed.reason;
  }
  return { nodes, url: nodes.map((node) => node.url).join(','), stop };
}

/**
 * Makes Berth's streams on a cluster just started, once its nodes have elected a JetStream
 * leader: until then its API does not answer, so each try that fails is made again, half a
 * second later, until `timeoutMs` have passed.
 */
export async function ensureClusterStreams(
  nc: NatsConnection,
  options: ResultStreamOptions = {},
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await ensureStreams(await jetstreamManager(nc, { timeout: 5000 }), options);
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(500);
    }
  }
}
