import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where Berth's own files are, whether this code runs from its TypeScript sources or from the
 * compiled build in dist/<key>/: the checkout is the nearest folder above with package.json.
 */
function findCheckout(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir)
      throw new Error('Berth runs outside its checkout (no package.json above it)');
  }
}

const CHECKOUT = findCheckout();

/** A path inside the checkout, e.g. checkoutPath('bin', 'berth.js'). */
export function checkoutPath(...parts: readonly string[]): string {
  return join(CHECKOUT, ...parts);
}

/** Whether this code runs compiled (bundled into dist/<key>/*.js) rather than from sources. */
export const COMPILED = import.meta.url.endsWith('.js');

/**
 * A file the build put beside the compiled code (runner.js, encoder-worker.js, engine-worker.js,
 * dashboard/app.js): every chunk of a build sits in the same folder.
 */
export function builtFile(name: string): string {
  if (!COMPILED) throw new Error(`${name} exists only in the compiled build`);
  return fileURLToPath(new URL(name, import.meta.url));
}
