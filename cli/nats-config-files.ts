import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { nkeys } from '@nats-io/nats-core';
import { BerthError, describeError } from '../contracts/index.ts';
import {
  fleetRoles,
  natsServerConfig,
  type ClusterOptions,
  type FleetTls,
  type FleetUser,
  type Role,
} from '../lib/nats/fleet-config.ts';
import {
  copyOwnTls,
  ensureCa,
  exists,
  issueCertificate,
  type CertificateFiles,
} from '../lib/nats/fleet-tls.ts';
import { printTable } from './output.ts';

export interface NatsConfigOptions {
  hosts?: string;
  hostsFile?: string;
  outDir: string;
  listen: string;
  storeDir: string;
  serverName?: string;
  clusterListen: string;
  routes?: string;
  nodes?: string;
  tls?: boolean;
  tlsHosts?: string;
  tlsVerify?: boolean;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
}

const splitList = (raw: string): string[] =>
  raw
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');

/** Host ids from --hosts and --hosts-file (one a line; blank lines and `#` comments skipped). */
async function hostIdsOf(options: NatsConfigOptions): Promise<string[]> {
  const ids = options.hosts === undefined ? [] : splitList(options.hosts);
  if (options.hostsFile !== undefined) {
    let text: string;
    try {
      text = await readFile(options.hostsFile, 'utf8');
    } catch (error) {
      throw new BerthError(
        'BERTH_ERR_PARAMETER',
        `--hosts-file: cannot read ${options.hostsFile}: ${describeError(error)}`,
      );
    }
    for (const line of text.split('\n')) {
      const id = line.replace(/#.*/, '').trim();
      if (id !== '') ids.push(id);
    }
  }
  return ids;
}

/** The port of a host:port. */
function portOf(listen: string): string {
  const port = /:(\d+)$/.exec(listen)?.[1];
  if (port === undefined) {
    throw new BerthError('BERTH_ERR_PARAMETER', `--cluster-listen ${listen} has no :port`);
  }
  return port;
}

/**
 * The cluster settings of each node to write: none without a cluster, one for --server-name
 * and --routes, one per name of --nodes (each node reached by its name, as in a compose file).
 */
function clusterOf(options: NatsConfigOptions): ClusterOptions[] | undefined {
  if (options.nodes !== undefined) {
    if (options.routes !== undefined || options.serverName !== undefined) {
      throw new BerthError(
        'BERTH_ERR_PARAMETER',
        '--nodes writes every node: give it alone, or --server-name and --routes for one node',
      );
    }
    const names = splitList(options.nodes);
    if (names.length < 2 || new Set(names).size !== names.length) {
      throw new BerthError(
        'BERTH_ERR_PARAMETER',
        `--nodes needs two or more distinct names, got "${options.nodes}"`,
      );
    }
    const port = portOf(options.clusterListen);
    return names.map((serverName) => ({
      serverName,
      listen: options.clusterListen,
      routes: names
        .filter((other) => other !== serverName)
        .map((other) => `nats-route://${other}:${port}`),
    }));
  }
  if (options.routes === undefined) {
    if (options.serverName !== undefined) {
      throw new BerthError('BERTH_ERR_PARAMETER', '--server-name is for a cluster: give --routes');
    }
    return undefined;
  }
  if (options.serverName === undefined) {
    throw new BerthError(
      'BERTH_ERR_PARAMETER',
      '--routes needs --server-name, unique for each node of the cluster',
    );
  }
  return [
    {
      serverName: options.serverName,
      listen: options.clusterListen,
      routes: splitList(options.routes),
    },
  ];
}

/**
 * The role's public key, from its seed file when one is there (so a fleet keeps its keys when
 * hosts are added), else from a new seed written to a file only its owner can read.
 */
async function userOf(
  outDir: string,
  role: Role,
): Promise<FleetUser & { seedFile: string; created: boolean }> {
  const seedFile = join(outDir, `${role}.nk`);
  let seed: string | undefined;
  try {
    seed = (await readFile(seedFile, 'utf8')).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (seed !== undefined) {
    try {
      const publicKey = nkeys.fromSeed(new TextEncoder().encode(seed)).getPublicKey();
      return { role, publicKey, seedFile, created: false };
    } catch {
      throw new BerthError(
        'BERTH_ERR_PARAMETER',
        `${seedFile} does not hold an nkey seed; move it away to have a new one written`,
      );
    }
  }
  const user = nkeys.createUser();
  await writeFile(seedFile, `${new TextDecoder().decode(user.getSeed())}\n`, {
    mode: 0o600,
    flag: 'wx',
  });
  return { role, publicKey: user.getPublicKey(), seedFile, created: true };
}

/** The TLS of the fleet: whose files, and whether clients present certificates. */
interface TlsPlan {
  /** The operator's own files (--tls-ca, --tls-cert, --tls-key), else the CA made here. */
  readonly own?: { readonly ca: string; readonly cert: string; readonly key: string };
  readonly hosts: readonly string[];
  readonly verifyClients: boolean;
}

/** What the --tls options ask for; undefined for a fleet without TLS. */
function tlsPlanOf(options: NatsConfigOptions, cluster: boolean): TlsPlan | undefined {
  const { tlsCa: ca, tlsCert: cert, tlsKey: key } = options;
  const own = [ca, cert, key].filter((file) => file !== undefined).length;
  if (own === 0 && options.tls !== true) {
    if (options.tlsHosts !== undefined || options.tlsVerify === true) {
      throw new BerthError('BERTH_ERR_PARAMETER', '--tls-hosts and --tls-verify need --tls');
    }
    return undefined;
  }
  if (own !== 0 && (ca === undefined || cert === undefined || key === undefined)) {
    throw new BerthError(
      'BERTH_ERR_PARAMETER',
      'bring your own TLS files with all of --tls-ca, --tls-cert and --tls-key',
    );
  }
  const hosts = options.tlsHosts === undefined ? [] : splitList(options.tlsHosts);
  if (own !== 0 && hosts.length > 0) {
    throw new BerthError(
      'BERTH_ERR_PARAMETER',
      '--tls-hosts names hosts in the certificates made here; your own --tls-cert names its own',
    );
  }
  if (own === 0 && !cluster && hosts.length === 0) {
    throw new BerthError(
      'BERTH_ERR_PARAMETER',
      '--tls needs the names clients reach the server by, for its certificate: give --tls-hosts (e.g. nats.example.org,10.0.0.5)',
    );
  }
  return {
    ...(ca === undefined || cert === undefined || key === undefined
      ? {}
      : { own: { ca: resolve(ca), cert: resolve(cert), key: resolve(key) } }),
    hosts,
    verifyClients: options.tlsVerify === true,
  };
}

/** The base name of a node's files: nats-server, or nats-server-<name> in a cluster. */
const nodeBase = (cluster: ClusterOptions | undefined): string =>
  cluster === undefined ? 'nats-server' : `nats-server-${cluster.serverName}`;

/**
 * Writes the TLS files beside the configuration: the CA (kept when there), each node's
 * certificate naming it (written again each time, so new --tls-hosts take), and with
 * --tls-verify a client certificate per role (kept when there). With the operator's own files,
 * those are checked and copied instead. Returns each node's TLS and each role's client files.
 */
async function writeTls(
  plan: TlsPlan,
  outDir: string,
  nodes: readonly (ClusterOptions | undefined)[],
  roles: readonly Role[],
): Promise<{
  nodeTls: (cluster: ClusterOptions | undefined) => FleetTls;
  clients: Map<Role, CertificateFiles>;
}> {
  const caFile = join(outDir, 'ca.crt');
  const nodeTls = (cluster: ClusterOptions | undefined): FleetTls => ({
    caFile,
    certFile: join(outDir, `${nodeBase(cluster)}.crt`),
    keyFile: join(outDir, `${nodeBase(cluster)}.key`),
    verifyClients: plan.verifyClients,
  });
  const clients = new Map<Role, CertificateFiles>();
  if (plan.own !== undefined) {
    await copyOwnTls(plan.own, outDir, nodes.map(nodeBase));
    return { nodeTls, clients };
  }
  const ca = await ensureCa(outDir);
  process.stdout.write(`${ca.created ? 'wrote' : 'kept'} ${ca.certFile}\n`);
  for (const cluster of nodes) {
    const names = [
      ...new Set([...(cluster === undefined ? [] : [cluster.serverName]), ...plan.hosts]),
    ];
    const written = await issueCertificate({
      ca,
      dir: outDir,
      base: nodeBase(cluster),
      commonName: names[0] ?? 'nats-server',
      usage: 'node',
      names,
    });
    process.stdout.write(`wrote ${written.certFile} for ${names.join(', ')}\n`);
  }
  if (plan.verifyClients) {
    for (const role of roles) {
      const files = { certFile: join(outDir, `${role}.crt`), keyFile: join(outDir, `${role}.key`) };
      const kept = (await exists(files.certFile)) && (await exists(files.keyFile));
      clients.set(
        role,
        kept
          ? files
          : await issueCertificate({
              ca,
              dir: outDir,
              base: role,
              commonName: role,
              usage: 'client',
            }),
      );
    }
  }
  return { nodeTls, clients };
}

/** The variables that present a role's client certificate, if it has one. */
const clientFilesOf = (files: CertificateFiles | undefined): string[] =>
  files === undefined ? [] : [`NATS_CERT=${files.certFile}`, `NATS_KEY=${files.keyFile}`];

/**
 * What `berth nats-config` writes: the nkey of every role (kept when there), the TLS files when
 * asked, and a nats-server configuration per node; then prints what each role is given.
 */
export async function writeNatsConfig(options: NatsConfigOptions): Promise<void> {
  const roles = fleetRoles(await hostIdsOf(options));
  const nodes = clusterOf(options) ?? [undefined];
  const plan = tlsPlanOf(options, nodes[0] !== undefined);
  const outDir = resolve(options.outDir);
  await mkdir(outDir, { recursive: true, mode: 0o700 });
  const users = [];
  for (const role of roles) users.push(await userOf(outDir, role));
  const tls = plan === undefined ? undefined : await writeTls(plan, outDir, nodes, roles);
  for (const cluster of nodes) {
    const configFile = join(outDir, `${nodeBase(cluster)}.conf`);
    const text = natsServerConfig(
      {
        listen: options.listen,
        storeDir: options.storeDir,
        ...(cluster === undefined ? {} : { cluster }),
        ...(tls === undefined ? {} : { tls: tls.nodeTls(cluster) }),
      },
      users,
    );
    await writeFile(configFile, text, { mode: 0o644 });
    process.stdout.write(`wrote ${configFile}\n`);
  }
  printTable(
    users.map((user) => ({
      role: user.role,
      seed: user.seedFile,
      state: user.created ? 'new' : 'kept',
      give: [
        `NATS_NKEY_FILE=${user.seedFile}`,
        ...(tls === undefined ? [] : [`NATS_CA=${join(outDir, 'ca.crt')}`]),
        ...clientFilesOf(tls?.clients.get(user.role)),
      ].join(' '),
    })),
    false,
  );
}
