import type { FastifyPluginCallback } from 'fastify';
import { HostListV1, RequestedRunV1 } from '../../../contracts/advisor-api.ts';
import type { Advisor } from '../advisor.ts';
import type { KnownHosts } from '../questions.ts';
import { hostView } from '../views.ts';
import { ApiError } from './api-error.ts';
import { contract, failure } from './openapi.ts';

export interface HostRoutesOptions {
  readonly advisor: Pick<Advisor, 'runNow'>;
  readonly fleet: KnownHosts;
}

/**
 * The fleet: GET /v1/hosts lists each host's inventory, heartbeat age and platforms;
 * POST /v1/hosts/:hostId/runs asks a known host's agent for the quick suite now.
 */
export const hostRoutes: FastifyPluginCallback<HostRoutesOptions> = (
  app,
  { advisor, fleet },
  done,
) => {
  app.get(
    '/v1/hosts',
    {
      schema: {
        summary: 'The fleet: inventory, heartbeat age, platforms, busy',
        response: { 200: { ...contract(HostListV1), description: 'hosts by id' } },
      },
    },
    () => {
      const now = Date.now();
      return { hosts: fleet.hosts().map((host) => hostView(host, now)) };
    },
  );

  app.post<{ Params: { hostId: string } }>(
    '/v1/hosts/:hostId/runs',
    {
      schema: {
        summary: "Run now: ask the host's agent for the quick suite",
        response: {
          200: {
            ...contract(RequestedRunV1),
            description: "the job and the agent's answer (accepted, rejected, unanswered)",
          },
          404: failure('no host with that id is known (hostId named)'),
        },
      },
    },
    (request) => {
      const { hostId } = request.params;
      if (!fleet.hosts().some((host) => host.hostId === hostId)) {
        throw new ApiError(
          404,
          'BERTH_ERR_NOT_FOUND',
          `no host ${JSON.stringify(hostId.slice(0, 64))} is known (see GET /v1/hosts)`,
          'hostId',
        );
      }
      return advisor.runNow(hostId);
    },
  );
  done();
};
