import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { assertSafeToken, isSafeToken } from '../../contracts/index.ts';

/**
 * This host's id: made once from the host name and a random suffix, kept in the agent's
 * data folder, and the same on every later start.
 */
export async function loadHostId(path: string): Promise<string> {
  try {
    const stored = (await readFile(path, 'utf8')).trim();
    return assertSafeToken(stored, `host id in ${path}`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const base = hostname()
    .toLowerCase()
    .replace(/[^a-z0-9_-]/g, '-')
    .replace(/^[^a-z0-9]+/, '')
    .slice(0, 48);
  const id = `${base === '' ? 'host' : base}-${randomBytes(4).toString('hex')}`;
  if (!isSafeToken(id)) throw new Error(`could not make a host id from ${hostname()}`);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${id}\n`);
  return id;
}
