import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  type JetStreamManager,
  type StreamConfig,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import {
  BerthError,
  DLQ_SUBJECT,
  INVENTORY_SUBJECTS,
  RESULTS_SUBJECTS,
} from '../../contracts/index.ts';
import { settingLabel } from '../config.ts';

export const RESULTS_STREAM = 'BERTH_RESULTS';
export const DLQ_STREAM = 'BERTH_DLQ';
export const INVENTORY_STREAM = 'BERTH_INVENTORY';
export const INGEST_CONSUMER = 'berth-ingest';

/** Only options nats-server 2.9 knows: newer ones (compression, metadata …) are refused there. */
type StreamSettings = Pick<
  StreamConfig,
  | 'name'
  | 'subjects'
  | 'storage'
  | 'retention'
  | 'discard'
  | 'duplicate_window'
  | 'max_age'
  | 'num_replicas'
> &
  Partial<Pick<StreamConfig, 'max_msgs_per_subject'>>;

const DAY_MS = 24 * 60 * 60 * 1000;

export interface ResultStreamOptions {
  /** How long JetStream remembers a Nats-Msg-Id to drop a re-published result. */
  readonly duplicateWindowMs?: number;
  readonly maxAgeMs?: number;
  /**
   * Copies of each stream, one per NATS node (3 in a 3-node cluster, so a stream outlives the
   * loss of a node). Unset: a new stream gets 1 and an existing one keeps the count it has, so
   * a process that is not told does not shrink streams an operator made with more.
   */
  readonly replicas?: number;
}

/** JetStream's error code for a stream name already in use with other settings. */
const STREAM_NAME_IN_USE = 10058;
/** JetStream's error code for replicas asked of a server that is not in a cluster. */
const REPLICAS_NOT_CLUSTERED = 10074;

/**
 * Creates the stream, or updates it when it differs from the settings: a stream already as
 * wanted is only read, so a NATS user allowed to read and create it (the advisor's) suffices.
 */
async function ensureStream(
  jsm: JetStreamManager,
  wanted: StreamSettings,
  keepReplicas: boolean,
  raced = false,
): Promise<void> {
  let current: StreamConfig;
  let settings = wanted;
  try {
    current = (await jsm.streams.info(settings.name)).config;
    if (keepReplicas) settings = { ...settings, num_replicas: current.num_replicas };
  } catch (error) {
    if (!(error instanceof JetStreamApiError && error.status === 404)) throw error;
    try {
      await jsm.streams.add(settings);
      return;
    } catch (added) {
      // Another process made it in between with other settings (a service that keeps the
      // count makes it with 1 replica): treat it as an existing stream.
      const made = added instanceof JetStreamApiError && added.code === STREAM_NAME_IN_USE;
      if (!made || raced) throw added;
      return ensureStream(jsm, wanted, keepReplicas, true);
    }
  }
  const differs = Object.entries(settings).some(
    ([key, value]) =>
      JSON.stringify(value) !== JSON.stringify(current[key as keyof StreamSettings]),
  );
  if (differs) await jsm.streams.update(settings.name, settings);
}

/** Creates or updates the results, dead-letter and inventory streams (file storage). Idempotent. */
export async function ensureStreams(
  jsm: JetStreamManager,
  options: ResultStreamOptions = {},
): Promise<void> {
  const common = {
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    num_replicas: options.replicas ?? 1,
  };
  const ensure = async (settings: StreamSettings): Promise<void> => {
    try {
      await ensureStream(jsm, settings, options.replicas === undefined);
    } catch (error) {
      if (error instanceof JetStreamApiError && error.code === REPLICAS_NOT_CLUSTERED) {
        throw new BerthError(
          'BERTH_ERR_CONFIG',
          `${settingLabel('streamReplicas')} asks for ${String(options.replicas)} copies of each stream, but the NATS server is not in a cluster (${error.message})`,
          { cause: error },
        );
      }
      throw error;
    }
  };
  await ensure({
    ...common,
    name: RESULTS_STREAM,
    subjects: [RESULTS_SUBJECTS],
    duplicate_window: nanos(options.duplicateWindowMs ?? 10 * 60 * 1000),
    max_age: nanos(options.maxAgeMs ?? 7 * DAY_MS),
  });
  await ensure({
    ...common,
    name: DLQ_STREAM,
    subjects: [DLQ_SUBJECT],
    duplicate_window: nanos(10 * 60 * 1000),
    max_age: nanos(30 * DAY_MS),
  });
  await ensure({
    ...common,
    name: INVENTORY_STREAM,
    subjects: [INVENTORY_SUBJECTS],
    duplicate_window: nanos(2 * 60 * 1000),
    max_age: nanos(30 * DAY_MS),
    max_msgs_per_subject: 16,
  });
}

export interface IngestConsumerOptions {
  readonly ackWaitMs: number;
  readonly maxAckPending: number;
}

/** The durable pull consumer every ingest worker shares. Idempotent. */
export async function ensureIngestConsumer(
  jsm: JetStreamManager,
  options: IngestConsumerOptions,
): Promise<void> {
  const settings = {
    ack_wait: nanos(options.ackWaitMs),
    max_ack_pending: options.maxAckPending,
    max_deliver: -1,
  };
  try {
    await jsm.consumers.info(RESULTS_STREAM, INGEST_CONSUMER);
  } catch (error) {
    if (error instanceof JetStreamApiError && error.status === 404) {
      await jsm.consumers.add(RESULTS_STREAM, {
        ...settings,
        durable_name: INGEST_CONSUMER,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        filter_subject: RESULTS_SUBJECTS,
      });
      return;
    }
    throw error;
  }
  await jsm.consumers.update(RESULTS_STREAM, INGEST_CONSUMER, settings);
}
