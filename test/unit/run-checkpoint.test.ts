import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ResultBatch } from '../../contracts/index.ts';
import {
  clearCheckpoint,
  recoverCheckpoints,
  writeCheckpoint,
} from '../../agents/host-agent/run-checkpoint.ts';
import { silentLogger } from '../../lib/logger.ts';
import { makeResult, makeResultV2 } from '../../support/results.ts';
import { removeDir, tempDir } from '../../support/servers.ts';

describe('a run checkpoint', () => {
  let dir: string;
  let added: ResultBatch[];
  const add = (batch: ResultBatch): Promise<void> => {
    added.push(batch);
    return Promise.resolve();
  };

  beforeEach(async () => {
    dir = await tempDir('checkpoint');
    added = [];
  });

  afterEach(async () => {
    await removeDir(dir);
  });

  it('keeps the newest round’s batches, and the next agent puts them in its outbox once', async () => {
    await writeCheckpoint(dir, 'run-a', [makeResult(1)]);
    await writeCheckpoint(dir, 'run-a', [makeResult(1), makeResultV2(2)]);
    expect(await recoverCheckpoints(dir, add, silentLogger)).toBe(2);
    expect(added.map((batch) => batch.id)).toEqual([makeResult(1).id, makeResultV2(2).id]);
    expect(added[1]).toEqual(makeResultV2(2));
    expect(await readdir(join(dir, 'checkpoints'))).toEqual([]);
    expect(await recoverCheckpoints(dir, add, silentLogger)).toBe(0);
    expect(added).toHaveLength(2);
  });

  it('leaves nothing to recover once the run cleared it, nor when there was none', async () => {
    expect(await recoverCheckpoints(dir, add, silentLogger)).toBe(0);
    await writeCheckpoint(dir, 'run-b', [makeResult(3)]);
    await clearCheckpoint(dir, 'run-b');
    expect(await recoverCheckpoints(dir, add, silentLogger)).toBe(0);
    expect(added).toEqual([]);
  });

  it('keeps aside, never deletes, a checkpoint that does not read as results', async () => {
    await writeCheckpoint(dir, 'run-c', [makeResult(4)]);
    const folder = join(dir, 'checkpoints');
    const bad = [{ ...makeResult(5), schemaVersion: 9 }];
    await writeFile(join(folder, 'run-d.json'), JSON.stringify(bad));
    await writeFile(join(folder, 'run-e.json'), '[{"cut short');
    expect(await recoverCheckpoints(dir, add, silentLogger)).toBe(1);
    expect(added.map((batch) => batch.id)).toEqual([makeResult(4).id]);
    expect((await readdir(folder)).sort()).toEqual([
      'run-d.json.unreadable',
      'run-e.json.unreadable',
    ]);
    expect(await readFile(join(folder, 'run-e.json.unreadable'), 'utf8')).toBe('[{"cut short');
  });

  it('refuses a run id that could leave its folder', async () => {
    await expect(writeCheckpoint(dir, '../escape', [])).rejects.toThrow(/not a safe subject token/);
  });
});
