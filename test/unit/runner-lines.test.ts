import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fileLines, runnerLines } from '../../agents/host-agent/drivers/runner-lines.ts';

async function* fromArray(texts: readonly string[]): AsyncGenerator<string> {
  for (const text of texts) {
    await Promise.resolve();
    yield text;
  }
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

const READY = '{"schemaVersion":1,"type":"ready","at":1,"node":"v20","kernel":"6.1"}';
const DONE = '{"schemaVersion":1,"type":"done"}';

describe('runnerLines', () => {
  it('takes the runner lines out of console noise and ends at done', async () => {
    const lines = await collect(
      runnerLines(
        fromArray([
          '[    0.000000] Linux version 6.1.0',
          `\u001b[0m${READY}`,
          '{"not":"a runner line"}',
          '{"schemaVersion":1, broken',
          DONE,
          READY,
        ]),
      ),
    );
    expect(lines.map(({ line }) => line.type)).toEqual(['ready', 'done']);
    expect(lines[0]?.at).toBeGreaterThan(0);
  });

  it('ends once each of several runners has printed done', async () => {
    const done = (instance: string): string =>
      `{"schemaVersion":1,"type":"done","instance":"${instance}"}`;
    const lines = await collect(runnerLines(fromArray([done('c1'), done('c2'), READY]), 2));
    expect(lines.map(({ line }) => line.type)).toEqual(['done', 'done']);
  });

  it('ends with an error at a runner line that breaks the contract', async () => {
    await expect(
      collect(runnerLines(fromArray([READY, '{"schemaVersion":1,"type":"ready"}']))),
    ).rejects.toThrow(/runner printed a bad line/);
  });
});

describe('fileLines', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-lines-'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('waits for the file, follows what is appended, and reads the rest when ended', async () => {
    const path = join(dir, 'console.log');
    const end = new AbortController();
    const seen: string[] = [];
    const reading = (async () => {
      for await (const line of fileLines(path, end.signal, 5)) seen.push(line);
    })();
    await new Promise((resolve) => setTimeout(resolve, 30));
    await writeFile(path, 'boot\r\nfirst ');
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(seen).toEqual(['boot']);
    // A character split across two writes still decodes.
    const euro = Buffer.from('€');
    await appendFile(path, Buffer.concat([Buffer.from('line\nx'), euro.subarray(0, 1)]));
    await new Promise((resolve) => setTimeout(resolve, 30));
    await appendFile(path, Buffer.concat([euro.subarray(1), Buffer.from('\rtail')]));
    end.abort();
    await reading;
    expect(seen).toEqual(['boot', 'first line', 'x€', 'tail']);
  });

  it('ends at once, with nothing, when the file never appears', async () => {
    const end = new AbortController();
    end.abort();
    expect(await collect(fileLines(join(dir, 'never'), end.signal))).toEqual([]);
  });
});
