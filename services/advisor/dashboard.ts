import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { builtFile, checkoutPath, COMPILED } from '../../lib/checkout.ts';

const DASHBOARD_DIR = checkoutPath('dashboards', 'web');

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/** One file of the dashboard: its bytes, its content type and its ETag (its hash). */
export interface DashboardFile {
  readonly body: Buffer;
  readonly type: string;
  readonly etag: string;
}

function fileOf(name: string, body: Buffer): DashboardFile {
  const type = CONTENT_TYPES[extname(name)];
  if (type === undefined) throw new Error(`the dashboard bundle made an unexpected file: ${name}`);
  const etag = `"${createHash('sha256').update(body).digest('hex').slice(0, 32)}"`;
  return { body, type, etag };
}

/** The browser app as the build made it: dist/<key>/dashboard/app.js and app.css. */
function builtDashboard(): Promise<{ name: string; body: Buffer }[]> {
  return Promise.all(
    ['app.js', 'app.css'].map(async (name) => ({
      name,
      body: await readFile(builtFile(`dashboard/${name}`)),
    })),
  );
}

/**
 * The browser app bundled now by esbuild, in memory, when Berth runs from its sources (with the
 * settings bin/dist.js builds it with).
 */
async function bundledDashboard(): Promise<{ name: string; body: Buffer }[]> {
  const { build } = await import('esbuild');
  const result = await build({
    entryPoints: { app: join(DASHBOARD_DIR, 'main.ts') },
    outdir: join(DASHBOARD_DIR, 'out'),
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    charset: 'utf8',
    logLevel: 'silent',
  });
  return result.outputFiles.map((output) => ({
    name: output.path.slice(output.path.lastIndexOf('/') + 1),
    body: Buffer.from(output.contents),
  }));
}

/**
 * dashboards/web/index.html and the browser app as app.js and app.css (uPlot and its
 * stylesheet included, so nothing comes from a CDN), in memory, keyed by URL path.
 */
async function bundleDashboard(): Promise<ReadonlyMap<string, DashboardFile>> {
  const files = new Map<string, DashboardFile>([
    ['/', fileOf('index.html', await readFile(join(DASHBOARD_DIR, 'index.html')))],
  ]);
  for (const { name, body } of await (COMPILED ? builtDashboard() : bundledDashboard())) {
    files.set(`/dashboard/${name}`, fileOf(name, body));
  }
  return files;
}

let bundled: Promise<ReadonlyMap<string, DashboardFile>> | undefined;

/**
 * The dashboard's file at a URL path (`/`, `/dashboard/app.js`, `/dashboard/app.css`), or
 * undefined; the files are bundled at the first request and kept for the process's life.
 */
export async function dashboardFile(path: string): Promise<DashboardFile | undefined> {
  bundled ??= bundleDashboard().catch((error: unknown) => {
    bundled = undefined;
    throw error;
  });
  return (await bundled).get(path);
}
