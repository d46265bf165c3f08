import { resultsSubject, type ErrorCode, type ResultBatch } from '../contracts/index.ts';
import { makeResult } from './results.ts';

export interface MalformedMessage {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly msgId: string;
  readonly expected: ErrorCode;
}

const encode = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value));

/** The message size limit the malformed "too large" kind is built against. */
export const TEST_MAX_MESSAGE_BYTES = 64 * 1024;

/**
 * `count` malformed result messages, cycling through every way a message can be refused.
 * Each has its own Nats-Msg-Id, so JetStream keeps them all.
 */
export function makeMalformed(count: number, hostId = 'host-a'): MalformedMessage[] {
  const subject = resultsSubject(hostId);
  const kinds: ((id: string) => Omit<MalformedMessage, 'msgId'> & { msgId?: string })[] = [
    () => ({ subject, data: new Uint8Array(), expected: 'BERTH_ERR_EMPTY' }),
    (id) => ({
      subject,
      data: encode({ ...makeResult(0, hostId), id, pad: 'x'.repeat(TEST_MAX_MESSAGE_BYTES) }),
      expected: 'BERTH_ERR_TOO_LARGE',
    }),
    () => ({
      subject,
      data: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]),
      expected: 'BERTH_ERR_NOT_UTF8',
    }),
    () => ({
      subject,
      data: new TextEncoder().encode('{"schemaVersion":1,'),
      expected: 'BERTH_ERR_NOT_JSON',
    }),
    () => ({ subject, data: encode([1, 2, 3]), expected: 'BERTH_ERR_NOT_OBJECT' }),
    (id) => {
      const unversioned: Partial<ResultBatch> = { ...makeResult(0, hostId), id };
      delete unversioned.schemaVersion;
      return { subject, data: encode(unversioned), expected: 'BERTH_ERR_NO_SCHEMA_VERSION' };
    },
    (id) => ({
      subject,
      data: encode({ ...makeResult(0, hostId), id, schemaVersion: 99 }),
      expected: 'BERTH_ERR_UNKNOWN_SCHEMA_VERSION',
    }),
    (id) => ({
      subject,
      data: encode({ ...makeResult(0, hostId), id, metrics: [{ name: 'x', value: 'fast' }] }),
      expected: 'BERTH_ERR_SCHEMA',
    }),
    (id) => ({
      subject,
      data: encode({ ...makeResult(0, hostId), id, hostId: 'host a; DROP TABLE results' }),
      expected: 'BERTH_ERR_UNSAFE_ID',
    }),
    (id) => ({
      subject,
      data: encode({ ...makeResult(0, 'other-host'), id }),
      expected: 'BERTH_ERR_HOST_MISMATCH',
    }),
    (id) => ({
      subject,
      data: encode({ ...makeResult(0, hostId), id }),
      msgId: `${id}-but-another`,
      expected: 'BERTH_ERR_MSG_ID',
    }),
  ];
  return Array.from({ length: count }, (_, index) => {
    const id = `bad-${hostId}-${index}`;
    const kind = kinds[index % kinds.length];
    if (kind === undefined) throw new Error('no kind');
    const message = kind(id);
    return { ...message, msgId: message.msgId ?? id };
  });
}

export const MALFORMED_KINDS = 11;
