import type { FastifyPluginCallback } from 'fastify';
import { HealthV1, type Health } from '../../../contracts/advisor-api.ts';
import { NO_TOKEN } from '../auth.ts';
import type { AdvisorMetrics } from '../metrics.ts';
import { contract } from './openapi.ts';

export interface HealthMetricsRoutesOptions {
  /** Whether the advisor can answer, and what stops it when it cannot. */
  readonly health: () => { healthy: boolean; problems: readonly string[] };
  readonly metrics: AdvisorMetrics;
}

/** What a monitor reads: GET /healthz (open to anyone) and GET /metrics (Prometheus). */
export const healthMetricsRoutes: FastifyPluginCallback<HealthMetricsRoutesOptions> = (
  app,
  { health, metrics },
  done,
) => {
  app.get(
    '/healthz',
    {
      schema: {
        summary: 'Health',
        security: NO_TOKEN,
        response: {
          200: { ...contract(HealthV1), description: 'healthy' },
          503: { ...contract(HealthV1), description: 'unhealthy, with the problems' },
        },
      },
    },
    async (_request, reply) => {
      const { healthy, problems } = health();
      const body: Health = { status: healthy ? 'ok' : 'unhealthy', problems: [...problems] };
      return reply.code(healthy ? 200 : 503).send(body);
    },
  );

  app.get(
    '/metrics',
    {
      schema: {
        summary: 'Prometheus metrics',
        response: {
          200: {
            description: 'the text exposition format',
            content: { 'text/plain': { schema: { type: 'string' } } },
          },
        },
      },
    },
    async (_request, reply) =>
      reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
  );
  done();
};
