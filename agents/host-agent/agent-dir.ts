import { join } from 'node:path';

/** The agent's folder under the data folder: host id, outbox journal, bundles, guest images. */
export function agentDir(dataDir: string): string {
  return join(dataDir, 'agent');
}
