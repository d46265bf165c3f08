import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

const DASHBOARD_DIR = fileURLToPath(new URL('../../dashboard/', import.meta.url));

/** The routes of the dashboard: its page and its two bundles. They hold code, never data. */
export const DASHBOARD_ROUTES = ['/', '/dashboard/:file'] as const;

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/** The page may load only its own code and talk only to its own advisor. */
const PAGE_POLICY = [
  "default-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "style-src 'self' 'unsafe-inline'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

interface DashboardFile {
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

/**
 * dashboard/index.html and the dashboard bundled by esbuild into app.js and app.css (uPlot
 * and its stylesheet included, so nothing comes from a CDN), in memory, keyed by URL path.
 */
async function bundleDashboard(): Promise<ReadonlyMap<string, DashboardFile>> {
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
  const files = new Map<string, DashboardFile>([
    ['/', fileOf('index.html', await readFile(join(DASHBOARD_DIR, 'index.html')))],
  ]);
  for (const output of result.outputFiles) {
    const name = output.path.slice(output.path.lastIndexOf('/') + 1);
    files.set(`/dashboard/${name}`, fileOf(name, Buffer.from(output.contents)));
  }
  return files;
}

let bundled: Promise<ReadonlyMap<string, DashboardFile>> | undefined;

/** The dashboard's files, bundled at the first request and kept for the process's life. */
function dashboardFiles(): Promise<ReadonlyMap<string, DashboardFile>> {
  bundled ??= bundleDashboard().catch((error: unknown) => {
    bundled = undefined;
    throw error;
  });
  return bundled;
}

/**
 * Serves the dashboard on the advisor's own port: `/` is the page, `/dashboard/app.js` and
 * `/dashboard/app.css` its code. Each is revalidated on every load (its ETag is its hash),
 * so a new bundle is taken at once and an unchanged one costs a 304.
 */
export function serveDashboard(
  app: FastifyInstance,
  notFound: (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply>,
): void {
  const send = async (
    path: string,
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<FastifyReply> => {
    const file = (await dashboardFiles()).get(path);
    if (file === undefined) return notFound(request, reply);
    reply
      .header('content-type', file.type)
      .header('cache-control', 'no-cache')
      .header('etag', file.etag)
      .header('x-content-type-options', 'nosniff');
    if (file.type.startsWith('text/html')) reply.header('content-security-policy', PAGE_POLICY);
    if (request.headers['if-none-match'] === file.etag) return reply.code(304).send();
    return reply.send(file.body);
  };
  app.get(DASHBOARD_ROUTES[0], (request, reply) => send('/', request, reply));
  app.get<{ Params: { file: string } }>(DASHBOARD_ROUTES[1], (request, reply) =>
    send(`/dashboard/${request.params.file}`, request, reply),
  );
}
