import { inspect } from 'node:util';

/**
 * Every error Berth reports carries one of these codes, a message a person can act on,
 * and (where there is one) the underlying cause.
 */
export const ErrorCodes = {
  BERTH_ERR_CONFIG: 'a setting is missing, malformed or out of range',
  BERTH_ERR_UNSAFE_ID: 'an id is not a safe NATS subject token',
  BERTH_ERR_EMPTY: 'the message has no payload',
  BERTH_ERR_TOO_LARGE: 'the message is larger than the configured limit',
  BERTH_ERR_NOT_UTF8: 'the payload is not valid UTF-8',
  BERTH_ERR_NOT_JSON: 'the payload is not JSON',
  BERTH_ERR_NOT_OBJECT: 'the payload is JSON but not an object',
  BERTH_ERR_NO_SCHEMA_VERSION: 'the message has no schemaVersion',
  BERTH_ERR_UNKNOWN_SCHEMA_VERSION: 'the schemaVersion is not one this build knows',
  BERTH_ERR_SCHEMA: 'the message does not match its schema',
  BERTH_ERR_SUBJECT: 'the subject is not one Berth accepts here',
  BERTH_ERR_HOST_MISMATCH: 'the host id in the payload differs from the one in the subject',
  BERTH_ERR_MSG_ID: 'the Nats-Msg-Id header is missing or differs from the payload id',
  BERTH_ERR_NATS_UNREACHABLE: 'the NATS server cannot be reached',
  BERTH_ERR_STORE_UNREACHABLE: 'the ClickHouse store cannot be reached',
  BERTH_ERR_STORE_QUERY: 'the store refused a query',
  BERTH_ERR_STORE_LOCKED: 'the embedded store is in use by another process',
  BERTH_ERR_MIGRATION: 'a schema migration failed',
  BERTH_ERR_SQL_VALUE: 'a value cannot be written into SQL',
  BERTH_ERR_SERVER_START: 'a server Berth starts did not come up',
  BERTH_ERR_MISSING_PROGRAM: 'a program Berth needs is not installed',
  BERTH_ERR_UNKNOWN_PLATFORM: 'a job or command names a platform this agent does not know',
  BERTH_ERR_UNKNOWN_WORKLOAD: 'a job names a workload the runner does not have',
  BERTH_ERR_AGENT_BUSY: 'the agent is already running a job',
  BERTH_ERR_VIRSH: 'a virsh command failed, or virsh cannot reach its libvirt URI',
  BERTH_ERR_QUESTION: 'a question to the advisor does not fit the API; the field is named',
  BERTH_ERR_NOT_FOUND: 'the advisor has no answer with that id',
  BERTH_ERR_PARAMETER: 'a query parameter of the advisor API or a command-line option is not valid',
  BERTH_ERR_FRAME: 'a WebSocket frame to the advisor is not one it accepts',
  BERTH_ERR_UNAUTHORIZED: 'the advisor API needs a bearer token and none or a wrong one came',
  BERTH_ERR_INTERNAL: 'the advisor failed on a request it should have answered',
  BERTH_ERR_BUSY: 'the advisor is overloaded and took no new question; ask again later',
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

export class BerthError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BerthError';
    this.code = code;
  }
}

export function isBerthError(error: unknown, code?: ErrorCode): error is BerthError {
  return error instanceof BerthError && (code === undefined || error.code === code);
}

/** The message of any thrown value, with the causes chained after it. */
export function describeError(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && depth < 5; depth += 1) {
    if (current instanceof Error) {
      const text = current.message || current.name;
      if (!parts.some((part) => part.includes(text))) parts.push(text);
      current = current.cause;
    } else {
      parts.push(typeof current === 'string' ? current : inspect(current));
      current = undefined;
    }
  }
  return parts.join(': ');
}
