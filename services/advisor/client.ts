import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { rootCertificates } from 'node:tls';
import type { Static, TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import type { ApiErrorBody } from '../../contracts/advisor-api.ts';
import { BerthError, describeError } from '../../contracts/index.ts';
import { sleep } from '../../lib/backoff.ts';
import { settingLabel, type Config } from '../../lib/config.ts';
import { serverFaultText, tlsFailureOf, type TlsFailure } from '../../lib/tls-error.ts';
import type { ADVISOR_CLIENT_SETTINGS } from './client-settings.ts';
import { readSetting } from './tls.ts';

export type AdvisorClientConfig = Config<(typeof ADVISOR_CLIENT_SETTINGS)[number]>;

/** How long the advisor has to answer before it counts as not running. */
const ANSWER_TIMEOUT_MS = 5_000;

/**
 * The advisor's address as a client reaches it (a wildcard bind is reached on loopback), over
 * HTTPS when it has a certificate.
 */
export function advisorUrl(
  config: Config<'advisorHost' | 'advisorPort' | 'advisorTlsCert'>,
): string {
  const host = ['0.0.0.0', '::', ''].includes(config.advisorHost)
    ? '127.0.0.1'
    : config.advisorHost;
  const scheme = config.advisorTlsCert === undefined ? 'http' : 'https';
  return `${scheme}://${host.includes(':') ? `[${host}]` : host}:${config.advisorPort}`;
}

/** One call of the advisor's API and the contract its answer meets. */
export interface AdvisorRequest<Answer extends TSchema> {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  /** Query parameters; those undefined are left out. */
  readonly query?: Readonly<Record<string, string | number | undefined>>;
  /** Sent as JSON. */
  readonly body?: unknown;
  readonly answer: Answer;
}

const checks = new WeakMap<TSchema, TypeCheck<TSchema>>();

function checkOf<Answer extends TSchema>(schema: Answer): TypeCheck<Answer> {
  let check = checks.get(schema);
  if (check === undefined) {
    check = TypeCompiler.Compile(schema);
    checks.set(schema, check);
  }
  return check as TypeCheck<Answer>;
}

/** The status and text of an answer, and its Retry-After in seconds when it gave one. */
interface Answered {
  readonly status: number;
  readonly text: string;
  readonly retryAfterSeconds: number | undefined;
}

/** Times an overloaded advisor (503, BERTH_ERR_BUSY) is asked again, after its Retry-After. */
const BUSY_RETRIES = 3;
/** The longest Retry-After waited for, seconds. */
const MAX_RETRY_AFTER_S = 5;

/**
 * What the client checks the advisor with and presents to it: the advisor's certificate file
 * besides the public roots (a self-signed certificate, or a chain that ends in its CA), and
 * the client certificate when one is set. Undefined for plain HTTP.
 */
async function tlsOf(
  config: AdvisorClientConfig,
): Promise<{ ca: (string | Buffer)[]; cert?: Buffer; key?: Buffer } | undefined> {
  const { advisorTlsCert, advisorClientCert: cert, advisorClientKey: key } = config;
  if ((cert === undefined) !== (key === undefined)) {
    throw new BerthError(
      'BERTH_ERR_CONFIG',
      `a client certificate needs both ${settingLabel('advisorClientCert')} and ${settingLabel('advisorClientKey')}`,
    );
  }
  if (advisorTlsCert === undefined) {
    if (cert === undefined) return undefined;
    throw new BerthError(
      'BERTH_ERR_CONFIG',
      `${settingLabel('advisorClientCert')} is presented over HTTPS: set ${settingLabel('advisorTlsCert')} to the advisor's certificate`,
    );
  }
  return {
    ca: [...rootCertificates, await readSetting('advisorTlsCert', advisorTlsCert)],
    ...(cert === undefined || key === undefined
      ? {}
      : {
          cert: await readSetting('advisorClientCert', cert),
          key: await readSetting('advisorClientKey', key),
        }),
  };
}

/**
 * Why a TLS exchange with the advisor failed, naming the setting to look at; undefined when
 * the failure was not about TLS (nothing listens there, no answer in time). An advisor that
 * refuses a client certificate may close the connection with no alert, so a connection reset
 * over HTTPS counts as a refusal too.
 */
function tlsProblem(error: unknown, config: AdvisorClientConfig): string | undefined {
  if (config.advisorTlsCert === undefined) return undefined;
  const reset = (error as NodeJS.ErrnoException).code === 'ECONNRESET';
  const failure: TlsFailure | undefined = reset
    ? { fault: 'refused', reason: describeError(error) }
    : tlsFailureOf(error);
  if (failure === undefined) return undefined;
  if (failure.fault === 'refused') {
    const cert = config.advisorClientCert;
    return `refused this client's certificate (setting ${settingLabel('advisorClientCert')}${cert === undefined ? ', not set' : `, ${cert}`}): ${failure.reason}`;
  }
  return `${serverFaultText(failure.fault)} (setting ${settingLabel('advisorTlsCert')}, ${config.advisorTlsCert}): ${failure.reason}`;
}

/** Sends the request over HTTP or HTTPS (see tlsOf). Rejects when no answer comes. */
async function send(
  config: AdvisorClientConfig,
  url: URL,
  method: string,
  body: string | undefined,
): Promise<Answered> {
  const tls = await tlsOf(config);
  const request = tls === undefined ? httpRequest : httpsRequest;
  const headers = {
    ...(config.advisorToken === undefined
      ? {}
      : { authorization: `Bearer ${config.advisorToken}` }),
    ...(body === undefined ? {} : { 'content-type': 'application/json' }),
  };
  return new Promise((resolve, reject) => {
    const outgoing = request(
      url,
      {
        method,
        headers,
        ...tls,
        signal: AbortSignal.timeout(ANSWER_TIMEOUT_MS),
      },
      (response: IncomingMessage) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => {
          const retryAfter = Number(response.headers['retry-after']);
          resolve({
            status: response.statusCode ?? 0,
            text,
            retryAfterSeconds: Number.isFinite(retryAfter) ? retryAfter : undefined,
          });
        });
        response.on('error', reject);
      },
    );
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

/**
 * Asks the advisor running at the configured address; undefined when none answers there.
 * An answer other than 2xx is an error naming the status and the field at fault, and so is
 * a body that does not meet the request's contract; a TLS handshake that fails is an error
 * naming the setting at fault, not an advisor that is not there.
 */
export async function askAdvisor<Answer extends TSchema>(
  config: AdvisorClientConfig,
  call: AdvisorRequest<Answer>,
): Promise<Static<Answer> | undefined> {
  const base = advisorUrl(config);
  const url = new URL(call.path, base);
  for (const [name, value] of Object.entries(call.query ?? {})) {
    if (value !== undefined) url.searchParams.set(name, String(value));
  }
  const body = call.body === undefined ? undefined : JSON.stringify(call.body);
  let answered: Answered;
  let answer: unknown;
  for (let retries = 0; ; retries += 1) {
    try {
      answered = await send(config, url, call.method, body);
    } catch (error) {
      if (error instanceof BerthError) throw error;
      const problem = tlsProblem(error, config);
      if (problem === undefined) return undefined;
      // The message holds the reason; OpenSSL's own text of it spans lines.
      throw new BerthError('BERTH_ERR_CONFIG', `the advisor at ${base} ${problem}`);
    }
    try {
      answer = JSON.parse(answered.text);
    } catch {
      answer = undefined;
    }
    const busy =
      answered.status === 503 &&
      (answer as Partial<ApiErrorBody> | undefined)?.error?.code === 'BERTH_ERR_BUSY';
    if (!busy || retries === BUSY_RETRIES) break;
    // An overloaded advisor says when to ask again.
    await sleep(Math.min(answered.retryAfterSeconds ?? 1, MAX_RETRY_AFTER_S) * 1000);
  }
  if (answered.status < 200 || answered.status > 299) {
    const error = (answer as Partial<ApiErrorBody> | undefined)?.error;
    throw new Error(
      `the advisor at ${base} answered ${answered.status}: ${[error?.field, error?.message].filter((part) => part !== undefined && part !== '').join(' ')}`,
    );
  }
  const check = checkOf(call.answer);
  if (!check.Check(answer)) {
    const first = check.Errors(answer).First();
    throw new Error(
      `the advisor at ${base} answered ${call.method} ${call.path} with a body that is not ${call.answer.$id ?? 'what it should be'}${first === undefined ? '' : `: ${first.path} ${first.message}`}`,
    );
  }
  return answer;
}
