import type { FastifyPluginCallback } from 'fastify';
import { PublishedFiguresV1 } from '../../../contracts/advisor-api.ts';
import { publishedFigures } from '../views.ts';
import { contract } from './openapi.ts';

/** GET /v1/published: the published figures the engine may stand in with, and their sources. */
export const publishedRoutes: FastifyPluginCallback = (app, _options, done) => {
  const published = publishedFigures();
  app.get(
    '/v1/published',
    {
      schema: {
        summary: 'The published figures the engine may stand in with, with their sources',
        response: { 200: { ...contract(PublishedFiguresV1), description: 'sources and figures' } },
      },
    },
    () => published,
  );
  done();
};
