import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { assertSafeToken, isSafeToken } from '../../contracts/index.ts';

/**
 * This host's id: the one given (`--host-id`), else the one kept in the agent's data folder,
 * else one made from the host name and a random suffix. A given or made id is kept there, so
 * every later start has the same one.
 */
export async function loadHostId(path: string, given?: string): Promise<string> {
  let stored: string | undefined;
  try {
    stored = (await readFile(path, 'utf8')).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (given !== undefined) {
    const id = assertSafeToken(given, 'host id');
    if (stored !== id) await keep(path, id);
    return id;
  }
  if (stored !== undefined) return assertSafeToken(stored, `host id in ${path}`);
  const base = hostname()
    .toLowerCase()
    .replace(/[^a-z0-9_-]/g, '-')
    .replace(/^[^a-z0-9]+/, '')
    .slice(0, 48);
  const id = `${base === '' ? 'host' : base}-${randomBytes(4).toString('hex')}`;
  if (!isSafeToken(id)) throw new Error(`could not make a host id from ${hostname()}`);
  await keep(path, id);
  return id;
}

async function keep(path: string, id: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${id}\n`);
}
