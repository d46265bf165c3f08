import { readFile } from 'node:fs/promises';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { errors, nkeyAuthenticator } from '@nats-io/nats-core';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { BerthError, describeError, inboxPrefix } from '../../contracts/index.ts';
import { settingLabel } from '../config.ts';
import { serverFaultText, tlsFailureOf } from '../tls-error.ts';
import { natsSignIn, type NatsSignIn } from './sign-in.ts';

export interface NatsConnectOptions {
  readonly url: string;
  /** The client name the server shows for this connection; its inboxes are `_INBOX.<name>.…`. */
  readonly name: string;
  /** How long the first connection may take before Berth gives up. */
  readonly timeoutMs?: number;
  /**
   * File holding the nkey seed (SU…) to sign in with. When absent, the file the command line
   * chose with useNatsSignIn, else none: the client signs in with nothing.
   */
  readonly nkeyFile?: string;
  /**
   * The TLS files (paths) to check the server with and present to it. When absent, those the
   * command line chose with useNatsSignIn.
   */
  readonly tls?: Partial<Pick<NatsSignIn, 'natsCa' | 'natsCert' | 'natsKey'>>;
}

/** The server list with any `user:password@` removed, for messages. */
function shownUrl(url: string): string {
  return url.replace(/\/\/[^/,@]*@/g, '//');
}

/**
 * The text of a setting's file (`what` says what the file is, in the message); a file that
 * cannot be read is an error naming the setting.
 */
async function readSettingFile(
  name: keyof NatsSignIn,
  path: string,
  what?: string,
): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new BerthError(
      'BERTH_ERR_CONFIG',
      `cannot read ${what === undefined ? '' : `${what} `}${path} (setting ${settingLabel(name)}): ${describeError(error)}`,
      { cause: error },
    );
  }
}

/** The seed in the file, checked to be a user seed; the seed itself never reaches a message. */
async function readSeed(path: string): Promise<Uint8Array> {
  const seed = (await readSettingFile('natsNkeyFile', path, 'the nkey seed file')).trim();
  if (!/^SU[A-Z2-7]{56}$/.test(seed)) {
    throw new BerthError(
      'BERTH_ERR_CONFIG',
      `${path} (setting ${settingLabel('natsNkeyFile')}) does not hold a user nkey seed (SU…, 58 characters)`,
    );
  }
  return new TextEncoder().encode(seed);
}

/** A PEM file of a TLS setting; what it holds never reaches a message. */
async function readPem(name: 'natsCa' | 'natsCert' | 'natsKey', path: string): Promise<string> {
  const text = await readSettingFile(name, path);
  if (!text.includes('-----BEGIN ')) {
    throw new BerthError(
      'BERTH_ERR_CONFIG',
      `${path} (setting ${settingLabel(name)}) does not hold PEM (-----BEGIN …)`,
    );
  }
  return text;
}

/** What Node's TLS gives checkServerIdentity as `this`: the options of the connection. */
interface TlsConnectOptions {
  readonly servername?: string;
  readonly socket?: { readonly remoteAddress?: string };
}

/**
 * Checks that the server's certificate names the server as it was reached. nats.js gives TLS
 * no name for a server given by its IP address, and Node would then check the certificate
 * against "localhost": such a server is checked against the address dialed instead.
 */
function checkNatsServerIdentity(
  this: TlsConnectOptions,
  hostname: string,
  cert: PeerCertificate,
): Error | undefined {
  const dialed = this.socket?.remoteAddress;
  const reached = (this.servername ?? '') === '' && dialed !== undefined ? dialed : hostname;
  return checkServerIdentity(reached, cert);
}

/** The client's TLS options: undefined when no TLS file is set (TLS only if the server asks). */
async function tlsOptions(
  files: Partial<Pick<NatsSignIn, 'natsCa' | 'natsCert' | 'natsKey'>>,
): Promise<
  | {
      ca?: string;
      cert?: string;
      key?: string;
      checkServerIdentity: typeof checkNatsServerIdentity;
      maxVersion: 'TLSv1.2';
    }
  | undefined
> {
  const { natsCa, natsCert, natsKey } = files;
  if ((natsCert === undefined) !== (natsKey === undefined)) {
    throw new BerthError(
      'BERTH_ERR_CONFIG',
      `a NATS client certificate needs both ${settingLabel('natsCert')} and ${settingLabel('natsKey')}`,
    );
  }
  if (natsCa === undefined && natsCert === undefined) return undefined;
  return {
    checkServerIdentity: checkNatsServerIdentity,
    // In TLS 1.3 a server checks the client's certificate after the handshake and closes a
    // refused one silently, which nats.js reports as a timeout; in TLS 1.2 the refusal is part
    // of the handshake and comes with its reason.
    maxVersion: 'TLSv1.2',
    ...(natsCa === undefined ? {} : { ca: await readPem('natsCa', natsCa) }),
    ...(natsCert === undefined ? {} : { cert: await readPem('natsCert', natsCert) }),
    ...(natsKey === undefined ? {} : { key: await readPem('natsKey', natsKey) }),
  };
}

/** How a setting was given, for messages: its label and its file, or that it is not set. */
const given = (name: 'natsCa' | 'natsCert', file: string | undefined): string =>
  `setting ${settingLabel(name)}${file === undefined ? ', not set' : `, ${file}`}`;

/**
 * Why a TLS connection failed, in words that name the setting to look at; undefined when the
 * failure was not about TLS.
 */
function tlsProblem(error: unknown, tls: Partial<NatsSignIn>): string | undefined {
  if (/server does not support 'tls'/.test(describeError(error))) {
    return `does not offer TLS, which ${settingLabel(tls.natsCa === undefined ? 'natsCert' : 'natsCa')} asks for: nothing was sent`;
  }
  const failure = tlsFailureOf(error);
  if (failure === undefined) return undefined;
  if (failure.fault === 'refused') {
    return `refused this client's certificate (${given('natsCert', tls.natsCert)}): ${failure.reason}`;
  }
  return `${serverFaultText(failure.fault)} (${given('natsCa', tls.natsCa)}): ${failure.reason}`;
}

/**
 * Connects to NATS, failing fast with a message naming the setting when the first connection
 * cannot be made; after that the client reconnects for ever, so a broker outage only delays.
 * With a CA or a client certificate set the connection is TLS or none: a server that does not
 * offer TLS is refused before anything is sent, and the server's certificate must name the
 * address it was reached at.
 */
export async function connectNats(options: NatsConnectOptions): Promise<NatsConnection> {
  const nkeyFile = options.nkeyFile ?? natsSignIn().natsNkeyFile;
  const seed = nkeyFile === undefined ? undefined : await readSeed(nkeyFile);
  const files = options.tls ?? natsSignIn();
  const tls = await tlsOptions(files);
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
      ...(tls === undefined ? {} : { tls }),
    });
  } catch (error) {
    if (error instanceof errors.AuthorizationError) {
      throw new BerthError(
        'BERTH_ERR_CONFIG',
        `NATS at ${shownUrl(options.url)} refused to sign this client in (setting ${settingLabel('natsNkeyFile')}${nkeyFile === undefined ? ', not set' : `, ${nkeyFile}`}): ${describeError(error)}`,
        { cause: error },
      );
    }
    const problem = tlsProblem(error, files);
    if (problem !== undefined) {
      // The message holds the reason; OpenSSL's own text of it spans lines.
      throw new BerthError('BERTH_ERR_CONFIG', `NATS at ${shownUrl(options.url)} ${problem}`);
    }
    throw new BerthError(
      'BERTH_ERR_NATS_UNREACHABLE',
      `cannot reach NATS at ${shownUrl(options.url)} (setting ${settingLabel('natsUrl')}): ${describeError(error)}`,
      { cause: error },
    );
  }
}
