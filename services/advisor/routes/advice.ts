import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginCallback } from 'fastify';
import { AdviceQuestionV1, AdviceV1 } from '../../../contracts/advice.ts';
import { AdviceListV1 } from '../../../contracts/advisor-api.ts';
import { adviceJson } from '../advice-json.ts';
import type { Advisor } from '../advisor.ts';
import { busyMessage, type Pressure } from '../load-shedding.ts';
import { fieldLabel, type AdvisorMetrics } from '../metrics.ts';
import { integerParameter, queryParameters } from '../query-parameters.ts';
import { checkAskedQuestion, type KnownHosts } from '../questions.ts';
import { ApiError } from './api-error.ts';
import { contract, failure } from './openapi.ts';

/** The largest request body the advisor reads (a question is a few hundred bytes). */
export const MAX_BODY_BYTES = 64 * 1024;

/** Answers GET /v1/advice lists when it gives no limit. */
const DEFAULT_HISTORY_LIMIT = 50;

/** The query of GET /v1/advice. */
export const HISTORY_QUERY = queryParameters({
  limit: Type.Optional(integerParameter(1, 500, `how many (default ${DEFAULT_HISTORY_LIMIT})`)),
  before: Type.Optional(
    integerParameter(0, Number.MAX_SAFE_INTEGER, 'only answers given before this time, epoch ms'),
  ),
});

export interface AdviceRoutesOptions {
  readonly advisor: Pick<Advisor, 'ask' | 'get' | 'history'>;
  readonly fleet: KnownHosts;
  readonly metrics: AdvisorMetrics;
  /** While it says overloaded, a question is refused with 503 and Retry-After. */
  readonly pressure: Pick<Pressure, 'overloaded' | 'timed' | 'retryAfterSeconds'>;
}

/**
 * Questions and answers: POST /v1/advice asks, GET /v1/advice lists the answers given before,
 * GET /v1/advice/:id gives one again. The question is checked by `checkAskedQuestion`, not by
 * its schema (which documents it), so a bad one is named the way the API names fields.
 */
export const adviceRoutes: FastifyPluginCallback<AdviceRoutesOptions> = (
  app,
  { advisor, fleet, metrics, pressure },
  done,
) => {
  app.post(
    '/v1/advice',
    {
      schema: {
        summary: 'Ask a question',
        body: contract(AdviceQuestionV1),
        response: {
          200: { ...contract(AdviceV1), description: 'the answer, kept in the audit log' },
          400: failure('the body is not JSON, or the question breaks the schema (field named)'),
          413: failure(`the body is over ${MAX_BODY_BYTES / 1024} KiB`),
          415: failure('the body is not application/json'),
          503: failure('the advisor is overloaded: ask again after Retry-After seconds'),
        },
      },
    },
    async (request, reply) => {
      if (pressure.overloaded()) {
        metrics.busyRefusals.inc({ via: 'http' });
        void reply.header('retry-after', String(pressure.retryAfterSeconds));
        throw new ApiError(503, 'BERTH_ERR_BUSY', busyMessage(pressure));
      }
      const checked = checkAskedQuestion(request.body, fleet);
      if (!checked.ok) {
        const { field, message } = checked.problem;
        metrics.badQuestions.inc({ field: fieldLabel(field) });
        throw new ApiError(400, 'BERTH_ERR_QUESTION', `${field} ${message}`, field);
      }
      const timer = metrics.answerSeconds.startTimer();
      const advice = await pressure.timed(() => advisor.ask(checked.question));
      timer();
      metrics.answers.inc({ via: 'http', why: 'asked' });
      // The answer's text, shared with the audit log, goes out as it is.
      void reply.type('application/json');
      return adviceJson(advice);
    },
  );

  app.get<{ Querystring: Static<typeof HISTORY_QUERY> }>(
    '/v1/advice',
    {
      schema: {
        summary: 'Answers given before, from the audit log, newest first',
        querystring: HISTORY_QUERY,
        response: {
          200: { ...contract(AdviceListV1), description: 'answers, newest first' },
          400: failure('a parameter is unknown, repeated or out of range (parameter named)'),
        },
      },
    },
    async (request) => {
      const { limit, before } = request.query;
      const answers = await advisor.history({
        limit: limit ?? DEFAULT_HISTORY_LIMIT,
        ...(before === undefined ? {} : { before }),
      });
      return { answers };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/advice/:id',
    {
      schema: {
        summary: 'An answer given before',
        response: {
          200: { ...contract(AdviceV1), description: 'the answer' },
          404: failure('no answer with that id'),
        },
      },
    },
    async (request) => {
      const advice = await advisor.get(request.params.id);
      if (advice === undefined) {
        throw new ApiError(404, 'BERTH_ERR_NOT_FOUND', 'no answer with that id', 'id');
      }
      return advice;
    },
  );
  done();
};
