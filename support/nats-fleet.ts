import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { nkeys } from '@nats-io/nats-core';
import { fleetRoles, natsServerConfig, type Role } from '../lib/nats/fleet-config.ts';
import { startNatsServer, type NatsServer } from '../lib/servers/nats-server.ts';
import { removeDir, tempDir } from './servers.ts';

export interface FleetNats extends NatsServer {
  /** The seed file a role signs in with. */
  seedFile(role: Role): string;
}

/**
 * A real nats-server running the configuration `berth nats-config` writes for these hosts,
 * with each role's seed in a file of a temporary folder.
 */
export async function startFleetNats(hostIds: readonly string[]): Promise<FleetNats> {
  const dir = await tempDir('nats-fleet');
  const users = [];
  for (const role of fleetRoles(hostIds)) {
    const user = nkeys.createUser();
    await writeFile(join(dir, `${role}.nk`), new TextDecoder().decode(user.getSeed()), {
      mode: 0o600,
    });
    users.push({ role, publicKey: user.getPublicKey() });
  }
  const configFile = join(dir, 'nats-server.conf');
  await writeFile(
    configFile,
    natsServerConfig({ listen: '127.0.0.1:4222', storeDir: join(dir, 'js') }, users),
  );
  const server = await startNatsServer({ dataDir: join(dir, 'js'), configFile });
  return {
    ...server,
    seedFile: (role) => join(dir, `${role}.nk`),
    stop: async () => {
      await server.stop();
      await removeDir(dir);
    },
  };
}
