import { readFile } from 'node:fs/promises';
import { errors, nkeyAuthenticator } from '@nats-io/nats-core';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { BerthError, describeError, inboxPrefix } from '../../contracts/index.ts';
import { settingLabel } from '../config.ts';

export interface NatsConnectOptions {
  readonly url: string;
  /** The client name the server shows for this connection; its inboxes are `_INBOX.<name>.…`. */
  readonly name: string;
  /** How long the first connection may take before Berth gives up. */
  readonly timeoutMs?: number;
  /**
   * File holding the nkey seed (SU…) to sign in with. When absent, the file the command line
   * chose with useNatsNkeyFile, else none: the client signs in with nothing.
   */
  readonly nkeyFile?: string;
}

let processNkeyFile: string | undefined;

/**
 * Sets the nkey seed file every connection of this process signs in with unless it is given
 * one of its own. A Berth process is one NATS user, so the command line sets it once, from
 * --nats-nkey / NATS_NKEY_FILE.
 */
export function useNatsNkeyFile(path: string | undefined): void {
  processNkeyFile = path;
}

/** The server list with any `user:password@` removed, for messages. */
function shownUrl(url: string): string {
  return url.replace(/\/\/[^/,@]*@/g, '//');
}

/** The seed in the file, checked to be a user seed; the seed itself never reaches a message. */
async function readSeed(path: string): Promise<Uint8Array> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new BerthError(
      'BERTH_ERR_CONFIG',
      `cannot read the nkey seed file ${path} (setting ${settingLabel('natsNkeyFile')}): ${describeError(error)}`,
      { cause: error },
    );
  }
  const seed = text.trim();
  if (!/^SU[A-Z2-7]{56}$/.test(seed)) {
    throw new BerthError(
      'BERTH_ERR_CONFIG',
      `${path} (setting ${settingLabel('natsNkeyFile')}) does not hold a user nkey seed (SU…, 58 characters)`,
    );
  }
  return new TextEncoder().encode(seed);
}

/**
 * Connects to NATS, failing fast with a message naming the setting when the first connection
 * cannot be made; after that the client reconnects for ever, so a broker outage only delays.
 */
export async function connectNats(options: NatsConnectOptions): Promise<NatsConnection> {
  const nkeyFile = options.nkeyFile ?? processNkeyFile;
  const seed = nkeyFile === undefined ? undefined : await readSeed(nkeyFile);
  try {
    return await connect({
      servers: options.url.split(',').map((server) => server.trim()),
      name: options.name,
      inboxPrefix: inboxPrefix(options.name),
      timeout: options.timeoutMs ?? 5_000,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      reconnectJitter: 100,
      waitOnFirstConnect: false,
      ...(seed === undefined ? {} : { authenticator: nkeyAuthenticator(seed) }),
    });
  } catch (error) {
    if (error instanceof errors.AuthorizationError) {
      throw new BerthError(
        'BERTH_ERR_CONFIG',
        `NATS at ${shownUrl(options.url)} refused to sign this client in (setting ${settingLabel('natsNkeyFile')}${nkeyFile === undefined ? ', not set' : `, ${nkeyFile}`}): ${describeError(error)}`,
        { cause: error },
      );
    }
    throw new BerthError(
      'BERTH_ERR_NATS_UNREACHABLE',
      `cannot reach NATS at ${shownUrl(options.url)} (setting ${settingLabel('natsUrl')}): ${describeError(error)}`,
      { cause: error },
    );
  }
}
