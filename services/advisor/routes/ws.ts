import type { FastifyPluginCallback } from 'fastify';
import type { SocketHub } from '../ws.ts';
import { noBody } from './openapi.ts';

export interface SocketRoutesOptions {
  readonly hub: SocketHub;
}

/**
 * GET /v1/ws: the WebSocket, ClientFrame in and ServerFrame out (both components of the
 * document). The only route that takes the token as `?token=` too: a browser cannot set a
 * WebSocket's headers.
 */
export const socketRoutes: FastifyPluginCallback<SocketRoutesOptions> = (app, { hub }, done) => {
  app.route({
    method: 'GET',
    url: '/v1/ws',
    schema: {
      summary: 'WebSocket: ClientFrame in, ServerFrame out (see docs/advisor-api.md)',
      security: [{}, { bearer: [] }, { queryToken: [] }],
      response: {
        101: noBody('switching to WebSocket'),
        404: noBody('a plain GET, not an upgrade to a WebSocket'),
      },
    },
    // A plain GET, not an upgrade, is a 404 as with `websocket: true`, which is not used
    // because it hides the route from the OpenAPI document.
    handler: (_request, reply) => reply.code(404).send(),
    wsHandler: (socket) => {
      hub.serve(socket);
    },
  });
  done();
};
