// A worker thread run from the TypeScript sources: a worker does not inherit its parent's
// loader, so this registers tsx, then loads the module it was started for (startWorker).
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.tsModule);
