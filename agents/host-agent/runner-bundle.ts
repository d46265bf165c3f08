import { createHash } from 'node:crypto';
import { copyFile, mkdir, readFile, readdir, rename, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { builtFile, checkoutPath, COMPILED } from '../../lib/checkout.ts';

const RUNNER_SOURCE_DIR = checkoutPath('agents', 'host-agent', 'runner');

/**
 * What names the bundle: the content of the runner the build made, or, run from sources, of
 * the runner's source files.
 */
async function bundleHash(): Promise<string> {
  const hash = createHash('sha256');
  if (COMPILED) {
    hash.update(await readFile(builtFile('runner.js')));
  } else {
    const files = (await readdir(RUNNER_SOURCE_DIR)).filter((name) => name.endsWith('.ts')).sort();
    for (const file of files) {
      hash.update(file).update(await readFile(join(RUNNER_SOURCE_DIR, file)));
    }
  }
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
 * every platform runs the very same bytes with nothing but `node`: copied from the compiled
 * build, or bundled from its sources when Berth runs from them, into `<dataDir>/runner/`
 * (where VMs and containers reach it) once per version, and reused.
 */
export async function runnerBundle(dataDir: string): Promise<string> {
  const path = join(dataDir, 'runner', `runner-${await bundleHash()}.mjs`);
  if (await exists(path)) return path;
  await mkdir(dirname(path), { recursive: true });
  const partial = `${path}.${process.pid}.tmp`;
  if (COMPILED) {
    await copyFile(builtFile('runner.js'), partial);
    await rename(partial, path);
    return path;
  }
  const { build } = await import('esbuild');
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
