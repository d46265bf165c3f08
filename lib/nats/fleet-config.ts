import {
  BerthError,
  DLQ_SUBJECT,
  JOB_PROGRESS_SUBJECTS,
  JOBS_SUBJECTS,
  RESULTS_SUBJECTS,
  STORED_SUBJECT,
  assertSafeToken,
  inboxPrefix,
  inventorySubject,
  jobProgressSubject,
  jobsSubject,
  resultsSubject,
} from '../../contracts/index.ts';
import { DLQ_STREAM, INGEST_CONSUMER, INVENTORY_STREAM, RESULTS_STREAM } from './streams.ts';

/**
 * The nats-server configuration of a Berth fleet: one nkey user per agent, one for ingest,
 * one for the advisor and one for an operator, each allowed exactly the subjects its Berth
 * process uses (docs/security.md explains every line). Pure: the keys come from the caller.
 */

/** A role is the NATS user one kind of Berth process signs in as. */
export type Role = `agent-${string}` | 'ingest' | 'advisor' | 'admin';

export interface Permissions {
  readonly publish: readonly string[];
  readonly subscribe: readonly string[];
  /** May answer requests it received (once each), whatever their reply subject. */
  readonly allowResponses: boolean;
}

export interface FleetUser {
  readonly role: Role;
  /** The user's public nkey (U…); the server needs nothing secret. */
  readonly publicKey: string;
}

export interface ClusterOptions {
  /** This node's name, unique in the cluster (JetStream needs it). */
  readonly serverName: string;
  /** host:port the node listens on for routes from the other nodes. */
  readonly listen: string;
  /** nats-route://host:port (or nats://) of the other nodes. */
  readonly routes: readonly string[];
}

/** The files (paths as the server reads them) a node serves TLS with. */
export interface FleetTls {
  /** PEM CA certificate(s) that signed the nodes' (and the clients') certificates. */
  readonly caFile: string;
  /** This node's certificate, naming it for clients and for the routes of the other nodes. */
  readonly certFile: string;
  readonly keyFile: string;
  /** Mutual TLS: every client must present a certificate the CA signed. */
  readonly verifyClients: boolean;
}

export interface FleetConfigOptions {
  /** host:port for clients. */
  readonly listen: string;
  /** JetStream's file store on this node. */
  readonly storeDir: string;
  readonly cluster?: ClusterOptions;
  /** TLS on client connections and on cluster routes (routes always check both ends). */
  readonly tls?: FleetTls;
}

const CLUSTER_NAME = 'berth';

/** The JetStream API subject of an operation, e.g. `$JS.API.STREAM.INFO.BERTH_RESULTS`. */
const api = (...tokens: string[]): string => ['$JS', 'API', ...tokens].join('.');

/** The roles of a fleet: an agent per host, then ingest, advisor and admin. */
export function fleetRoles(hostIds: readonly string[]): Role[] {
  const seen = new Set<string>();
  for (const hostId of hostIds) {
    assertSafeToken(hostId, 'host id');
    if (seen.has(hostId)) {
      throw new BerthError('BERTH_ERR_PARAMETER', `host id ${hostId} is listed twice`);
    }
    seen.add(hostId);
  }
  if (seen.size === 0) throw new BerthError('BERTH_ERR_PARAMETER', 'no host ids given');
  return [...[...seen].map((hostId): Role => `agent-${hostId}`), 'ingest', 'advisor', 'admin'];
}

/** The connection names a role's processes use, which fix the inboxes they read. */
function connectionNames(role: Role): string[] {
  if (role === 'ingest') return ['berth-ingest'];
  if (role === 'advisor') return ['berth-advisor', 'berth-advise'];
  if (role === 'admin') return [];
  return [`berth-${role}`];
}

const inboxesOf = (role: Role): string[] =>
  connectionNames(role).map((name) => `${inboxPrefix(name)}.>`);

const STREAMS = [RESULTS_STREAM, DLQ_STREAM, INVENTORY_STREAM];

/** The stream API calls named, on each of Berth's streams. */
const onEveryStream = (...calls: readonly string[]): string[] =>
  STREAMS.flatMap((stream) => calls.map((call) => api('STREAM', call, stream)));

/** What an ordered consumer needs to read a stream: make, use and remove its consumers. */
const readerOf = (stream: string): string[] => [
  api('CONSUMER', 'CREATE', stream, '>'),
  api('CONSUMER', 'INFO', stream, '*'),
  api('CONSUMER', 'DELETE', stream, '*'),
  api('CONSUMER', 'MSG', 'NEXT', stream, '*'),
];

/** What each role may publish and subscribe to; every subject is explained in docs/security.md. */
export function permissionsOf(role: Role): Permissions {
  if (role === 'admin') return { publish: ['>'], subscribe: ['>'], allowResponses: false };
  if (role === 'ingest') {
    return {
      publish: [
        api('INFO'),
        ...onEveryStream('INFO', 'CREATE', 'UPDATE'),
        api('CONSUMER', 'INFO', RESULTS_STREAM, INGEST_CONSUMER),
        api('CONSUMER', 'CREATE', RESULTS_STREAM, INGEST_CONSUMER, RESULTS_SUBJECTS),
        api('CONSUMER', 'MSG', 'NEXT', RESULTS_STREAM, INGEST_CONSUMER),
        `$JS.ACK.${RESULTS_STREAM}.${INGEST_CONSUMER}.>`,
        DLQ_SUBJECT,
        STORED_SUBJECT,
      ],
      subscribe: inboxesOf(role),
      allowResponses: false,
    };
  }
  if (role === 'advisor') {
    return {
      publish: [
        api('INFO'),
        ...onEveryStream('INFO', 'CREATE'),
        ...readerOf(INVENTORY_STREAM),
        ...readerOf(DLQ_STREAM),
        JOBS_SUBJECTS,
      ],
      subscribe: [STORED_SUBJECT, JOB_PROGRESS_SUBJECTS, ...inboxesOf(role)],
      allowResponses: false,
    };
  }
  const hostId = role.slice('agent-'.length);
  return {
    publish: [resultsSubject(hostId), inventorySubject(hostId), jobProgressSubject(hostId)],
    subscribe: [jobsSubject(hostId), ...inboxesOf(role)],
    allowResponses: true,
  };
}

/** A string in the nats-server configuration syntax (double-quoted, `\` and `"` escaped). */
function quoted(value: string): string {
  if (/\p{Cc}/u.test(value)) {
    throw new BerthError(
      'BERTH_ERR_PARAMETER',
      `${JSON.stringify(value)} holds a control character`,
    );
  }
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

const list = (values: readonly string[]): string => `[${values.map(quoted).join(', ')}]`;

/** A list one value a line, as the permissions are written. */
const column = (values: readonly string[]): string =>
  `[\n${values.map((value) => `          ${quoted(value)}`).join(',\n')}\n        ]`;

function userBlock(user: FleetUser): string {
  if (!/^U[A-Z2-7]{55}$/.test(user.publicKey)) {
    throw new BerthError(
      'BERTH_ERR_PARAMETER',
      `the key of ${user.role} is not a public user nkey (U…, 56 characters)`,
    );
  }
  const permissions = permissionsOf(user.role);
  return [
    `    # ${user.role}`,
    '    {',
    `      nkey: ${quoted(user.publicKey)}`,
    '      permissions: {',
    `        publish: { allow: ${column(permissions.publish)} }`,
    `        subscribe: { allow: ${column(permissions.subscribe)} }`,
    ...(permissions.allowResponses ? ['        allow_responses: true'] : []),
    '      }',
    '    }',
  ].join('\n');
}

/** Seconds a TLS handshake may take; nats-server's default of 0.5 is short on a busy host. */
const TLS_TIMEOUT_S = 5;

/** A `tls { … }` block, indented; `verify: true` asks the other end for its certificate. */
function tlsBlock(tls: FleetTls, indent: string, verify: boolean): string[] {
  return [
    `${indent}tls {`,
    `${indent}  cert_file: ${quoted(tls.certFile)}`,
    `${indent}  key_file: ${quoted(tls.keyFile)}`,
    `${indent}  ca_file: ${quoted(tls.caFile)}`,
    ...(verify ? [`${indent}  verify: true`] : []),
    `${indent}  timeout: ${TLS_TIMEOUT_S}`,
    `${indent}}`,
  ];
}

/** The configuration file's text, for nats-server 2.9 and later. */
export function natsServerConfig(options: FleetConfigOptions, users: readonly FleetUser[]): string {
  const lines = [
    '# Written by `berth nats-config`; docs/security.md explains each permission.',
    `listen: ${quoted(options.listen)}`,
  ];
  if (options.cluster !== undefined) {
    lines.push(
      `server_name: ${quoted(assertSafeToken(options.cluster.serverName, 'server name'))}`,
    );
  }
  if (options.tls !== undefined)
    lines.push(...tlsBlock(options.tls, '', options.tls.verifyClients));
  lines.push('jetstream {', `  store_dir: ${quoted(options.storeDir)}`, '}');
  if (options.cluster !== undefined) {
    lines.push(
      'cluster {',
      `  name: ${quoted(CLUSTER_NAME)}`,
      `  listen: ${quoted(options.cluster.listen)}`,
      `  routes: ${list(options.cluster.routes)}`,
      // nats-server checks the certificates of both ends of a route whatever `verify` says.
      ...(options.tls === undefined ? [] : tlsBlock(options.tls, '  ', true)),
      '}',
    );
  }
  lines.push('authorization {', '  users: [', users.map(userBlock).join('\n'), '  ]', '}');
  return `${lines.join('\n')}\n`;
}
