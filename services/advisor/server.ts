import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { BerthError } from '../../contracts/index.ts';
import { buildAdvisorApp, type AdvisorAppDeps } from './app.ts';
import { assertTokenPolicy } from './auth.ts';
import { createPressure } from './load-shedding.ts';
import { createAdvisorMetrics, type AdvisorMetrics } from './metrics.ts';

export interface AdvisorServerDeps extends Omit<AdvisorAppDeps, 'metrics'> {
  readonly host: string;
  readonly port: number;
  /** Required when `host` is not a loopback address, unless clients present certificates. */
  readonly token?: string;
}

export interface AdvisorServer {
  readonly app: FastifyInstance;
  readonly metrics: AdvisorMetrics;
  /** http://host:port (https:// with TLS), with the port the server got. */
  address(): string;
  /** Stops accepting, closes WebSockets with "going away", drops every watch. */
  close(): Promise<void>;
}

/**
 * The advisor's API (`buildAdvisorApp`) listening on `host`:`port`, with a metrics registry of
 * its own. Off loopback it wants a token, unless clients must present certificates; an
 * address it cannot listen on is a configuration error.
 */
export async function createAdvisorServer(deps: AdvisorServerDeps): Promise<AdvisorServer> {
  const { host, port, ...appDeps } = deps;
  assertTokenPolicy(host, deps.token, deps.tls?.clientCa !== undefined);
  const metrics = createAdvisorMetrics();
  // The server sheds load by the event loop's delay unless it is given another measure.
  const pressure = appDeps.pressure ?? createPressure();
  const closeOwnPressure = (): void => {
    if (appDeps.pressure === undefined) pressure.close();
  };
  const app = await buildAdvisorApp({ ...appDeps, metrics, pressure });
  try {
    await app.listen({ host, port });
  } catch (error) {
    await app.close();
    closeOwnPressure();
    throw new BerthError(
      'BERTH_ERR_CONFIG',
      `the advisor cannot listen on ${host}:${port}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const bound = (app.server.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    app,
    metrics,
    address: () => `${deps.tls === undefined ? 'http' : 'https'}://${shownHost}:${bound}`,
    close: async () => {
      await app.close();
      closeOwnPressure();
    },
  };
}
