import { Worker } from 'node:worker_threads';
import { builtFile, COMPILED } from './checkout.ts';

/**
 * A worker thread running one of Berth's modules: the build's `<name>.js` when Berth runs
 * compiled, else `source` (the TypeScript module the build makes `<name>.js` from) through
 * the TypeScript loader.
 */
export function startWorker(name: string, source: URL): Worker {
  return COMPILED
    ? new Worker(builtFile(`${name}.js`))
    : new Worker(new URL('./ts-worker.js', import.meta.url), {
        workerData: { tsModule: source.href },
      });
}
