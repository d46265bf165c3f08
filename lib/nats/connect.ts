import { connect, type NatsConnection } from '@nats-io/transport-node';
import { BerthError, describeError } from '../../contracts/index.ts';
import { settingLabel } from '../config.ts';

export interface NatsConnectOptions {
  readonly url: string;
  /** The client name the server shows for this connection. */
  readonly name: string;
  /** How long the first connection may take before Berth gives up. */
  readonly timeoutMs?: number;
}

/**
 * Connects to NATS, failing fast with a message naming the setting when the first connection
 * cannot be made; after that the client reconnects for ever, so a broker outage only delays.
 */
export async function connectNats(options: NatsConnectOptions): Promise<NatsConnection> {
  try {
    return await connect({
      servers: options.url.split(',').map((server) => server.trim()),
      name: options.name,
      timeout: options.timeoutMs ?? 5_000,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      reconnectJitter: 100,
      waitOnFirstConnect: false,
    });
  } catch (error) {
    throw new BerthError(
      'BERTH_ERR_NATS_UNREACHABLE',
      `cannot reach NATS at ${options.url} (setting ${settingLabel('natsUrl')}): ${describeError(error)}`,
      { cause: error },
    );
  }
}
