import type { NatsConnection } from '@nats-io/nats-core';
import {
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  type ConsumerMessages,
} from '@nats-io/jetstream';
import {
  describeError,
  heartbeatCodec,
  hostInventoryCodec,
  INVENTORY_SUBJECTS,
  type HostInventory,
} from '../../contracts/index.ts';
import type { Logger } from '../../lib/logger.ts';
import { INVENTORY_STREAM } from '../../lib/nats/streams.ts';
import type { HostInfo } from './engine/types.ts';

const MAX_INVENTORY_BYTES = 1 << 20;

/** What the advisor knows of one host: its last inventory and its last sign of life. */
export interface FleetHost {
  readonly hostId: string;
  readonly inventory?: HostInventory;
  /** When the host last sent anything (inventory or heartbeat), epoch ms. */
  readonly lastSeenAt: number;
  readonly busy: boolean;
  /** The run going on now, from the last heartbeat. */
  readonly runId?: string;
  /** The last run a heartbeat named, kept after it ends. */
  readonly lastRun?: { readonly runId: string; readonly seenAt: number };
}

export interface Fleet {
  hosts(): FleetHost[];
  /** Resolves once every message the stream held at the start has been read. */
  ready(): Promise<void>;
  /**
   * The hosts with an inventory, as the decision engine reads them: the same array until an
   * inventory says something new (heartbeats leave it be).
   */
  hostInfos(): readonly HostInfo[];
  /** Called with the host whenever its inventory or heartbeat changes; returns an unsubscribe. */
  onChange(listener: (host: FleetHost) => void): () => void;
  stop(): Promise<void>;
}

/** A host's inventory as the engine reads it. */
function hostInfoOf(inventory: HostInventory): HostInfo {
  return {
    hostId: inventory.hostId,
    kernel: inventory.os.kernel,
    osFamily: inventory.os.family.toLowerCase(),
    memoryBytes: inventory.memoryBytes,
    platforms: inventory.platforms.map((row) => ({
      platform: row.platform,
      runtime: row.runtime,
      available: row.available,
      ...(row.reason === undefined ? {} : { reason: row.reason }),
      ...(row.accel === undefined ? {} : { accel: row.accel }),
    })),
  };
}

/** Whether two inventories tell the engine the same (the resent one differs only in time). */
function sameInventory(a: HostInventory | undefined, b: HostInventory | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return JSON.stringify(hostInfoOf(a)) === JSON.stringify(hostInfoOf(b));
}

/**
 * Follows `berth.inventory.*` from the stream's start (it keeps the last messages of each
 * host) and then live, with an ordered consumer: every advisor builds the same picture of
 * the fleet, and one that restarts rebuilds it. Messages that break the contract are
 * skipped (ingest is not involved here; the agent is the only writer).
 */
export async function watchFleet(nc: NatsConnection, logger: Logger): Promise<Fleet> {
  const known = new Map<string, FleetHost>();
  const listeners = new Set<(host: FleetHost) => void>();
  const consumer = await jetstream(nc).consumers.get(INVENTORY_STREAM, {
    filter_subjects: INVENTORY_SUBJECTS,
    deliver_policy: DeliverPolicy.All,
  });
  const messages: ConsumerMessages = await consumer.consume();
  const held = (await jetstreamManager(nc)).streams.info(INVENTORY_STREAM);
  let caughtUp!: () => void;
  const ready = new Promise<void>((resolve) => (caughtUp = resolve));
  void held.then(
    (info) => {
      if (info.state.messages === 0) caughtUp();
    },
    () => {
      caughtUp();
    },
  );

  let infos: readonly HostInfo[] | undefined;
  const update = (host: FleetHost): void => {
    const before = known.get(host.hostId)?.inventory;
    known.set(host.hostId, host);
    if (host.inventory !== before && !sameInventory(host.inventory, before)) infos = undefined;
    for (const listener of listeners) listener(host);
  };

  const loop = (async () => {
    for await (const message of messages) {
      if (message.info.pending === 0) caughtUp();
      const parsed = hostInventoryCodec.parse(message.data, MAX_INVENTORY_BYTES);
      if (!parsed.ok) continue;
      const type = (parsed.value as { type?: unknown }).type;
      if (type === 'inventory') {
        const checked = hostInventoryCodec.check(parsed.value);
        if (!checked.ok) {
          logger.warn({ subject: message.subject, reason: checked.reason }, 'inventory skipped');
          continue;
        }
        const inventory = checked.value;
        const before = known.get(inventory.hostId);
        update({
          hostId: inventory.hostId,
          inventory,
          lastSeenAt: Math.max(before?.lastSeenAt ?? 0, inventory.sentAt),
          busy: before?.busy ?? false,
          ...(before?.runId === undefined ? {} : { runId: before.runId }),
          ...(before?.lastRun === undefined ? {} : { lastRun: before.lastRun }),
        });
      } else if (type === 'heartbeat') {
        const checked = heartbeatCodec.check(parsed.value);
        if (!checked.ok) continue;
        const beat = checked.value;
        const before = known.get(beat.hostId);
        const lastRun =
          beat.runId === undefined ? before?.lastRun : { runId: beat.runId, seenAt: beat.sentAt };
        update({
          hostId: beat.hostId,
          ...(before?.inventory === undefined ? {} : { inventory: before.inventory }),
          lastSeenAt: Math.max(before?.lastSeenAt ?? 0, beat.sentAt),
          busy: beat.busy,
          ...(beat.runId === undefined ? {} : { runId: beat.runId }),
          ...(lastRun === undefined ? {} : { lastRun }),
        });
      }
    }
  })()
    .catch((error: unknown) => {
      logger.error({ err: describeError(error) }, 'fleet watch ended');
    })
    .finally(caughtUp);

  return {
    ready: () => ready,
    hosts: () => [...known.values()].sort((a, b) => a.hostId.localeCompare(b.hostId)),
    hostInfos: () =>
      (infos ??= [...known.values()]
        .flatMap((host) => (host.inventory === undefined ? [] : [hostInfoOf(host.inventory)]))
        .sort((a, b) => a.hostId.localeCompare(b.hostId))),
    onChange: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    stop: async () => {
      messages.stop();
      await loop;
    },
  };
}
