import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startChildServer, type ChildServer } from '../lib/servers/child-server.ts';
import { freePort } from './free-port.ts';

export interface ClickHouseServerOptions {
  /** The server's data, temporary files and generated configuration live here. */
  readonly dataDir: string;
  /** 0 picks a free port. */
  readonly httpPort?: number;
  /** Also serve HTTPS, on a free port, with this PEM certificate and key. */
  readonly https?: { readonly certFile: string; readonly keyFile: string };
}

export interface ClickHouseServer {
  readonly url: string;
  readonly httpPort: number;
  /** https://127.0.0.1:<port> when the server was given a certificate. */
  readonly httpsUrl?: string;
  readonly process: ChildServer;
  stop(): Promise<void>;
}

/** HTTPS on a port, with a certificate and key, asking clients for none. */
interface HttpsListener {
  readonly port: number;
  readonly certFile: string;
  readonly keyFile: string;
}

/** The openSSL section of an HTTPS listener. */
const httpsXml = (https: HttpsListener): string => `
  <https_port>${https.port}</https_port>
  <openSSL>
    <server>
      <certificateFile>${https.certFile}</certificateFile>
      <privateKeyFile>${https.keyFile}</privateKeyFile>
      <verificationMode>none</verificationMode>
      <loadDefaultCAFile>false</loadDefaultCAFile>
      <cacheSessions>true</cacheSessions>
      <disableProtocols>sslv2,sslv3,tlsv1,tlsv1_1</disableProtocols>
      <preferServerCiphers>true</preferServerCiphers>
    </server>
  </openSSL>`;

/**
 * A small configuration: loopback only, HTTP (and HTTPS when given), modest caches, logs to
 * the console.
 */
function configXml(dataDir: string, httpPort: number, https?: HttpsListener): string {
  return `<?xml version="1.0"?>
<yandex>
  <logger><level>information</level><console>1</console></logger>
  <http_port>${httpPort}</http_port>${https === undefined ? '' : httpsXml(https)}
  <listen_host>127.0.0.1</listen_host>
  <path>${join(dataDir, 'data')}/</path>
  <tmp_path>${join(dataDir, 'tmp')}/</tmp_path>
  <user_files_path>${join(dataDir, 'user_files')}/</user_files_path>
  <format_schema_path>${join(dataDir, 'format_schemas')}/</format_schema_path>
  <mark_cache_size>268435456</mark_cache_size>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
  <max_concurrent_queries>100</max_concurrent_queries>
  <keep_alive_timeout>3</keep_alive_timeout>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <profiles><default><log_queries>0</log_queries></default></profiles>
  <quotas><default></default></quotas>
</yandex>
`;
}

const PORT_IN_USE_RETRIES = 3;

/** Starts Debian's clickhouse-server (18.16) on loopback with its own configuration. */
export async function startClickHouseServer(
  options: ClickHouseServerOptions,
): Promise<ClickHouseServer> {
  await mkdir(join(options.dataDir, 'tmp'), { recursive: true });
  const configPath = join(options.dataDir, 'config.xml');
  for (let attempt = 1; ; attempt += 1) {
    const httpPort =
      options.httpPort !== undefined && options.httpPort !== 0
        ? options.httpPort
        : await freePort();
    const https =
      options.https === undefined ? undefined : { ...options.https, port: await freePort() };
    await writeFile(configPath, configXml(options.dataDir, httpPort, https));
    try {
      const process = await startChildServer({
        name: 'clickhouse-server',
        command: 'clickhouse-server',
        args: [`--config-file=${configPath}`],
        cwd: options.dataDir,
        readyWhen: (line) => (line.includes('Ready for connections') ? 'ready' : undefined),
        startTimeoutMs: 60_000,
        stopGraceMs: 15_000,
      });
      return {
        url: `http://127.0.0.1:${httpPort}`,
        httpPort,
        ...(https === undefined ? {} : { httpsUrl: `https://127.0.0.1:${https.port}` }),
        process,
        stop: () => process.stop(),
      };
    } catch (error) {
      const raced = String(error).includes('Address already in use');
      if (!raced || options.httpPort || attempt >= PORT_IN_USE_RETRIES) throw error;
    }
  }
}
