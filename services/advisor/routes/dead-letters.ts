import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginCallback } from 'fastify';
import { DeadLetterListV1, type DeadLetterList } from '../../../contracts/advisor-api.ts';
import { describeError, type DeadLetter } from '../../../contracts/index.ts';
import { DLQ_STREAM } from '../../../lib/nats/streams.ts';
import { integerParameter, queryParameters } from '../query-parameters.ts';
import { ApiError } from './api-error.ts';
import { contract, failure } from './openapi.ts';

/** Dead letters GET /v1/dead-letters gives when it names no limit. */
const DEFAULT_DEAD_LETTERS = 50;

/** The query of GET /v1/dead-letters. */
export const DEAD_LETTERS_QUERY = queryParameters({
  limit: Type.Optional(
    integerParameter(1, 100_000, `how many of the newest (default ${DEFAULT_DEAD_LETTERS})`),
  ),
});

export interface DeadLetterRoutesOptions {
  /** The newest dead letters on BERTH_DLQ, oldest first, at most `limit`. */
  readonly deadLetters: (limit: number) => Promise<DeadLetter[]>;
}

/**
 * GET /v1/dead-letters: the newest messages ingest refused, each with its reason, read from
 * the dead-letter stream on each request; 503 when NATS does not give them.
 */
export const deadLetterRoutes: FastifyPluginCallback<DeadLetterRoutesOptions> = (
  app,
  { deadLetters },
  done,
) => {
  app.get<{ Querystring: Static<typeof DEAD_LETTERS_QUERY> }>(
    '/v1/dead-letters',
    {
      schema: {
        summary: 'The newest messages ingest refused, oldest first, each with its reason',
        querystring: DEAD_LETTERS_QUERY,
        response: {
          200: { ...contract(DeadLetterListV1), description: 'dead letters, oldest first' },
          400: failure('a parameter is unknown, repeated or out of range (parameter named)'),
          503: failure('NATS did not give the dead letters'),
        },
      },
    },
    async (request): Promise<DeadLetterList> => {
      try {
        return { deadLetters: await deadLetters(request.query.limit ?? DEFAULT_DEAD_LETTERS) };
      } catch (error) {
        request.log.warn({ err: error }, 'reading the dead letters failed');
        throw new ApiError(
          503,
          'BERTH_ERR_NATS_UNREACHABLE',
          `the dead letters could not be read from NATS (stream ${DLQ_STREAM}): ${describeError(error)}`,
        );
      }
    },
  );
  done();
};
