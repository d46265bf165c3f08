/** Sealed batches waiting to be written; past this the consumer stops taking messages. */
export const MAX_QUEUED_BATCHES = 2;

export interface BatcherOptions<M, B> {
  /** A batch is sealed when it holds this many messages... */
  readonly batchSize: number;
  /** ...or this long after its first message. */
  readonly batchWaitMs: number;
  /**
   * Called as a batch is sealed, with its messages and when the first came
   * (`performance.now()`); what it returns is what `write` is later given.
   */
  readonly seal: (messages: M[], startedAt: number) => B;
  /** Writes one sealed batch. Batches are written one at a time, in the order they were sealed. */
  readonly write: (batch: B) => Promise<void>;
}

/** Gathers messages into batches and hands each sealed batch to the writer, in order. */
export interface Batcher<M> {
  /** Adds a message to the open batch: its first message starts the wait, a full batch is sealed. */
  take(message: M): void;
  /**
   * Resolves once fewer than MAX_QUEUED_BATCHES sealed batches wait (the one being written
   * counts), so whoever takes messages stops taking them while the writer is behind.
   */
  whenRoom(): Promise<void>;
  /** Stops holding back whoever waits for room, now and from now on: the caller is stopping. */
  release(): void;
  /** Seals the open batch and resolves once every sealed batch is written. */
  flush(): Promise<void>;
}

/** The batching of ingest, sealing by size or time; it knows nothing of NATS or the store. */
export function createBatcher<M, B>(options: BatcherOptions<M, B>): Batcher<M> {
  const { batchSize, batchWaitMs } = options;
  let open: M[] = [];
  let openedAt = 0;
  let sealTimer: NodeJS.Timeout | undefined;
  const queue: B[] = [];
  let writing: Promise<void> | undefined;
  let roomWaiters: (() => void)[] = [];
  let released = false;

  function seal(): void {
    clearTimeout(sealTimer);
    sealTimer = undefined;
    if (open.length === 0) return;
    queue.push(options.seal(open, openedAt));
    open = [];
    startWriting();
  }

  function startWriting(): void {
    if (writing !== undefined || queue.length === 0) return;
    writing = writeQueue().finally(() => {
      writing = undefined;
      startWriting();
    });
  }

  async function writeQueue(): Promise<void> {
    for (let batch = queue[0]; batch !== undefined; batch = queue[0]) {
      await options.write(batch);
      queue.shift();
      wakeRoomWaiters();
    }
  }

  function wakeRoomWaiters(): void {
    const waiters = roomWaiters;
    roomWaiters = [];
    for (const wake of waiters) wake();
  }

  return {
    take(message) {
      if (open.length === 0) {
        openedAt = performance.now();
        sealTimer = setTimeout(seal, batchWaitMs);
      }
      open.push(message);
      if (open.length >= batchSize) seal();
    },
    async whenRoom() {
      while (queue.length >= MAX_QUEUED_BATCHES && !released) {
        await new Promise<void>((wake) => roomWaiters.push(wake));
      }
    },
    release() {
      released = true;
      wakeRoomWaiters();
    },
    async flush() {
      seal();
      while (writing !== undefined) await writing;
    },
  };
}
