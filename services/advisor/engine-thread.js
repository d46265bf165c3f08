// A worker thread starts without the TypeScript loader of its parent: register it, then
// load the engine worker itself.
import { register } from 'tsx/esm/api';

register();
await import('./engine-worker.ts');
