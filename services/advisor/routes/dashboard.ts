import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
import { NO_TOKEN } from '../auth.ts';
import { dashboardFile } from '../dashboard.ts';
import { failure, noBody } from './openapi.ts';

/** The page may load only its own code and talk only to its own advisor. */
const PAGE_POLICY = [
  "default-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "style-src 'self' 'unsafe-inline'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** A file of the dashboard: its content type, 304 while unchanged, 404 when there is none. */
function dashboardResponses(type: string): Record<number, unknown> {
  return {
    200: { description: 'the file', content: { [type]: { schema: { type: 'string' } } } },
    304: noBody('unchanged since the ETag given in If-None-Match'),
    404: failure('no such file'),
  };
}

/**
 * The dashboard on the advisor's own port, open to anyone (it is code, its data is the API's):
 * `/` is the page, `/dashboard/app.js` and `/dashboard/app.css` its code. Each is revalidated
 * on every load (its ETag is its hash), so a new bundle is taken at once and an unchanged one
 * costs a 304.
 */
export const dashboardRoutes: FastifyPluginCallback = (app, _options, done) => {
  const send = async (
    path: string,
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<FastifyReply> => {
    const file = await dashboardFile(path);
    if (file === undefined) {
      reply.callNotFound();
      return reply;
    }
    reply
      .header('content-type', file.type)
      .header('cache-control', 'no-cache')
      .header('etag', file.etag)
      .header('x-content-type-options', 'nosniff');
    if (file.type.startsWith('text/html')) reply.header('content-security-policy', PAGE_POLICY);
    if (request.headers['if-none-match'] === file.etag) return reply.code(304).send();
    return reply.send(file.body);
  };
  app.get(
    '/',
    {
      schema: {
        summary: 'The dashboard (its code is public; its data comes from this API)',
        security: NO_TOKEN,
        response: dashboardResponses('text/html'),
      },
    },
    (request, reply) => send('/', request, reply),
  );
  app.get<{ Params: { file: string } }>(
    '/dashboard/:file',
    {
      schema: {
        summary: "The dashboard's code: app.js and app.css",
        security: NO_TOKEN,
        response: dashboardResponses('text/javascript'),
      },
    },
    (request, reply) => send(`/dashboard/${request.params.file}`, request, reply),
  );
  done();
};
