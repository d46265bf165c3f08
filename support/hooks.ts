/**
 * Vitest hooks that give a describe block (or, called at the top level, a test file) a server
 * or a store: started before its tests, stopped after them, reached through a getter that
 * throws outside. Only tests import this module, as it registers hooks; benchmarks start the
 * same things through servers.ts and advisor.ts. Vitest runs the after-hooks of a block in
 * reverse order, so hooks registered after one of these still have what it started in theirs.
 */
import { afterAll, beforeAll } from 'vitest';
import type { Store } from '../lib/storage/store.ts';
import { startAdvisorStack, type AdvisorStack, type AdvisorStackOptions } from './advisor.ts';
import { openOwnTestStore, startTestClickHouse, type Backend } from './servers.ts';

/**
 * Registers `start` before the enclosing block's tests and `stop` after them; returns a getter
 * of what started, which throws `notThere` outside the block.
 */
function heldForBlock<Held>(
  start: () => Promise<Held>,
  stop: (held: Held) => Promise<unknown>,
  notThere: string,
): () => Held {
  let held: Held | undefined;
  beforeAll(async () => {
    held = await start();
  });
  afterAll(async () => {
    const started = held;
    held = undefined;
    if (started !== undefined) await stop(started);
  });
  return () => {
    if (held === undefined) throw new Error(notThere);
    return held;
  };
}

/** A clickhouse-server for the enclosing block; returns a getter of its URL. */
export function clickHouseForBlock(): () => string {
  const server = heldForBlock(
    startTestClickHouse,
    (clickhouse) => clickhouse.stop(),
    'clickhouse-server did not start',
  );
  return () => server().url;
}

/**
 * A migrated store on `backend` (on ClickHouse, in a clickhouse-server of its own) for the
 * enclosing block; returns a getter of it. chDB binds one folder per process: the store is
 * disposed when the block ends, before the next backend's block opens its own.
 */
export function storeForBlock(backend: Backend): () => Store {
  const testStore = heldForBlock(
    () => openOwnTestStore(backend),
    (opened) => opened.dispose(),
    'the store did not open',
  );
  return () => testStore().store;
}

/** The advisor stacks of a test file's blocks, one running at a time. */
export interface AdvisorStacks {
  /** The stack of the block running now. */
  readonly running: () => AdvisorStack;
  /**
   * Starts a stack for the enclosing block and hands it to `seed` before the block's tests;
   * stops it after them (chDB takes one store at a time in a process).
   */
  readonly forBlock: (
    options?: AdvisorStackOptions,
    seed?: (stack: AdvisorStack) => Promise<void>,
  ) => void;
}

/**
 * One getter for the advisor stack of whichever block runs now, and the hook that gives a block
 * its own: for files whose helpers serve several blocks.
 */
export function advisorStacks(): AdvisorStacks {
  let stack: AdvisorStack | undefined;
  return {
    running: () => {
      if (stack === undefined) throw new Error('the advisor stack did not start');
      return stack;
    },
    forBlock: (options = {}, seed) => {
      beforeAll(async () => {
        stack = await startAdvisorStack(options);
        await seed?.(stack);
      });
      afterAll(async () => {
        await stack?.stop();
        stack = undefined;
      });
    },
  };
}

/** An advisor stack for the enclosing block, `seed`ed before its tests; returns its getter. */
export function advisorStackForBlock(
  options?: AdvisorStackOptions,
  seed?: (stack: AdvisorStack) => Promise<void>,
): () => AdvisorStack {
  const stacks = advisorStacks();
  stacks.forBlock(options, seed);
  return stacks.running;
}
