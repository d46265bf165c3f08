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
