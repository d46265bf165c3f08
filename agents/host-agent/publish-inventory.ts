import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream } from '@nats-io/jetstream';
import {
  describeError,
  hostInventoryCodec,
  inventorySubject,
  type HostInventory,
} from '../../contracts/index.ts';
import type { Logger } from '../../lib/logger.ts';

/**
 * Publishes the inventory on berth.inventory.<hostId>. The inventory is sent again at every
 * start, so a failure only delays it: it is logged, and the run goes on.
 */
export async function publishInventory(
  nc: NatsConnection,
  inventory: HostInventory,
  logger: Logger,
): Promise<void> {
  try {
    await jetstream(nc).publish(
      inventorySubject(inventory.hostId),
      hostInventoryCodec.encode(inventory),
      {
        timeout: 5_000,
      },
    );
  } catch (error) {
    logger.warn({ err: describeError(error) }, 'inventory not published');
  }
}
