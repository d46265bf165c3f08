import { readFile } from 'node:fs/promises';

const KSM = '/sys/kernel/mm/ksm';

/**
 * The host's kernel same-page merging, which lets identical guest pages be shared and so
 * changes what VMs cost in memory: `off`, `on, N pages shared`, or `unknown` where the
 * kernel does not have it.
 */
export async function readKsmState(dir = KSM): Promise<string> {
  const read = (name: string): Promise<string | undefined> =>
    readFile(`${dir}/${name}`, 'utf8').then(
      (text) => text.trim(),
      () => undefined,
    );
  const [run, sharing] = await Promise.all([read('run'), read('pages_sharing')]);
  if (run === undefined) return 'unknown';
  return run === '0' ? 'off' : `on, ${sharing ?? '?'} pages shared`;
}
