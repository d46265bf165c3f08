import {
  hostIdOfResultsSubject,
  isSafeToken,
  resultBatchCodec,
  type Decoded,
  type ResultBatch,
} from '../../contracts/index.ts';

export interface IncomingResult {
  readonly subject: string;
  readonly data: Uint8Array;
  /** The Nats-Msg-Id header, when the publisher set one. */
  readonly msgId: string | undefined;
}

/**
 * Everything a result message must satisfy before it is stored: the subject names a safe
 * host, the payload is a result batch of a known schema version, its host is the subject's
 * host, and its id is the Nats-Msg-Id JetStream deduplicated it by.
 */
export function validateResult(message: IncomingResult, maxBytes: number): Decoded<ResultBatch> {
  const subjectHost = hostIdOfResultsSubject(message.subject);
  if (subjectHost === undefined) {
    return {
      ok: false,
      code: 'BERTH_ERR_SUBJECT',
      reason: `subject ${JSON.stringify(message.subject)} is not berth.results.<hostId>`,
    };
  }
  const parsed = resultBatchCodec.parse(message.data, maxBytes);
  if (!parsed.ok) return parsed;
  const hostId = (parsed.value as { hostId?: unknown } | null)?.hostId;
  if (typeof hostId === 'string' && !isSafeToken(hostId)) {
    return {
      ok: false,
      code: 'BERTH_ERR_UNSAFE_ID',
      reason: `host id ${JSON.stringify(hostId)} is not a safe subject token`,
    };
  }
  const checked = resultBatchCodec.check(parsed.value);
  if (!checked.ok) return checked;
  const batch = checked.value;
  if (batch.hostId !== subjectHost) {
    return {
      ok: false,
      code: 'BERTH_ERR_HOST_MISMATCH',
      reason: `payload host ${batch.hostId} was published on the subject of host ${subjectHost}`,
    };
  }
  if (message.msgId !== batch.id) {
    return {
      ok: false,
      code: 'BERTH_ERR_MSG_ID',
      reason:
        message.msgId === undefined
          ? `the Nats-Msg-Id header is missing (it must be the result id ${batch.id})`
          : `Nats-Msg-Id ${JSON.stringify(message.msgId)} differs from the result id ${batch.id}`,
    };
  }
  return checked;
}
