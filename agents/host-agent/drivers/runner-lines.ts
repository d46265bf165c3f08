import { open, type FileHandle } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import { setTimeout as sleep } from 'node:timers/promises';
import { runnerLineCodec, type RunnerLine } from '../../../contracts/index.ts';

const MAX_LINE_BYTES = 64 * 1024;

/**
 * The runner's lines among the text lines of a platform's output (a process's stdout, a VM's
 * serial console), each with when it arrived. Lines that are not runner JSON (a kernel's boot
 * messages) are skipped; a JSON line that breaks the contract ends the stream with an error;
 * the stream ends once each of `runners` runners has printed `done`.
 */
export async function* runnerLines(
  texts: AsyncIterable<string>,
  runners = 1,
): AsyncGenerator<{ line: RunnerLine; at: number }> {
  let done = 0;
  for await (const text of texts) {
    const at = performance.now();
    const start = text.indexOf('{"schemaVersion"');
    if (start < 0 || text.length > MAX_LINE_BYTES) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text.slice(start));
    } catch {
      continue;
    }
    const checked = runnerLineCodec.check(parsed);
    if (!checked.ok) throw new Error(`runner printed a bad line: ${checked.reason}`);
    yield { line: checked.value, at };
    if (checked.value.type === 'done') {
      done += 1;
      if (done >= runners) return;
    }
  }
}

/** Opens a file for reading, or gives undefined while it does not exist yet. */
async function openIfExists(path: string): Promise<FileHandle | undefined> {
  try {
    return await open(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * The lines of a file another process appends to (a VM's serial console written by the
 * hypervisor), read every pollMs from where the last read stopped; the file may appear late.
 * When `end` is aborted the file is read once more and the stream ends, with a last line that
 * has no line break yet given as it is. Lines end at \n, \r\n or \r, as node:readline splits
 * them.
 */
export async function* fileLines(
  path: string,
  end: AbortSignal,
  pollMs = 20,
): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  const chunk = Buffer.alloc(64 * 1024);
  let handle: FileHandle | undefined;
  let position = 0;
  let partial = '';
  try {
    for (;;) {
      const lastRead = end.aborted;
      handle ??= await openIfExists(path);
      let grew = false;
      for (;;) {
        if (handle === undefined) break;
        const { bytesRead } = await handle.read(chunk, 0, chunk.length, position);
        if (bytesRead === 0) break;
        grew = true;
        position += bytesRead;
        const lines = (partial + decoder.write(chunk.subarray(0, bytesRead))).split(/\r\n|\n|\r/);
        partial = lines.pop() ?? '';
        yield* lines;
      }
      if (lastRead) {
        partial += decoder.end();
        if (partial !== '') yield partial;
        return;
      }
      if (!grew) await sleep(pollMs, undefined, { signal: end }).catch(() => undefined);
    }
  } finally {
    await handle?.close();
  }
}
