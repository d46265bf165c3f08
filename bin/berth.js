#!/usr/bin/env node
// The `berth` command: the compiled Berth in dist/, built first when the sources changed
// (bin/dist.js). BERTH_FROM_SOURCES=1 runs the TypeScript sources through tsx's loader instead.
import process from 'node:process';
import { pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';

// `berth agent start`, the long-running agent, waits, starts instances and reads their lines;
// what it measures runs in other processes. V8's lite mode (no optimising compiler, feedback
// kept only for functions that run often) costs it little speed and saves about 10 MB of its
// idle memory (`npm run bench -- drivers`). It is set before any of Berth's code is loaded.
if (process.argv[2] === 'agent' && process.argv[3] === 'start') setFlagsFromString('--lite-mode');

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
