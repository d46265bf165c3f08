import websocket from '@fastify/websocket';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import { isBerthError, type ErrorCode } from '../../contracts/index.ts';
import type { Logger } from '../../lib/logger.ts';
import type { Advisor } from './advisor.ts';
import { carriesToken, wantsToken } from './auth.ts';
import type { Fleet } from './fleet.ts';
import { NO_PRESSURE, type Pressure } from './load-shedding.ts';
import type { AdvisorMetrics } from './metrics.ts';
import { parseParameters, type QuerySchema } from './query-parameters.ts';
import { adviceRoutes, MAX_BODY_BYTES } from './routes/advice.ts';
import { ApiError, errorBody } from './routes/api-error.ts';
import { dashboardRoutes } from './routes/dashboard.ts';
import { deadLetterRoutes, type DeadLetterRoutesOptions } from './routes/dead-letters.ts';
import { healthMetricsRoutes, type HealthMetricsRoutesOptions } from './routes/health-metrics.ts';
import { hostRoutes } from './routes/hosts.ts';
import { documentApi, openApiRoutes } from './routes/openapi.ts';
import { publishedRoutes } from './routes/published.ts';
import { resultRoutes, type ResultRoutesOptions } from './routes/results.ts';
import { socketRoutes } from './routes/ws.ts';
import type { AdvisorTls } from './tls.ts';
import { createSocketHub, DEFAULT_SOCKET_LIMITS, type SocketLimits } from './ws.ts';

/** The largest WebSocket frame read at all; between 64 KiB and this, an error frame answers. */
const MAX_WS_PAYLOAD_BYTES = 1 << 20;

export interface AdvisorAppDeps {
  /** Answers, the audit log, runs asked of hosts, and the changes a WebSocket is told of. */
  readonly advisor: Pick<
    Advisor,
    'ask' | 'get' | 'history' | 'runNow' | 'watch' | 'onResults' | 'onJobProgress'
  >;
  readonly evidence: ResultRoutesOptions['evidence'];
  readonly fleet: Pick<Fleet, 'hosts' | 'onChange'>;
  readonly resultValues: ResultRoutesOptions['resultValues'];
  readonly deadLetters: DeadLetterRoutesOptions['deadLetters'];
  readonly health: HealthMetricsRoutesOptions['health'];
  /** The registry the app counts answers, bad questions and WebSocket traffic in. */
  readonly metrics: AdvisorMetrics;
  readonly logger: Logger;
  /** Wanted on every route but health and the dashboard's code, when set. */
  readonly token?: string;
  /** HTTPS and WSS instead of HTTP and WS; with `clientCa`, mutual TLS. */
  readonly tls?: AdvisorTls;
  readonly socketLimits?: Partial<SocketLimits>;
  /** When questions are refused for overload; never, when not given. */
  readonly pressure?: Pressure;
}

/** What the client sent wrong, for fastify's own body errors (size, media type, JSON). */
function bodyProblem(error: Error & { readonly code?: string }): ApiError {
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return new ApiError(413, 'BERTH_ERR_TOO_LARGE', `the body is over ${MAX_BODY_BYTES} bytes`);
  }
  if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return new ApiError(415, 'BERTH_ERR_NOT_JSON', 'send the question as application/json');
  }
  if (error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
    return new ApiError(400, 'BERTH_ERR_NOT_JSON', 'the body is empty');
  }
  return new ApiError(400, 'BERTH_ERR_NOT_JSON', `the body is not JSON: ${error.message}`);
}

/** Checks a query string by its route's parameter schema; a bad one is a 400 naming it. */
function queryValidator(schema: QuerySchema) {
  return (query: unknown): { value: unknown } | { error: ApiError } => {
    const parsed = parseParameters((query ?? {}) as Readonly<Record<string, unknown>>, schema);
    if (parsed.ok) return { value: parsed.parameters };
    const { field, message } = parsed.problem;
    return { error: new ApiError(400, 'BERTH_ERR_PARAMETER', `${field} ${message}`, field) };
  };
}

/**
 * The advisor's HTTP and WebSocket API as a Fastify app that does not listen (inject into it,
 * or `listen` as `createAdvisorServer` does): questions and answers, the fleet, the evidence,
 * dead letters, health, metrics, the dashboard and the OpenAPI document generated from the
 * routes' schemas. With a token it wants it on every route whose schema does not say
 * otherwise, and it never logs the token or the query string that may carry it.
 *
 * Every route's schema is its part of the OpenAPI document. A query is checked against its
 * route's parameter schema by `parseParameters`, and a question by `checkAskedQuestion` (not
 * Ajv), so the field at fault is named the way the API names it. Bodies go out as the routes
 * build them (JSON.stringify): fast-json-stringify would drop a field the contract lacks and
 * reorder or coerce values, so the response schemas only document.
 */
export async function buildAdvisorApp(deps: AdvisorAppDeps): Promise<FastifyInstance> {
  const { advisor, fleet, metrics, tls } = deps;
  const token = deps.token === '' ? undefined : deps.token;
  const logger = deps.logger.child(
    { component: 'advisor-server' },
    { redact: ['req.headers.authorization', 'req.url', 'req.query', 'headers.authorization'] },
  );
  const pressure = deps.pressure ?? NO_PRESSURE;
  const hub = createSocketHub({
    advisor,
    fleet,
    metrics,
    logger,
    limits: { ...DEFAULT_SOCKET_LIMITS, ...deps.socketLimits },
    pressure,
  });

  const app = Fastify({
    // Mutual TLS: a client without a certificate one of the CAs signed is refused in the
    // handshake, before any route runs.
    https:
      tls === undefined
        ? null
        : {
            cert: tls.cert,
            key: tls.key,
            ...(tls.clientCa === undefined
              ? {}
              : { ca: tls.clientCa, requestCert: true, rejectUnauthorized: true }),
          },
    loggerInstance: logger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: MAX_BODY_BYTES,
    return503OnClosing: true,
    forceCloseConnections: true,
  }) as unknown as FastifyInstance;
  await app.register(websocket, {
    options: { maxPayload: MAX_WS_PAYLOAD_BYTES },
    preClose: async () => {
      await hub.close();
    },
  });

  app.setValidatorCompiler(({ schema, httpPart }) =>
    httpPart === 'querystring' ? queryValidator(schema as QuerySchema) : () => true,
  );
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  app.removeContentTypeParser('text/plain');

  app.addHook('onRequest', (request, _reply, done) => {
    if (token === undefined || !wantsToken(request.routeOptions.schema)) {
      done();
      return;
    }
    const queryToken = request.ws ? (request.query as { token?: unknown }).token : undefined;
    const authorized = carriesToken(
      token,
      request.headers.authorization,
      typeof queryToken === 'string' ? queryToken : undefined,
    );
    done(
      authorized
        ? undefined
        : new ApiError(401, 'BERTH_ERR_UNAUTHORIZED', 'send Authorization: Bearer <token>'),
    );
  });
  app.addHook('onResponse', (request, reply, done) => {
    logger.debug(
      {
        method: request.method,
        route: request.routeOptions.url ?? '(none)',
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
      },
      'request',
    );
    done();
  });

  app.setErrorHandler(async (error: Error & { readonly code?: string }, _request, reply) => {
    const refusal =
      error instanceof ApiError
        ? error
        : error.code?.startsWith('FST_ERR_CTP_') === true
          ? bodyProblem(error)
          : undefined;
    if (refusal !== undefined) {
      return reply
        .code(refusal.statusCode)
        .send(errorBody(refusal.code, refusal.message, refusal.field));
    }
    logger.error({ err: error }, 'request failed');
    const code: ErrorCode = isBerthError(error) ? error.code : 'BERTH_ERR_INTERNAL';
    return reply
      .code(500)
      .send(errorBody(code, 'the advisor failed on this request; its log says why'));
  });
  app.setNotFoundHandler((request) => {
    throw new ApiError(
      404,
      'BERTH_ERR_NOT_FOUND',
      `no route ${request.method} ${request.url.split('?')[0] ?? ''}`,
    );
  });

  await documentApi(app);
  await app.register(adviceRoutes, { advisor, fleet, metrics, pressure });
  await app.register(hostRoutes, { advisor, fleet });
  await app.register(resultRoutes, { evidence: deps.evidence, resultValues: deps.resultValues });
  await app.register(publishedRoutes);
  await app.register(deadLetterRoutes, { deadLetters: deps.deadLetters });
  await app.register(healthMetricsRoutes, { health: deps.health, metrics });
  await app.register(socketRoutes, { hub });
  await app.register(dashboardRoutes);
  await app.register(openApiRoutes);
  return app;
}
