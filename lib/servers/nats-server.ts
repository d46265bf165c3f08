import { mkdir } from 'node:fs/promises';
import { startChildServer, type ChildServer } from './child-server.ts';

export interface NatsServerOptions {
  /** JetStream's file store lives under this folder. */
  readonly dataDir: string;
  readonly host?: string;
  /** 0 picks a free port. */
  readonly port?: number;
  /** Extra nats-server arguments. */
  readonly extraArgs?: readonly string[];
  /**
   * A configuration file, such as one `berth nats-config` wrote. It turns JetStream on with its
   * store_dir (which should be dataDir) itself: nats-server refuses a store folder given twice.
   * The address and port above still win over the file's.
   */
  readonly configFile?: string;
}

export interface NatsServer {
  readonly url: string;
  readonly port: number;
  readonly process: ChildServer;
  stop(): Promise<void>;
}

const LISTENING = /Listening for client connections on (\S+):(\d+)/;

/** Starts nats-server with JetStream on and its store under dataDir. */
export async function startNatsServer(options: NatsServerOptions): Promise<NatsServer> {
  await mkdir(options.dataDir, { recursive: true });
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 0;
  const process = await startChildServer({
    name: 'nats-server',
    command: 'nats-server',
    args: [
      ...(options.configFile === undefined
        ? ['--jetstream', '--store_dir', options.dataDir]
        : ['--config', options.configFile]),
      '--addr',
      host,
      '--port',
      String(port === 0 ? -1 : port),
      ...(options.extraArgs ?? []),
    ],
    readyWhen: (line) => LISTENING.exec(line)?.[2],
  });
  const boundPort = Number(process.readyValue);
  return {
    url: `nats://${host}:${boundPort}`,
    port: boundPort,
    process,
    stop: () => process.stop(),
  };
}
