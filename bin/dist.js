// The compiled Berth: every TypeScript source bundled by esbuild into dist/<key>/, where <key>
// is a hash of the sources' content, so a build is found again only while the sources are
// unchanged and a stale build is never run. Plain JavaScript: it runs before anything is built.
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  renameSync,
  statSync,
} from 'node:fs';
import { join, relative } from 'node:path';
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, URL } from 'node:url';

const CHECKOUT = fileURLToPath(new URL('..', import.meta.url));
const DIST = join(CHECKOUT, 'dist');

/** Folders whose files go into the build, and single files that shape it. */
const SOURCE_FOLDERS = ['cli', 'contracts', 'lib', 'services', 'agents', 'dashboards/web'];
const SOURCE_FILES = ['package.json', 'bin/dist.js'];

/** A build lock older than this was left by a process that died while building. */
const STALE_LOCK_MS = 120_000;

/** Builds kept besides the newest: a process started from one may still load its chunks. */
const OLD_BUILDS_KEPT = 2;

/**
 * The entry points that share chunks: the command line, the ingest encoder's worker thread and
 * the advisor's engine threads.
 */
const NODE_ENTRIES = {
  berth: 'cli/main.ts',
  'encoder-worker': 'services/ingest/encoder-worker.ts',
  'engine-worker': 'services/advisor/engine-worker.ts',
};
/**
 * Packages left to node_modules: chDB's native addon, pino (its transports load files by
 * path on threads of their own), and esbuild (only run from sources). The others are bundled
 * in, which saves resolving and reading hundreds of files at every start.
 */
const EXTERNAL_PACKAGES = ['chdb', 'pino', 'pino-pretty', 'esbuild', 'tsx'];

/** Bundled CommonJS packages call require(); an ES module has none, so each chunk makes one. */
const REQUIRE_SHIM =
  "import { createRequire as berthCreateRequire } from 'node:module'; const require = berthCreateRequire(import.meta.url);";

const RUNNER_ENTRY = 'agents/host-agent/runner/runner.ts';
const DASHBOARD_ENTRY = 'dashboards/web/main.ts';

/**
 * Every file under a folder, depth first, in name order: by UTF-16 code units, not the
 * locale's order, which would bring ICU's data into every Berth process (3–4 MB of an idle
 * agent's memory here).
 */
function filesUnder(folder) {
  const files = [];
  for (const entry of readdirSync(folder, { withFileTypes: true }).sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
  )) {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) files.push(...filesUnder(path));
    else if (entry.isFile()) files.push(path);
  }
  return files;
}

/** The hash of every source's path and content: the name of the build made from them. */
export function sourceKey() {
  const hash = createHash('sha256');
  const files = [
    ...SOURCE_FOLDERS.flatMap((folder) => filesUnder(join(CHECKOUT, folder))),
    ...SOURCE_FILES.map((file) => join(CHECKOUT, file)),
  ];
  for (const file of files) {
    hash.update(relative(CHECKOUT, file)).update('\0').update(readFileSync(file)).update('\0');
  }
  return hash.digest('hex').slice(0, 16);
}

/** One line for a failed build: the first error with the file and line it names. */
function buildFailure(error) {
  const first = error?.errors?.[0];
  if (first === undefined) return error instanceof Error ? error.message : String(error);
  const where = first.location
    ? `${first.location.file}:${first.location.line}:${first.location.column + 1}: `
    : '';
  return `${where}${first.text}`;
}

/** When a folder was last changed, or undefined when it is gone. */
function modifiedAt(path) {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
}

/** Removes all but the newest builds (and any build left half-made by a process that died). */
function pruneOldBuilds(keep) {
  const builds = readdirSync(DIST, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => ({ path: join(DIST, entry.name), name: entry.name }))
    .filter(({ name }) => name !== keep);
  // Another process may be removing the same folders: one gone already is left out.
  const dated = builds.flatMap((build) => {
    const mtime = modifiedAt(build.path);
    return mtime === undefined ? [] : [{ ...build, mtime }];
  });
  const finished = dated
    .filter(({ name }) => !name.startsWith('.'))
    .sort((a, b) => b.mtime - a.mtime);
  const halfMade = dated.filter(
    ({ name, mtime }) => name.startsWith('.') && Date.now() - mtime > 600_000,
  );
  for (const { path } of [...finished.slice(OLD_BUILDS_KEPT), ...halfMade]) {
    rmSync(path, { recursive: true, force: true });
  }
}

/**
 * Builds dist/<key>/ from the sources: berth.js (the command line) and its chunks,
 * encoder-worker.js, engine-worker.js, runner.js (the workload runner, self-contained) and
 * dashboard/app.js and app.css (the browser app). Made in a folder of its own and renamed into
 * place, so a process never sees half a build and two processes building at once both end with
 * a whole one.
 */
async function build(key) {
  const { build: esbuild } = await import('esbuild');
  const partial = join(DIST, `.${key}-${process.pid}`);
  const common = { bundle: true, logLevel: 'silent', absWorkingDir: CHECKOUT, charset: 'utf8' };
  try {
    await esbuild({
      ...common,
      entryPoints: NODE_ENTRIES,
      outdir: partial,
      splitting: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      external: EXTERNAL_PACKAGES,
      banner: { js: REQUIRE_SHIM },
      sourcemap: 'linked',
    });
    await esbuild({
      ...common,
      entryPoints: { runner: RUNNER_ENTRY },
      outdir: partial,
      format: 'esm',
      platform: 'node',
      target: 'node20',
    });
    await esbuild({
      ...common,
      entryPoints: { app: DASHBOARD_ENTRY },
      outdir: join(partial, 'dashboard'),
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      minify: true,
    });
  } catch (error) {
    rmSync(partial, { recursive: true, force: true });
    throw new Error(`the build failed: ${buildFailure(error)}`);
  }
  try {
    renameSync(partial, join(DIST, key));
  } catch (error) {
    rmSync(partial, { recursive: true, force: true });
    if (!existsSync(join(DIST, key))) throw error;
  }
  pruneOldBuilds(key);
}

/**
 * Runs `work` holding dist/.lock-<key> (a folder, made atomically), so processes started at
 * once on changed sources build once: the others wait, and find the build made. A lock left
 * by a process that died is taken over after STALE_LOCK_MS.
 */
async function whileLocked(key, entry, work) {
  const lock = join(DIST, `.lock-${key}`);
  mkdirSync(DIST, { recursive: true });
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (error) {
      if (error?.code !== 'EEXIST') throw error;
    }
    if (existsSync(entry)) return;
    const since = modifiedAt(lock);
    if (since !== undefined && Date.now() - since > STALE_LOCK_MS) {
      rmSync(lock, { recursive: true, force: true });
    } else {
      await sleep(100);
    }
  }
  try {
    if (!existsSync(entry)) await work();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/**
 * The compiled command line of these sources, built first when they changed since the last
 * build (a line on stderr, after `prefix`, says so): the path of dist/<key>/berth.js.
 */
export async function compiledBerth(prefix = 'berth') {
  const key = sourceKey();
  const entry = join(DIST, key, 'berth.js');
  if (!existsSync(entry)) {
    await whileLocked(key, entry, async () => {
      process.stderr.write(`${prefix}: building dist/${key} (the sources changed)\n`);
      await build(key);
    });
  }
  return entry;
}

// `node bin/dist.js`: builds dist/ when the sources changed (setup runs it); quiet otherwise.
if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    await compiledBerth('dist');
  } catch (error) {
    process.stderr.write(`dist: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
}
