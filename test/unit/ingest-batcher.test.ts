import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createBatcher, MAX_QUEUED_BATCHES } from '../../services/ingest/batcher.ts';

interface SealedBatch {
  readonly messages: string[];
  readonly startedAt: number;
}

/** A batcher of strings whose writes finish only when the test says so. */
function batcher(batchSize = 3, batchWaitMs = 50) {
  const sealed: SealedBatch[] = [];
  const writing: { batch: SealedBatch; finish: () => void }[] = [];
  const written: SealedBatch[] = [];
  const subject = createBatcher<string, SealedBatch>({
    batchSize,
    batchWaitMs,
    seal: (messages, startedAt) => {
      const batch = { messages, startedAt };
      sealed.push(batch);
      return batch;
    },
    write: (batch) =>
      new Promise<void>((resolve) => {
        writing.push({
          batch,
          finish: () => {
            written.push(batch);
            resolve();
          },
        });
      }),
  });
  /** Lets the batch being written finish, and the batcher react. */
  const finishWrite = async (): Promise<void> => {
    writing.shift()?.finish();
    await vi.advanceTimersByTimeAsync(0);
  };
  return { batcher: subject, sealed, writing, written, finishWrite };
}

/** Whether the promise has settled once pending callbacks have run. */
async function settled(promise: Promise<void>): Promise<boolean> {
  let done = false;
  void promise.then(() => {
    done = true;
  });
  await vi.advanceTimersByTimeAsync(0);
  return done;
}

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

describe('the ingest batcher', () => {
  it('seals a batch as soon as it holds batchSize messages', () => {
    const { batcher: subject, sealed } = batcher(3);
    for (const message of ['a', 'b', 'c', 'd', 'e', 'f', 'g']) subject.take(message);
    expect(sealed.map((batch) => batch.messages)).toEqual([
      ['a', 'b', 'c'],
      ['d', 'e', 'f'],
    ]);
  });

  it('seals a batch batchWaitMs after its first message, however many came since', async () => {
    const { batcher: subject, sealed } = batcher(100, 50);
    vi.advanceTimersByTime(1000);
    const first = performance.now();
    subject.take('a');
    await vi.advanceTimersByTimeAsync(30);
    subject.take('b');
    await vi.advanceTimersByTimeAsync(19);
    expect(sealed).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(sealed).toEqual([{ messages: ['a', 'b'], startedAt: first }]);
  });

  it('starts the wait again with the first message after a seal, and never seals an empty batch', async () => {
    const { batcher: subject, sealed } = batcher(2, 50);
    subject.take('a');
    subject.take('b');
    await vi.advanceTimersByTimeAsync(200);
    expect(sealed).toHaveLength(1);
    subject.take('c');
    await vi.advanceTimersByTimeAsync(49);
    expect(sealed).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(sealed.map((batch) => batch.messages)).toEqual([['a', 'b'], ['c']]);
  });

  it('writes sealed batches one at a time, in the order they were sealed', async () => {
    const { batcher: subject, writing, written, finishWrite } = batcher(1);
    subject.take('a');
    subject.take('b');
    await vi.advanceTimersByTimeAsync(0);
    expect(writing.map((write) => write.batch.messages)).toEqual([['a']]);
    await finishWrite();
    expect(writing.map((write) => write.batch.messages)).toEqual([['b']]);
    await finishWrite();
    expect(written.map((batch) => batch.messages)).toEqual([['a'], ['b']]);
  });

  it(`has room until ${MAX_QUEUED_BATCHES} sealed batches wait, the one being written included`, async () => {
    expect(MAX_QUEUED_BATCHES).toBe(2);
    const { batcher: subject, finishWrite } = batcher(1);
    expect(await settled(subject.whenRoom())).toBe(true);
    subject.take('a');
    expect(await settled(subject.whenRoom())).toBe(true);
    subject.take('b');
    const room = subject.whenRoom();
    expect(await settled(room)).toBe(false);
    await finishWrite();
    expect(await settled(room)).toBe(true);
  });

  it('keeps waiting for room while a timer-sealed batch keeps the queue full', async () => {
    const { batcher: subject, finishWrite } = batcher(2, 50);
    subject.take('a');
    subject.take('b');
    subject.take('c');
    subject.take('d');
    subject.take('e');
    await vi.advanceTimersByTimeAsync(50);
    const room = subject.whenRoom();
    await finishWrite();
    expect(await settled(room)).toBe(false);
    await finishWrite();
    expect(await settled(room)).toBe(true);
  });

  it('stops holding anyone back once released', async () => {
    const { batcher: subject } = batcher(1);
    subject.take('a');
    subject.take('b');
    const room = subject.whenRoom();
    expect(await settled(room)).toBe(false);
    subject.release();
    expect(await settled(room)).toBe(true);
    subject.take('c');
    expect(await settled(subject.whenRoom())).toBe(true);
  });

  it('flush seals the open batch and resolves once every batch is written', async () => {
    const { batcher: subject, sealed, writing, written, finishWrite } = batcher(2, 50);
    subject.take('a');
    subject.take('b');
    subject.take('c');
    const flushed = subject.flush();
    expect(sealed.map((batch) => batch.messages)).toEqual([['a', 'b'], ['c']]);
    expect(await settled(flushed)).toBe(false);
    await finishWrite();
    expect(await settled(flushed)).toBe(false);
    await finishWrite();
    expect(await settled(flushed)).toBe(true);
    expect(written).toHaveLength(2);
    expect(writing).toEqual([]);
    await vi.advanceTimersByTimeAsync(100);
    expect(sealed).toHaveLength(2);
  });
});
