#!/usr/bin/env node
// The `berth` command: the compiled Berth in dist/, built first when the sources changed
// (bin/dist.js). BERTH_FROM_SOURCES=1 runs the TypeScript sources through tsx's loader instead.
import process from 'node:process';
import { pathToFileURL } from 'node:url';

if (process.env.BERTH_FROM_SOURCES === '1') {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../cli/main.ts');
} else {
  const { compiledBerth } = await import('./dist.js');
  let entry;
  try {
    entry = await compiledBerth();
  } catch (error) {
    process.stderr.write(`berth: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
  await import(pathToFileURL(entry).href);
}
