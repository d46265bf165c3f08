import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, rename, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const RUNNER_SOURCE_DIR = fileURLToPath(new URL('./runner/', import.meta.url));

/** The source files of the runner, whose content names the bundle. */
async function sourceHash(): Promise<string> {
  const hash = createHash('sha256');
  const files = (await readdir(RUNNER_SOURCE_DIR)).filter((name) => name.endsWith('.ts')).sort();
  for (const file of files) hash.update(file).update(await readFile(join(RUNNER_SOURCE_DIR, file)));
  return hash.digest('hex').slice(0, 16);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/**
 * The workload runner as one self-contained JavaScript file (no node_modules, no loader), so
 * every platform runs the very same bytes with nothing but `node`. Built once per source
 * version into `<dataDir>/runner/` and reused.
 */
export async function runnerBundle(dataDir: string): Promise<string> {
  const path = join(dataDir, 'runner', `runner-${await sourceHash()}.mjs`);
  if (await exists(path)) return path;
  await mkdir(dirname(path), { recursive: true });
  const partial = `${path}.${process.pid}.tmp`;
  await build({
    entryPoints: [join(RUNNER_SOURCE_DIR, 'runner.ts')],
    outfile: partial,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'silent',
  });
  await rename(partial, path);
  return path;
}
