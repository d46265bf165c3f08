import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginCallback } from 'fastify';
import {
  ResultListV1,
  ResultValuesV1,
  type ResultList,
  type ResultValues,
} from '../../../contracts/advisor-api.ts';
import type { EvidenceCache } from '../evidence-cache.ts';
import { integerParameter, queryParameters, tokenParameter } from '../query-parameters.ts';
import type { ValuesFilter } from '../result-values.ts';
import { resultViews } from '../views.ts';
import { contract, failure } from './openapi.ts';

/** Values kept per series when GET /v1/results/values gives no limit. */
const DEFAULT_VALUES_PER_SERIES = 200;

/** The query of GET /v1/results. */
export const RESULTS_QUERY = queryParameters({
  host: Type.Optional(tokenParameter('only this host')),
  platform: Type.Optional(tokenParameter('only this platform')),
  workload: Type.Optional(tokenParameter('only this workload (instance for start-up and memory)')),
});

/** The query of GET /v1/results/values. */
export const VALUES_QUERY = queryParameters({
  workload: tokenParameter('the workload (instance for start-up and memory)'),
  metric: Type.Optional(tokenParameter('only this metric')),
  host: Type.Optional(tokenParameter('only this host')),
  platform: Type.Optional(tokenParameter('only this platform')),
  limit: Type.Optional(
    integerParameter(1, 1000, `values per series (default ${DEFAULT_VALUES_PER_SERIES})`),
  ),
});

export interface ResultRoutesOptions {
  /** The evidence aggregates the advisor holds in memory. */
  readonly evidence: Pick<EvidenceCache, 'rows' | 'readAt' | 'problem'>;
  /** Reads the values behind the evidence from the store. */
  readonly resultValues: (filter: ValuesFilter) => Promise<ResultValues>;
}

/**
 * The evidence: GET /v1/results gives the aggregates with their ratios to the bare process,
 * GET /v1/results/values the value of each result behind them, read from the store.
 */
export const resultRoutes: FastifyPluginCallback<ResultRoutesOptions> = (
  app,
  { evidence, resultValues },
  done,
) => {
  app.get<{ Querystring: Static<typeof RESULTS_QUERY> }>(
    '/v1/results',
    {
      schema: {
        summary: 'The evidence aggregates, filtered, with ratios to the bare process',
        querystring: RESULTS_QUERY,
        response: {
          200: { ...contract(ResultListV1), description: 'aggregates' },
          400: failure('a parameter is unknown, repeated or not a safe token (parameter named)'),
        },
      },
    },
    (request): ResultList => {
      const problem = evidence.problem();
      return {
        readAt: evidence.readAt(),
        ...(problem === undefined ? {} : { problem }),
        results: resultViews(evidence.rows(), request.query),
      };
    },
  );

  app.get<{ Querystring: Static<typeof VALUES_QUERY> }>(
    '/v1/results/values',
    {
      schema: {
        summary: 'The value of each deduplicated result, newest first, per series',
        querystring: VALUES_QUERY,
        response: {
          200: { ...contract(ResultValuesV1), description: 'series of values' },
          400: failure('a parameter is missing, unknown, repeated or bad (parameter named)'),
        },
      },
    },
    (request) => {
      const { workload, metric, host, platform, limit } = request.query;
      return resultValues({
        workload,
        limit: limit ?? DEFAULT_VALUES_PER_SERIES,
        ...(metric === undefined ? {} : { metric }),
        ...(host === undefined ? {} : { hostId: host }),
        ...(platform === undefined ? {} : { platform }),
      });
    },
  );
  done();
};
