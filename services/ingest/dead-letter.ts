import type { DeadLetter, ErrorCode } from '../../contracts/index.ts';

export interface Rejected {
  readonly subject: string;
  readonly streamSequence: number;
  readonly msgId: string | undefined;
  readonly data: Uint8Array;
  readonly code: ErrorCode;
  readonly reason: string;
}

/** Room left in a message for everything but the payload. */
const ENVELOPE_BYTES = 4096;

/**
 * The dead-letter entry for a rejected message, keeping its original bytes. Only when the
 * entry would not fit the server's message size are the bytes cut, and the entry says so.
 */
export function deadLetterEntry(rejected: Rejected, maxPayload: number, now: number): DeadLetter {
  const room = Math.max(0, Math.floor(((maxPayload - ENVELOPE_BYTES) * 3) / 4));
  const truncated = rejected.data.length > room;
  const kept = truncated ? rejected.data.subarray(0, room) : rejected.data;
  return {
    schemaVersion: 1,
    receivedAt: now,
    subject: rejected.subject.slice(0, 256),
    streamSequence: rejected.streamSequence,
    ...(rejected.msgId === undefined ? {} : { msgId: rejected.msgId.slice(0, 256) }),
    code: rejected.code,
    reason: rejected.reason.slice(0, 2048),
    payloadBytes: rejected.data.length,
    payloadBase64: Buffer.from(kept).toString('base64'),
    truncated,
  };
}

/** The Nats-Msg-Id of the dead letter for a stream message: a redelivery is stored once. */
export function deadLetterMsgId(streamSequence: number): string {
  return `dlq-results-${streamSequence}`;
}
