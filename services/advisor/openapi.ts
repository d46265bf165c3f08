import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { AdviceQuestionV1, AdviceV1 } from '../../contracts/advice.ts';
import {
  AdviceListV1,
  PublishedFiguresV1,
  RequestedRunV1,
  ResultValuesV1,
  SERIES_KEY,
} from '../../contracts/advisor-api.ts';
import { ClientFrame, HostView, ServerFrame } from '../../contracts/advisor-frames.ts';
import { SAFE_TOKEN_PATTERN } from '../../contracts/ids.ts';

/** The body of every HTTP error the advisor sends. */
export const ApiErrorBody = Type.Object(
  {
    error: Type.Object(
      {
        code: Type.String({ description: 'a code of docs/errors.md' }),
        field: Type.Optional(
          Type.String({ description: 'the field or parameter at fault, as a dotted path' }),
        ),
        message: Type.String(),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

export type ApiErrorBody = Static<typeof ApiErrorBody>;

const ResultView = Type.Object({
  ...SERIES_KEY,
  results: Type.Integer(),
  samples: Type.Integer(),
  mean: Type.Number(),
  p50: Type.Number(),
  p95: Type.Number(),
  latestAt: Type.Integer(),
  resultIds: Type.Array(Type.String()),
  ratioToProcess: Type.Union([Type.Number(), Type.Null()], {
    description: 'mean over the bare process mean of the same host, workload and metric',
  }),
});

const Health = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('unhealthy')]),
  problems: Type.Array(Type.String()),
});

/** A TypeBox schema as plain JSON Schema, without the $id each contract gives itself. */
function plain(schema: TSchema): unknown {
  return JSON.parse(
    JSON.stringify(schema, (key, value: unknown) => (key === '$id' ? undefined : value)),
  );
}

const ref = (name: string): { $ref: string } => ({ $ref: `#/components/schemas/${name}` });
const json = (name: string): { content: { 'application/json': { schema: { $ref: string } } } } => ({
  content: { 'application/json': { schema: ref(name) } },
});
const failure = (description: string): object => ({ description, ...json('ApiError') });

const tokenParameter = (name: string, description: string, required = false): object => ({
  name,
  in: 'query',
  required,
  description,
  schema: { type: 'string', pattern: SAFE_TOKEN_PATTERN },
});

const integerParameter = (
  name: string,
  description: string,
  minimum: number,
  maximum: number,
): object => ({
  name,
  in: 'query',
  required: false,
  description,
  schema: { type: 'integer', minimum, maximum },
});

/** The advisor's API as an OpenAPI 3.1 document; its schemas are the contracts' own. */
export function openApiDocument(): object {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Berth advisor',
      version: '1',
      description:
        'Ask where a workload should run; see the fleet and the evidence. See docs/advisor-api.md.',
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        AdviceQuestion: plain(AdviceQuestionV1),
        Advice: plain(AdviceV1),
        HostView: plain(HostView),
        ResultView: plain(ResultView),
        AdviceList: plain(AdviceListV1),
        RequestedRun: plain(RequestedRunV1),
        ResultValues: plain(ResultValuesV1),
        PublishedFigures: plain(PublishedFiguresV1),
        ApiError: plain(ApiErrorBody),
        Health: plain(Health),
        ClientFrame: plain(ClientFrame),
        ServerFrame: plain(ServerFrame),
      },
    },
    security: [{}, { bearer: [] }],
    paths: {
      '/v1/advice': {
        get: {
          summary: 'Answers given before, from the audit log, newest first',
          parameters: [
            integerParameter('limit', 'how many (default 50)', 1, 500),
            integerParameter(
              'before',
              'only answers given before this time, epoch ms',
              0,
              Number.MAX_SAFE_INTEGER,
            ),
          ],
          responses: {
            200: { description: 'answers, newest first', ...json('AdviceList') },
            400: failure('a parameter is unknown, repeated or out of range (parameter named)'),
          },
        },
        post: {
          summary: 'Ask a question',
          requestBody: { required: true, ...json('AdviceQuestion') },
          responses: {
            200: { description: 'the answer, kept in the audit log', ...json('Advice') },
            400: failure('the body is not JSON, or the question breaks the schema (field named)'),
            401: failure('a token is required'),
            413: failure('the body is over 64 KiB'),
          },
        },
      },
      '/v1/advice/{id}': {
        get: {
          summary: 'An answer given before',
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
          responses: {
            200: { description: 'the answer', ...json('Advice') },
            404: failure('no answer with that id'),
          },
        },
      },
      '/v1/hosts': {
        get: {
          summary: 'The fleet: inventory, heartbeat age, platforms, busy',
          responses: {
            200: {
              description: 'hosts by id',
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    properties: { hosts: { type: 'array', items: ref('HostView') } },
                  },
                },
              },
            },
          },
        },
      },
      '/v1/hosts/{hostId}/runs': {
        post: {
          summary: "Run now: ask the host's agent for the quick suite",
          parameters: [{ name: 'hostId', in: 'path', required: true, schema: { type: 'string' } }],
          responses: {
            200: {
              description: "the job and the agent's answer (accepted, rejected, unanswered)",
              ...json('RequestedRun'),
            },
            404: failure('no host with that id is known (hostId named)'),
          },
        },
      },
      '/v1/results': {
        get: {
          summary: 'The evidence aggregates, filtered, with ratios to the bare process',
          parameters: [
            tokenParameter('host', 'only this host'),
            tokenParameter('platform', 'only this platform'),
            tokenParameter('workload', 'only this workload (instance for start-up and memory)'),
          ],
          responses: {
            200: {
              description: 'aggregates',
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    properties: {
                      readAt: { type: 'integer' },
                      problem: { type: 'string' },
                      results: { type: 'array', items: ref('ResultView') },
                    },
                  },
                },
              },
            },
            400: failure('a parameter is not a safe token (parameter named)'),
          },
        },
      },
      '/v1/results/values': {
        get: {
          summary: 'The value of each deduplicated result, newest first, per series',
          parameters: [
            tokenParameter('workload', 'the workload (instance for start-up and memory)', true),
            tokenParameter('metric', 'only this metric'),
            tokenParameter('host', 'only this host'),
            tokenParameter('platform', 'only this platform'),
            integerParameter('limit', 'values per series (default 200)', 1, 1000),
          ],
          responses: {
            200: { description: 'series of values', ...json('ResultValues') },
            400: failure('a parameter is missing, unknown, repeated or bad (parameter named)'),
          },
        },
      },
      '/v1/published': {
        get: {
          summary: 'The published figures the engine may stand in with, with their sources',
          responses: { 200: { description: 'sources and figures', ...json('PublishedFigures') } },
        },
      },
      '/v1/ws': {
        get: {
          summary: 'WebSocket: ClientFrame in, ServerFrame out (see docs/advisor-api.md)',
          parameters: [
            {
              name: 'token',
              in: 'query',
              required: false,
              schema: { type: 'string' },
              description: 'the token, for clients that cannot set Authorization',
            },
          ],
          responses: { 101: { description: 'switching to WebSocket' } },
        },
      },
      '/': {
        get: {
          summary: 'The dashboard (its code is public; its data comes from this API)',
          security: [{}],
          responses: { 200: { description: 'the page', content: { 'text/html': {} } } },
        },
      },
      '/healthz': {
        get: {
          summary: 'Health',
          security: [{}],
          responses: {
            200: { description: 'healthy', ...json('Health') },
            503: { description: 'unhealthy, with the problems', ...json('Health') },
          },
        },
      },
      '/metrics': {
        get: {
          summary: 'Prometheus metrics',
          responses: { 200: { description: 'text exposition format' } },
        },
      },
    },
  };
}
