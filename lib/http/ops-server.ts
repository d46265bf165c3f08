import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { BerthError, describeError } from '../../contracts/index.ts';
import { settingLabel } from '../config.ts';

export interface OpsServerOptions {
  readonly host: string;
  readonly port: number;
  readonly registry: Registry;
  readonly health: () => { healthy: boolean; problems: readonly string[] };
}

export interface OpsServer {
  readonly url: string;
  close(): Promise<void>;
}

/** /metrics (Prometheus text) and /healthz (200 or 503 with the problems) for one service. */
export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET') {
      response.writeHead(405, { allow: 'GET' }).end();
      return;
    }
    if (path === '/metrics') {
      options.registry.metrics().then(
        (body) =>
          response.writeHead(200, { 'content-type': options.registry.contentType }).end(body),
        (error: unknown) => response.writeHead(500).end(describeError(error)),
      );
      return;
    }
    if (path === '/healthz') {
      const health = options.health();
      response.writeHead(health.healthy ? 200 : 503, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          status: health.healthy ? 'ok' : 'unhealthy',
          problems: health.problems,
        }),
      );
      return;
    }
    response.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        new BerthError(
          'BERTH_ERR_CONFIG',
          error.code === 'EADDRINUSE'
            ? `port ${options.port} on ${options.host} is already in use (setting ${settingLabel('metricsPort')})`
            : `cannot listen on ${options.host}:${options.port} (settings ${settingLabel('metricsHost')}, ${settingLabel('metricsPort')}): ${error.message}`,
          { cause: error },
        ),
      );
    });
    server.listen(options.port, options.host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      }),
  };
}
