import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAFE_TOKEN_PATTERN } from '../../contracts/ids.ts';
import { HISTORY_QUERY } from '../../services/advisor/routes/advice.ts';
import { buildFakeApp, type FakeApp } from '../../support/advisor.ts';

interface Parameter {
  name: string;
  in: string;
  required: boolean;
  schema: { type: string; minimum?: number; maximum?: number; pattern?: string };
}

interface Operation {
  security?: Record<string, string[]>[];
  parameters?: Parameter[];
  requestBody?: { content: Record<string, { schema: { $ref?: string } }> };
  responses: Record<string, { content?: Record<string, { schema: { $ref?: string } }> }>;
}

interface Document {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  security: Record<string, string[]>[];
  components: {
    securitySchemes: Record<string, { type: string; scheme?: string; in?: string }>;
    schemas: Record<string, { properties?: Record<string, unknown> }>;
  };
}

/** Every route of the advisor, as the document names them. */
const OPERATIONS = [
  'get /',
  'get /dashboard/{file}',
  'get /healthz',
  'get /metrics',
  'get /openapi.json',
  'get /v1/advice',
  'post /v1/advice',
  'get /v1/advice/{id}',
  'get /v1/dead-letters',
  'get /v1/hosts',
  'post /v1/hosts/{hostId}/runs',
  'get /v1/published',
  'get /v1/results',
  'get /v1/results/values',
  'get /v1/ws',
];

let fake: FakeApp;
let document: Document;

beforeAll(async () => {
  fake = await buildFakeApp();
  const response = await fake.app.inject('/openapi.json');
  expect(response.statusCode).toBe(200);
  document = JSON.parse(response.body) as Document;
});

afterAll(async () => {
  await fake.app.close();
});

const operations = (): [string, Operation][] =>
  Object.entries(document.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, operation]): [string, Operation] => [
      `${method} ${path}`,
      operation,
    ]),
  );

/**
 * The query parameters the document gives: the path of their operation, the parameter, and
 * the rest of a good query (the other required parameters, each a token).
 */
const queryParameters = (): [string, Parameter, string][] =>
  operations().flatMap(([operation, { parameters = [] }]) => {
    const query = parameters.filter((parameter) => parameter.in === 'query');
    return query.map((parameter): [string, Parameter, string] => [
      operation.split(' ')[1] ?? '',
      parameter,
      query
        .filter((other) => other.required && other !== parameter)
        .map((other) => `&${other.name}=a-token`)
        .join(''),
    ]);
  });

describe('the OpenAPI document', () => {
  it('is OpenAPI 3.1 and lists every route, each once', () => {
    expect(document.openapi).toBe('3.1.0');
    expect(
      operations()
        .map(([operation]) => operation)
        .sort(),
    ).toEqual([...OPERATIONS].sort());
  });

  it("gives GET /v1/advice's limit as the validator enforces it, from the same rule", async () => {
    const limit = document.paths['/v1/advice']?.['get']?.parameters?.find(
      (parameter) => parameter.name === 'limit',
    );
    expect(limit?.schema).toMatchObject({ type: 'integer', minimum: 1, maximum: 500 });
    expect(limit?.schema.maximum).toBe(HISTORY_QUERY.properties.limit.maximum);
    expect((await fake.app.inject('/v1/advice?limit=500')).statusCode).toBe(200);
    expect((await fake.app.inject('/v1/advice?limit=501')).statusCode).toBe(400);
  });

  it('holds the limits the validator enforces, for every query parameter', async () => {
    const parameters = queryParameters();
    expect(parameters.map(([path, { name }]) => `${path}?${name}`).sort()).toEqual([
      '/v1/advice?before',
      '/v1/advice?limit',
      '/v1/dead-letters?limit',
      '/v1/results/values?host',
      '/v1/results/values?limit',
      '/v1/results/values?metric',
      '/v1/results/values?platform',
      '/v1/results/values?workload',
      '/v1/results?host',
      '/v1/results?platform',
      '/v1/results?workload',
    ]);
    for (const [path, { name, required, schema }, others] of parameters) {
      const status = async (value: string | number): Promise<number> =>
        (await fake.app.inject(`${path}?${name}=${value}${others}`)).statusCode;
      if (schema.type === 'integer') {
        const { minimum = 0, maximum = 0 } = schema;
        expect([await status(minimum), await status(maximum)], `${path} ${name}`).toEqual([
          200, 200,
        ]);
        expect(await status(maximum + 1), `${path} ${name}`).toBe(400);
        if (minimum > 0) expect(await status(minimum - 1), `${path} ${name}`).toBe(400);
      } else {
        expect(schema.pattern, `${path} ${name}`).toBe(SAFE_TOKEN_PATTERN);
        expect(await status('a-token'), `${path} ${name}`).toBe(200);
        expect(await status('a.token'), `${path} ${name}`).toBe(400);
      }
      if (required) expect((await fake.app.inject(path)).statusCode, path).toBe(400);
    }
  });

  it('names the contracts of the bodies, the frames, the error body and the bearer token', () => {
    const { schemas, securitySchemes } = document.components;
    for (const name of [
      'AdviceQuestion',
      'Advice',
      'AdviceList',
      'HostList',
      'RequestedRun',
      'ResultList',
      'ResultValues',
      'PublishedFigures',
      'DeadLetterList',
      'Health',
      'ApiErrorBody',
      'ClientFrame',
      'ServerFrame',
    ]) {
      expect(schemas, name).toHaveProperty([name]);
    }
    expect(Object.keys(schemas['AdviceQuestion']?.properties ?? {})).toContain('lifetimeSeconds');
    expect(securitySchemes['bearer']).toEqual({ type: 'http', scheme: 'bearer' });
    expect(document.security).toEqual([{}, { bearer: [] }]);
    expect(document.paths['/v1/dead-letters']?.['get']?.responses['200']?.content).toEqual({
      'application/json': { schema: { $ref: '#/components/schemas/DeadLetterList' } },
    });
    expect(document.paths['/v1/advice']?.['post']?.requestBody?.content).toEqual({
      'application/json': { schema: { $ref: '#/components/schemas/AdviceQuestion' } },
    });
  });

  it('says which routes want no token, and that only the WebSocket takes it in the query', () => {
    const open = operations()
      .filter(([, operation]) => operation.security?.length === 0)
      .map(([operation]) => operation);
    expect(open.sort()).toEqual(['get /', 'get /dashboard/{file}', 'get /healthz']);
    expect(document.paths['/v1/ws']?.['get']?.security).toContainEqual({ queryToken: [] });
    for (const [operation, { responses, security }] of operations()) {
      expect(responses, operation).toHaveProperty(['500']);
      if (security?.length !== 0) expect(responses, operation).toHaveProperty(['401']);
    }
  });
});
