import type { ErrorCode } from '../../contracts/index.ts';
import { resultTsv } from '../../lib/storage/results.ts';
import { validateResult } from './validate.ts';

/** A batch of raw result messages, packed so it can cross to a worker thread in one copy. */
export interface BatchInput {
  readonly subjects: readonly string[];
  /** The Nats-Msg-Id of each message ('' when it had none). */
  readonly msgIds: readonly string[];
  /** Every payload, back to back. */
  readonly data: Uint8Array<ArrayBuffer>;
  /** Payload i is data[offsets[i], offsets[i + 1]). */
  readonly offsets: Uint32Array<ArrayBuffer>;
  readonly maxMessageBytes: number;
  readonly ingestedAtMs: number;
}

export interface EncodedBatch {
  /** TabSeparated lines of RESULT_COLUMNS, one per metric of every valid message. */
  readonly payload: string;
  readonly rows: number;
  /** For each message: where its lines start and end in payload, or -1 when it was refused. */
  readonly lineStart: Int32Array<ArrayBuffer>;
  readonly lineEnd: Int32Array<ArrayBuffer>;
  /** Why each refused message was refused, by its index in the batch. */
  readonly refused: readonly { index: number; code: ErrorCode; reason: string }[];
}

export interface RawMessage {
  readonly subject: string;
  readonly data: Uint8Array;
  /** The Nats-Msg-Id header ('' when the message had none). */
  readonly msgId: string;
}

/** Packs messages into one BatchInput: their payloads are copied once, back to back. */
export function packBatch(
  messages: readonly RawMessage[],
  maxMessageBytes: number,
  ingestedAtMs: number,
): BatchInput {
  const offsets = new Uint32Array(messages.length + 1);
  let total = 0;
  messages.forEach((message, index) => {
    offsets[index] = total;
    total += message.data.length;
  });
  offsets[messages.length] = total;
  const data = new Uint8Array(total);
  messages.forEach((message, index) => {
    data.set(message.data, offsets[index]);
  });
  return {
    subjects: messages.map((message) => message.subject),
    msgIds: messages.map((message) => message.msgId),
    data,
    offsets,
    maxMessageBytes,
    ingestedAtMs,
  };
}

/** Validates every message and turns the valid ones into `results` rows, as JSON lines. */
export function encodeBatch(input: BatchInput): EncodedBatch {
  const count = input.subjects.length;
  const lineStart = new Int32Array(count).fill(-1);
  const lineEnd = new Int32Array(count).fill(-1);
  const refused: { index: number; code: ErrorCode; reason: string }[] = [];
  const parts: string[] = [];
  let length = 0;
  let rows = 0;
  for (let index = 0; index < count; index += 1) {
    const start = input.offsets[index] ?? 0;
    const end = input.offsets[index + 1] ?? start;
    const msgId = input.msgIds[index];
    const decoded = validateResult(
      {
        subject: input.subjects[index] ?? '',
        data: input.data.subarray(start, end),
        msgId: msgId === '' ? undefined : msgId,
      },
      input.maxMessageBytes,
    );
    if (!decoded.ok) {
      refused.push({ index, code: decoded.code, reason: decoded.reason });
      continue;
    }
    const lines = resultTsv(decoded.value, input.ingestedAtMs);
    parts.push(lines);
    lineStart[index] = length;
    length += lines.length;
    lineEnd[index] = length;
    rows += decoded.value.metrics.length;
  }
  return { payload: parts.join(''), rows, lineStart, lineEnd, refused };
}
