import type { AddressInfo } from 'node:net';
import Fastify, {
  LogController,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import websocket from '@fastify/websocket';
import { BerthError, isBerthError, type ErrorCode } from '../../contracts/index.ts';
import type { Logger } from '../../lib/logger.ts';
import type { Store } from '../../lib/storage/store.ts';
import type { Advisor } from './advisor.ts';
import { assertTokenPolicy, carriesToken } from './auth.ts';
import type { AdvisorTls } from './tls.ts';
import { DASHBOARD_ROUTES, serveDashboard } from './dashboard.ts';
import type { EvidenceCache } from './evidence-cache.ts';
import type { Fleet } from './fleet.ts';
import { createAdvisorMetrics, fieldLabel, type AdvisorMetrics } from './metrics.ts';
import { openApiDocument, type ApiErrorBody } from './openapi.ts';
import { parseParameters, type ParameterRules, type ParsedParameters } from './query-parameters.ts';
import { checkAskedQuestion } from './questions.ts';
import { loadResultValues } from './result-values.ts';
import { hostView, publishedFigures, resultViews } from './views.ts';
import { createSocketHub, DEFAULT_SOCKET_LIMITS, type SocketLimits } from './ws.ts';

/** The largest request body the advisor reads (a question is a few hundred bytes). */
export const MAX_BODY_BYTES = 64 * 1024;

/** The largest WebSocket frame read at all; between 64 KiB and this, an error frame answers. */
const MAX_WS_PAYLOAD_BYTES = 1 << 20;

const RESULT_PARAMETERS = {
  host: { kind: 'token' },
  platform: { kind: 'token' },
  workload: { kind: 'token' },
} as const satisfies ParameterRules;

const VALUE_PARAMETERS = {
  workload: { kind: 'token' },
  metric: { kind: 'token' },
  host: { kind: 'token' },
  platform: { kind: 'token' },
  limit: { kind: 'integer', min: 1, max: 1000 },
} as const satisfies ParameterRules;

/** Values kept per series when GET /v1/results/values gives no limit. */
const DEFAULT_VALUES_PER_SERIES = 200;

const HISTORY_PARAMETERS = {
  limit: { kind: 'integer', min: 1, max: 500 },
  before: { kind: 'integer', min: 0, max: Number.MAX_SAFE_INTEGER },
} as const satisfies ParameterRules;

/** Answers GET /v1/advice lists when it gives no limit. */
const DEFAULT_HISTORY_LIMIT = 50;

/** Routes anyone may load: health, and the dashboard's page and code (its data is the API's). */
const PUBLIC_ROUTES: ReadonlySet<string> = new Set(['/healthz', ...DASHBOARD_ROUTES]);

export interface AdvisorServerDeps {
  readonly advisor: Advisor;
  readonly evidence: EvidenceCache;
  readonly fleet: Fleet;
  /** Where the values behind the evidence are read (GET /v1/results/values). */
  readonly store: Store;
  readonly logger: Logger;
  readonly host: string;
  readonly port: number;
  /** Required when `host` is not a loopback address, unless clients present certificates. */
  readonly token?: string;
  /** HTTPS and WSS instead of HTTP and WS; with `clientCa`, mutual TLS. */
  readonly tls?: AdvisorTls;
  readonly health: () => { healthy: boolean; problems: readonly string[] };
  readonly socketLimits?: Partial<SocketLimits>;
}

export interface AdvisorServer {
  readonly app: FastifyInstance;
  readonly metrics: AdvisorMetrics;
  /** http://host:port (https:// with TLS), with the port the server got. */
  address(): string;
  /** Stops accepting, closes WebSockets with "going away", drops every watch. */
  close(): Promise<void>;
}

function errorBody(code: ErrorCode, message: string, field?: string): ApiErrorBody {
  return { error: { code, ...(field === undefined ? {} : { field }), message } };
}

function refuse(
  reply: FastifyReply,
  status: number,
  code: ErrorCode,
  message: string,
  field?: string,
): FastifyReply {
  return reply.code(status).send(errorBody(code, message, field));
}

/** What the client sent wrong, for fastify's own body errors (size, media type, JSON). */
function bodyProblem(error: FastifyError): { status: number; code: ErrorCode; message: string } {
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return {
      status: 413,
      code: 'BERTH_ERR_TOO_LARGE',
      message: `the body is over ${MAX_BODY_BYTES} bytes`,
    };
  }
  if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return {
      status: 415,
      code: 'BERTH_ERR_NOT_JSON',
      message: 'send the question as application/json',
    };
  }
  if (error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
    return { status: 400, code: 'BERTH_ERR_NOT_JSON', message: 'the body is empty' };
  }
  return {
    status: 400,
    code: 'BERTH_ERR_NOT_JSON',
    message: `the body is not JSON: ${error.message}`,
  };
}

/**
 * The advisor's HTTP and WebSocket server: questions and answers, the fleet, the evidence,
 * health, metrics and the OpenAPI document. Off loopback it wants a bearer token, and it
 * never logs the token or the query string that may carry it.
 */
export async function createAdvisorServer(deps: AdvisorServerDeps): Promise<AdvisorServer> {
  assertTokenPolicy(deps.host, deps.token, deps.tls?.clientCa !== undefined);
  const { advisor, evidence, fleet } = deps;
  const token = deps.token === '' ? undefined : deps.token;
  const logger = deps.logger.child(
    { component: 'advisor-server' },
    { redact: ['req.headers.authorization', 'req.url', 'req.query', 'headers.authorization'] },
  );
  const metrics = createAdvisorMetrics();
  const hub = createSocketHub({
    advisor,
    fleet,
    metrics,
    logger,
    limits: { ...DEFAULT_SOCKET_LIMITS, ...deps.socketLimits },
  });

  const { tls } = deps;
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
  });
  await app.register(websocket, {
    options: { maxPayload: MAX_WS_PAYLOAD_BYTES },
    preClose: async () => {
      await hub.close();
    },
  });

  app.removeContentTypeParser('text/plain');
  app.addHook('onRequest', async (request, reply) => {
    if (token === undefined || PUBLIC_ROUTES.has(request.routeOptions.url ?? '')) return;
    const queryToken = request.ws ? (request.query as { token?: unknown }).token : undefined;
    if (
      !carriesToken(
        token,
        request.headers.authorization,
        typeof queryToken === 'string' ? queryToken : undefined,
      )
    ) {
      await refuse(reply, 401, 'BERTH_ERR_UNAUTHORIZED', 'send Authorization: Bearer <token>');
    }
  });
  app.addHook('onResponse', async (request, reply) => {
    logger.debug(
      {
        method: request.method,
        route: request.routeOptions.url ?? '(none)',
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
      },
      'request',
    );
  });

  app.setErrorHandler(async (error: FastifyError, _request, reply) => {
    if (error.code.startsWith('FST_ERR_CTP_')) {
      const problem = bodyProblem(error);
      return refuse(reply, problem.status, problem.code, problem.message);
    }
    logger.error({ err: error }, 'request failed');
    return refuse(
      reply,
      500,
      isBerthError(error) ? error.code : 'BERTH_ERR_INTERNAL',
      'the advisor failed on this request; its log says why',
    );
  });
  const noRoute = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> =>
    refuse(
      reply,
      404,
      'BERTH_ERR_NOT_FOUND',
      `no route ${request.method} ${request.url.split('?')[0] ?? ''}`,
    );
  app.setNotFoundHandler(noRoute);

  /** The query's parameters by their rules, or a 400 naming the one at fault. */
  const parametersOf = <Rules extends ParameterRules>(
    request: FastifyRequest,
    reply: FastifyReply,
    rules: Rules,
  ): ParsedParameters<Rules> | undefined => {
    const parsed = parseParameters(request.query as Record<string, unknown>, rules);
    if (parsed.ok) return parsed.parameters;
    const { problem } = parsed;
    void refuse(
      reply,
      400,
      'BERTH_ERR_PARAMETER',
      `${problem.field} ${problem.message}`,
      problem.field,
    );
    return undefined;
  };

  app.post('/v1/advice', async (request, reply) => {
    const checked = checkAskedQuestion(request.body, fleet);
    if (!checked.ok) {
      metrics.badQuestions.inc({ field: fieldLabel(checked.problem.field) });
      return refuse(
        reply,
        400,
        'BERTH_ERR_QUESTION',
        `${checked.problem.field} ${checked.problem.message}`,
        checked.problem.field,
      );
    }
    const timer = metrics.answerSeconds.startTimer();
    const advice = advisor.ask(checked.question);
    timer();
    metrics.answers.inc({ via: 'http', why: 'asked' });
    return advice;
  });

  app.get('/v1/advice', async (request, reply) => {
    const parameters = parametersOf(request, reply, HISTORY_PARAMETERS);
    if (parameters === undefined) return reply;
    const answers = await advisor.history({
      limit: parameters.limit ?? DEFAULT_HISTORY_LIMIT,
      ...(parameters.before === undefined ? {} : { before: parameters.before }),
    });
    return { answers };
  });

  app.get<{ Params: { id: string } }>('/v1/advice/:id', async (request, reply) => {
    const advice = await advisor.get(request.params.id);
    if (advice === undefined) {
      return refuse(reply, 404, 'BERTH_ERR_NOT_FOUND', 'no answer with that id', 'id');
    }
    return advice;
  });

  app.get('/v1/hosts', () => {
    const now = Date.now();
    return { hosts: fleet.hosts().map((host) => hostView(host, now)) };
  });

  app.post<{ Params: { hostId: string } }>('/v1/hosts/:hostId/runs', async (request, reply) => {
    const { hostId } = request.params;
    if (!fleet.hosts().some((host) => host.hostId === hostId)) {
      return refuse(
        reply,
        404,
        'BERTH_ERR_NOT_FOUND',
        `no host ${JSON.stringify(hostId.slice(0, 64))} is known (see GET /v1/hosts)`,
        'hostId',
      );
    }
    return advisor.runNow(hostId);
  });

  app.get('/v1/results', async (request, reply) => {
    const filter = parametersOf(request, reply, RESULT_PARAMETERS);
    if (filter === undefined) return reply;
    const problem = evidence.problem();
    return {
      readAt: evidence.readAt(),
      ...(problem === undefined ? {} : { problem }),
      results: resultViews(evidence.rows(), filter),
    };
  });

  app.get('/v1/results/values', async (request, reply) => {
    const parameters = parametersOf(request, reply, VALUE_PARAMETERS);
    if (parameters === undefined) return reply;
    const { workload, metric, host, platform, limit } = parameters;
    if (workload === undefined) {
      return refuse(reply, 400, 'BERTH_ERR_PARAMETER', 'workload is required', 'workload');
    }
    return loadResultValues(deps.store, {
      workload,
      limit: limit ?? DEFAULT_VALUES_PER_SERIES,
      ...(metric === undefined ? {} : { metric }),
      ...(host === undefined ? {} : { hostId: host }),
      ...(platform === undefined ? {} : { platform }),
    });
  });

  const published = publishedFigures();
  app.get('/v1/published', () => published);

  app.get('/healthz', async (_request, reply) => {
    const health = deps.health();
    return reply.code(health.healthy ? 200 : 503).send({
      status: health.healthy ? 'ok' : 'unhealthy',
      problems: health.problems,
    });
  });

  app.get('/metrics', async (_request, reply) =>
    reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
  );

  const openApi = openApiDocument();
  app.get('/openapi.json', () => openApi);

  app.get('/v1/ws', { websocket: true }, (socket) => {
    hub.serve(socket);
  });

  serveDashboard(app as unknown as FastifyInstance, noRoute);

  try {
    await app.listen({ host: deps.host, port: deps.port });
  } catch (error) {
    await app.close();
    throw new BerthError(
      'BERTH_ERR_CONFIG',
      `the advisor cannot listen on ${deps.host}:${deps.port}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const { port } = app.server.address() as AddressInfo;
  const shownHost = deps.host.includes(':') ? `[${deps.host}]` : deps.host;
  return {
    app: app as unknown as FastifyInstance,
    metrics,
    address: () => `${tls === undefined ? 'http' : 'https'}://${shownHost}:${port}`,
    close: () => app.close(),
  };
}
