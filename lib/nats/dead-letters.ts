import type { NatsConnection } from '@nats-io/nats-core';
import { DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { deadLetterCodec, type DeadLetter } from '../../contracts/index.ts';
import { DLQ_STREAM } from './streams.ts';

/** The newest dead letters, oldest first (at most `limit`). */
export async function readDeadLetters(nc: NatsConnection, limit: number): Promise<DeadLetter[]> {
  const jsm = await jetstreamManager(nc);
  const { state } = await jsm.streams.info(DLQ_STREAM);
  if (state.messages === 0) return [];
  const startSeq = Math.max(state.first_seq, state.last_seq - limit + 1);
  const consumer = await jetstream(nc).consumers.get(DLQ_STREAM, {
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: startSeq,
  });
  const wanted = Math.min(limit, state.last_seq - startSeq + 1);
  const entries: DeadLetter[] = [];
  while (entries.length < wanted) {
    const batch = await consumer.fetch({ max_messages: wanted - entries.length, expires: 2000 });
    let got = 0;
    for await (const message of batch) {
      got += 1;
      const decoded = deadLetterCodec.decode(message.data, Number.MAX_SAFE_INTEGER);
      if (decoded.ok) entries.push(decoded.value);
    }
    if (got === 0) break;
  }
  return entries;
}
