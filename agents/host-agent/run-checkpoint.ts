import { mkdir, open, readFile, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { assertSafeToken, resultBatchCodec, type ResultBatch } from '../../contracts/index.ts';
import type { Logger } from '../../lib/logger.ts';

/**
 * A run's checkpoint: after each round it keeps, the batches it would publish if it ended
 * there, one JSON file per run under `checkpoints/` in the agent's folder. The run replaces
 * it round by round and removes it once its own batches are in the outbox; an agent killed
 * part-way leaves it behind, and the next agent puts those batches in its outbox, so a crash
 * loses only the round under way. Result ids are the run's, so a batch that reached the
 * outbox both ways is stored once.
 */
const FOLDER = 'checkpoints';

/** Largest batch a checkpoint may hold, as the result codec checks it. */
const MAX_BATCH_BYTES = 1 << 20;

const pathOf = (agentDir: string, runId: string): string => {
  assertSafeToken(runId, 'run id');
  return join(agentDir, FOLDER, `${runId}.json`);
};

/** Replaces the run's checkpoint with these batches, durably (written aside, synced, renamed). */
export async function writeCheckpoint(
  agentDir: string,
  runId: string,
  batches: readonly ResultBatch[],
): Promise<void> {
  const path = pathOf(agentDir, runId);
  await mkdir(join(agentDir, FOLDER), { recursive: true });
  const aside = `${path}.new`;
  const file = await open(aside, 'w');
  try {
    await file.writeFile(JSON.stringify(batches));
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(aside, path);
}

/** Removes the run's checkpoint, once its batches are in the outbox. */
export async function clearCheckpoint(agentDir: string, runId: string): Promise<void> {
  const path = pathOf(agentDir, runId);
  await rm(path, { force: true });
  await rm(`${path}.new`, { force: true });
}

/**
 * Hands every batch of the checkpoints runs killed part-way left behind to `add` (the
 * outbox), then removes those checkpoints. A checkpoint that does not read as batches is
 * kept aside as `<run>.json.unreadable` and reported, never deleted. Returns how many batches
 * were recovered.
 */
export async function recoverCheckpoints(
  agentDir: string,
  add: (batch: ResultBatch) => Promise<void>,
  logger: Logger,
): Promise<number> {
  const folder = join(agentDir, FOLDER);
  let names: string[];
  try {
    names = await readdir(folder);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
  let recovered = 0;
  for (const name of names.filter((each) => each.endsWith('.json')).sort()) {
    const path = join(folder, name);
    const batches = readBatches(await readFile(path, 'utf8'));
    if (batches === undefined) {
      await rename(path, `${path}.unreadable`);
      logger.warn({ path: `${path}.unreadable` }, 'a run checkpoint does not read as results');
      continue;
    }
    for (const batch of batches) await add(batch);
    recovered += batches.length;
    await rm(path, { force: true });
    logger.info(
      { run: name.slice(0, -'.json'.length), results: batches.length },
      'results of a run that stopped part-way recovered from its checkpoint',
    );
  }
  await Promise.all(
    names.filter((each) => each.endsWith('.json.new')).map((each) => rm(join(folder, each))),
  );
  return recovered;
}

/** The batches of a checkpoint's text, each checked by the result codec; undefined if any fails. */
function readBatches(text: string): ResultBatch[] | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed)) return undefined;
  const batches: ResultBatch[] = [];
  for (const entry of parsed) {
    const decoded = resultBatchCodec.decode(
      new TextEncoder().encode(JSON.stringify(entry)),
      MAX_BATCH_BYTES,
    );
    if (!decoded.ok) return undefined;
    batches.push(decoded.value);
  }
  return batches;
}
