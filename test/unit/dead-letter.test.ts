import { describe, expect, it } from 'vitest';
import { deadLetterCodec } from '../../contracts/index.ts';
import { deadLetterEntry, deadLetterMsgId } from '../../services/ingest/dead-letter.ts';

const rejected = (bytes: number) => ({
  subject: 'berth.results.host-a',
  streamSequence: 42,
  msgId: 'r-1',
  data: new Uint8Array(bytes).fill(0x61),
  code: 'BERTH_ERR_TOO_LARGE' as const,
  reason: 'result batch: too large',
});

describe('dead-letter entries', () => {
  it('keep the original bytes, the reason and where the message came from', () => {
    const entry = deadLetterEntry(rejected(1000), 1024 * 1024, 1_700_000_000_000);
    expect(deadLetterCodec.check(entry).ok).toBe(true);
    expect(entry).toMatchObject({
      subject: 'berth.results.host-a',
      streamSequence: 42,
      msgId: 'r-1',
      code: 'BERTH_ERR_TOO_LARGE',
      payloadBytes: 1000,
      truncated: false,
    });
    expect(Buffer.from(entry.payloadBase64, 'base64')).toEqual(Buffer.alloc(1000, 0x61));
  });

  it('cut the bytes only when the entry would not fit the server limit, and say so', () => {
    const maxPayload = 64 * 1024;
    const entry = deadLetterEntry(rejected(200_000), maxPayload, 0);
    expect(entry.truncated).toBe(true);
    expect(entry.payloadBytes).toBe(200_000);
    expect(deadLetterCodec.encode(entry).length).toBeLessThanOrEqual(maxPayload);
    expect(Buffer.from(entry.payloadBase64, 'base64').length).toBeLessThan(200_000);
  });

  it('get a Nats-Msg-Id from the stream sequence, so a redelivery is stored once', () => {
    expect(deadLetterMsgId(7)).toBe(deadLetterMsgId(7));
    expect(deadLetterMsgId(7)).not.toBe(deadLetterMsgId(8));
  });
});
