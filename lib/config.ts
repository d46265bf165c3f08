import { resolve } from 'node:path';
import { BerthError } from '../contracts/errors.ts';
import { assertSafeToken } from '../contracts/tokens.ts';
import {
  ANTAGONIST_NAMES,
  isAntagonistName,
  isWorkloadName,
  WORKLOAD_NAMES,
  type AntagonistName,
} from '../contracts/workloads.ts';
import { usableCpus } from './cpu-limit.ts';

/**
 * Every setting Berth reads, in one table: its environment variable, its command-line flag,
 * its default and how it is parsed. Commands build their options from this table, so
 * --help, the environment and docs/configuration.md name the same things.
 */
interface Setting<T> {
  readonly env: string;
  readonly flag: string;
  readonly description: string;
  readonly defaultValue: T;
  readonly parse: (raw: string) => T;
  /** Shown in --help and docs instead of the default value. */
  readonly defaultLabel?: string;
  /** Kept out of --help defaults, logs and error messages. */
  readonly secret?: boolean;
}

function integer(min: number, max: number): (raw: string) => number {
  return (raw) => {
    if (!/^-?\d+$/.test(raw.trim())) throw new Error(`must be a whole number, got "${raw}"`);
    const value = Number(raw);
    if (value < min || value > max) throw new Error(`must be from ${min} to ${max}, got ${value}`);
    return value;
  };
}

function url(protocols: readonly string[]): (raw: string) => string {
  return (raw) => {
    const candidates = raw.split(',').map((part) => part.trim());
    for (const candidate of candidates) {
      let parsed: URL;
      try {
        parsed = new URL(candidate);
      } catch {
        // A URL that does not parse may still carry a password: keep it out of the message.
        const redacted = candidate.replace(/^([a-z][a-z0-9+.-]*:\/\/)?[^]*@/i, '$1***@');
        throw new Error(`is not a URL: "${redacted}"`);
      }
      if (!protocols.includes(parsed.protocol)) {
        throw new Error(`must start with ${protocols.join(' or ')}, got "${parsed.protocol}"`);
      }
      if (parsed.port !== '' && Number(parsed.port) === 0) {
        throw new Error(`has port 0, which cannot be reached`);
      }
    }
    return raw.trim();
  };
}

/** A decimal number from min to max. */
function decimal(min: number, max: number): (raw: string) => number {
  return (raw) => {
    const value = raw.trim() === '' ? Number.NaN : Number(raw);
    if (!Number.isFinite(value)) throw new Error(`must be a number, got "${raw}"`);
    if (value < min || value > max) throw new Error(`must be from ${min} to ${max}, got ${value}`);
    return value;
  };
}

/** The CPUs this process may use, which the thread settings' defaults follow. */
const USABLE_CPUS = usableCpus();

const text = (raw: string): string => raw;
const optionalText = (raw: string): string | undefined => (raw === '' ? undefined : raw);

function identifier(raw: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(raw)) {
    throw new Error(`must be a plain name (letters, digits, _), got "${raw}"`);
  }
  return raw;
}

/** A libvirt connection URI of a driver Berth can run its guest on: qemu, xen or test. */
function libvirtUri(raw: string): string {
  const uri = raw.trim();
  if (!/^(qemu|xen|test)(\+[a-z0-9]+)?:\/\/\S*$/i.test(uri)) {
    const redacted = uri.replace(/^([a-z][a-z0-9+.-]*:\/\/)?[^]*@/i, '$1***@');
    throw new Error(
      `must be a libvirt URI of the qemu, xen or test driver (qemu:///system, xen:///system, test:///default), got "${redacted}"`,
    );
  }
  return uri;
}

/** A switch: on/off, true/false, yes/no or 1/0. */
function onOff(raw: string): boolean {
  const value = raw.trim().toLowerCase();
  if (['on', 'true', 'yes', '1'].includes(value)) return true;
  if (['off', 'false', 'no', '0'].includes(value)) return false;
  throw new Error(`must be on or off (true/false, yes/no, 1/0), got "${raw}"`);
}

/** A comma-separated list of names; empty means none were given. */
function nameList(raw: string): readonly string[] {
  return raw
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
}

/** The workload density at load and noisy neighbours run, or `off`. */
function loadWorkload(raw: string): string {
  const name = raw.trim();
  if (name === 'off') return name;
  if (!isWorkloadName(name)) {
    throw new Error(`must be off or one of ${WORKLOAD_NAMES.join(', ')}, got "${raw}"`);
  }
  return name;
}

/** Antagonists by name, comma-separated; `none` for none. */
function antagonistList(raw: string): readonly AntagonistName[] {
  if (raw.trim() === 'none') return [];
  const names = nameList(raw);
  const unknown = names.filter((name) => !isAntagonistName(name));
  if (unknown.length > 0) {
    throw new Error(
      `must be none or some of ${ANTAGONIST_NAMES.join(', ')}, got "${unknown.join(', ')}"`,
    );
  }
  return [...new Set(names)] as AntagonistName[];
}

function oneOf<T extends string>(values: readonly T[]): (raw: string) => T {
  return (raw) => {
    if (!(values as readonly string[]).includes(raw)) {
      throw new Error(`must be one of ${values.join(', ')}, got "${raw}"`);
    }
    return raw as T;
  };
}

export const SETTINGS = {
  dataDir: {
    env: 'BERTH_DATA_DIR',
    flag: '--data-dir <path>',
    description: 'folder for the embedded store, nats-server data and agent state',
    defaultValue: '.berth',
    parse: (raw: string) => resolve(raw),
  },
  natsUrl: {
    env: 'NATS_URL',
    flag: '--nats-url <url>',
    description: 'NATS server(s), comma-separated',
    defaultValue: 'nats://127.0.0.1:4222',
    parse: url(['nats:', 'tls:', 'ws:', 'wss:']),
  },
  natsNkeyFile: {
    env: 'NATS_NKEY_FILE',
    flag: '--nats-nkey <file>',
    description:
      'file with the nkey seed this process signs in to NATS with (berth nats-config writes them)',
    defaultValue: undefined as string | undefined,
    defaultLabel: 'none: sign in with nothing',
    parse: (raw: string) => resolve(raw),
  },
  natsCa: {
    env: 'NATS_CA',
    flag: '--nats-ca <file>',
    description:
      "PEM CA certificate(s) the NATS servers' certificates must be signed by: every connection is then TLS (none in clear text) and the server's name is checked (berth nats-config --tls writes ca.crt)",
    defaultValue: undefined as string | undefined,
    defaultLabel: 'none: TLS only when the server requires it, checked against the public roots',
    parse: (raw: string) => resolve(raw),
  },
  natsCert: {
    env: 'NATS_CERT',
    flag: '--nats-cert <file>',
    description:
      'PEM client certificate this process presents to NATS servers that require one (mutual TLS); needs --nats-key',
    defaultValue: undefined as string | undefined,
    defaultLabel: 'none',
    parse: (raw: string) => resolve(raw),
  },
  natsKey: {
    env: 'NATS_KEY',
    flag: '--nats-key <file>',
    description: 'PEM private key of --nats-cert',
    defaultValue: undefined as string | undefined,
    defaultLabel: 'none',
    parse: (raw: string) => resolve(raw),
  },
  clickhouseUrl: {
    env: 'CLICKHOUSE_URL',
    flag: '--clickhouse-url <url>',
    description: 'ClickHouse server over HTTP; when unset, the embedded store (chDB) is used',
    defaultValue: undefined as string | undefined,
    defaultLabel: 'embedded chDB under --data-dir',
    parse: url(['http:', 'https:']),
  },
  clickhouseCa: {
    env: 'CLICKHOUSE_CA',
    flag: '--clickhouse-ca <file>',
    description:
      "PEM CA certificate(s) an https:// ClickHouse server's certificate must be signed by (its name is checked too)",
    defaultValue: undefined as string | undefined,
    defaultLabel: 'none: the public roots',
    parse: (raw: string) => resolve(raw),
  },
  clickhouseUser: {
    env: 'CLICKHOUSE_USER',
    flag: '--clickhouse-user <name>',
    description: 'ClickHouse user',
    defaultValue: undefined as string | undefined,
    parse: optionalText,
  },
  clickhousePassword: {
    env: 'CLICKHOUSE_PASSWORD',
    flag: '--clickhouse-password <password>',
    description: 'ClickHouse password (prefer the environment variable)',
    defaultValue: undefined as string | undefined,
    parse: optionalText,
    secret: true,
  },
  clickhouseDatabase: {
    env: 'CLICKHOUSE_DATABASE',
    flag: '--clickhouse-database <name>',
    description: 'database that holds the Berth tables (created when missing)',
    defaultValue: 'berth',
    parse: identifier,
  },
  streamReplicas: {
    env: 'BERTH_STREAM_REPLICAS',
    flag: '--stream-replicas <n>',
    description:
      'copies of each Berth stream, one per NATS node (3 on a 3-node cluster); ingest creates or resizes the streams to it',
    defaultValue: undefined as number | undefined,
    defaultLabel: 'unset: a new stream gets 1, an existing one keeps its count',
    parse: integer(1, 5),
  },
  batchSize: {
    env: 'BERTH_INGEST_BATCH_SIZE',
    flag: '--batch-size <n>',
    description: 'result messages per insert',
    defaultValue: 5000,
    parse: integer(1, 100_000),
  },
  batchWaitMs: {
    env: 'BERTH_INGEST_BATCH_WAIT_MS',
    flag: '--batch-wait-ms <ms>',
    description: 'longest wait before a partial batch is written',
    defaultValue: 200,
    parse: integer(1, 60_000),
  },
  maxMessageBytes: {
    env: 'BERTH_INGEST_MAX_MESSAGE_BYTES',
    flag: '--max-message-bytes <n>',
    description: 'larger result messages go to the dead-letter subject',
    defaultValue: 256 * 1024,
    parse: integer(1024, 8 * 1024 * 1024),
  },
  encoderThreads: {
    env: 'BERTH_INGEST_ENCODER_THREADS',
    flag: '--encoder-threads <n>',
    description: 'worker threads that validate and encode batches (0: on the main thread)',
    defaultValue: USABLE_CPUS >= 2 ? 1 : 0,
    defaultLabel: '1 where the process may use two CPUs or more, else 0',
    parse: integer(0, 1),
  },
  ackWaitMs: {
    env: 'BERTH_INGEST_ACK_WAIT_MS',
    flag: '--ack-wait-ms <ms>',
    description: 'how long JetStream waits for an ack before it delivers a message again',
    defaultValue: 30_000,
    parse: integer(1000, 600_000),
  },
  metricsHost: {
    env: 'BERTH_METRICS_HOST',
    flag: '--metrics-host <host>',
    description: 'address for /metrics and /healthz',
    defaultValue: '127.0.0.1',
    parse: text,
  },
  metricsPort: {
    env: 'BERTH_METRICS_PORT',
    flag: '--metrics-port <port>',
    description: 'port for /metrics and /healthz (0 picks a free one)',
    defaultValue: 9464,
    parse: integer(0, 65_535),
  },
  advisorHost: {
    env: 'BERTH_ADVISOR_HOST',
    flag: '--host <host>',
    description: 'address of the advisor (HTTP API, WebSocket and dashboard)',
    defaultValue: '127.0.0.1',
    parse: text,
  },
  advisorPort: {
    env: 'BERTH_ADVISOR_PORT',
    flag: '--port <port>',
    description: 'port of the advisor (0 picks a free one)',
    defaultValue: 7700,
    parse: integer(0, 65_535),
  },
  engineThreads: {
    env: 'BERTH_ADVISOR_ENGINE_THREADS',
    flag: '--engine-threads <n>',
    description:
      'worker threads that compute answers side by side while the main thread serves the sockets (0: on the main thread)',
    defaultValue: Math.max(0, Math.floor(USABLE_CPUS) - 1),
    defaultLabel:
      'one less than the CPUs the process may use (its cores, or fewer under a cgroup CPU quota); 0 below two',
    parse: integer(0, 256),
  },
  advisorToken: {
    env: 'BERTH_ADVISOR_TOKEN',
    flag: '--token <token>',
    description:
      'bearer token the advisor requires (needed when it listens on anything but loopback, unless --tls-client-ca is set; prefer the variable)',
    defaultValue: undefined as string | undefined,
    parse: optionalText,
    secret: true,
  },
  advisorTlsCert: {
    env: 'BERTH_ADVISOR_TLS_CERT',
    flag: '--tls-cert <file>',
    description:
      'PEM certificate (with its chain) the advisor serves HTTPS and WSS with; needs --tls-key',
    defaultValue: undefined as string | undefined,
    defaultLabel: 'none: plain HTTP',
    parse: (raw: string) => resolve(raw),
  },
  advisorTlsKey: {
    env: 'BERTH_ADVISOR_TLS_KEY',
    flag: '--tls-key <file>',
    description: 'PEM private key of --tls-cert',
    defaultValue: undefined as string | undefined,
    defaultLabel: 'none',
    parse: (raw: string) => resolve(raw),
  },
  advisorTlsClientCa: {
    env: 'BERTH_ADVISOR_TLS_CLIENT_CA',
    flag: '--tls-client-ca <file>',
    description:
      'PEM CA certificate(s): every client must present a certificate one of them signed (mutual TLS), and then no token is needed off loopback',
    defaultValue: undefined as string | undefined,
    defaultLabel: 'none: clients present no certificate',
    parse: (raw: string) => resolve(raw),
  },
  advisorClientCert: {
    env: 'BERTH_ADVISOR_CLIENT_CERT',
    flag: '--cert <file>',
    description:
      'PEM client certificate presented to an advisor started with --tls-client-ca (mutual TLS); needs --key',
    defaultValue: undefined as string | undefined,
    defaultLabel: 'none',
    parse: (raw: string) => resolve(raw),
  },
  advisorClientKey: {
    env: 'BERTH_ADVISOR_CLIENT_KEY',
    flag: '--key <file>',
    description: 'PEM private key of --cert',
    defaultValue: undefined as string | undefined,
    defaultLabel: 'none',
    parse: (raw: string) => resolve(raw),
  },
  hostId: {
    env: 'BERTH_HOST_ID',
    flag: '--host-id <id>',
    description:
      "this host's id in subjects and results (the one berth nats-config was given); kept in the data folder",
    defaultValue: undefined as string | undefined,
    defaultLabel: 'the one kept under --data-dir, else one made from the host name',
    parse: (raw: string) => assertSafeToken(raw.trim(), 'host id'),
  },
  libvirtUri: {
    env: 'BERTH_LIBVIRT_URI',
    flag: '--libvirt-uri <uri>',
    description: 'libvirt connection of the vm:libvirt platform (qemu, xen or test driver)',
    defaultValue: 'qemu:///system',
    parse: libvirtUri,
  },
  dockerEngine: {
    env: 'BERTH_DOCKER_ENGINE',
    flag: '--docker-engine <engine>',
    description:
      "Docker engine of the container:docker platform: system (the one DOCKER_HOST or /var/run/docker.sock reaches), own (one Berth starts, its data under --data-dir, stopped on exit) or auto (the system's when it answers, else Berth's own)",
    defaultValue: 'auto' as const,
    parse: oneOf(['auto', 'own', 'system'] as const),
  },
  libvirtDaemon: {
    env: 'BERTH_LIBVIRT_DAEMON',
    flag: '--libvirt-daemon <daemon>',
    description:
      "libvirt daemon of the vm:libvirt platform for qemu:///system: system (the host's), own (a libvirtd, and a virtlogd when none runs, that Berth starts as root, its socket under /run, stopped on exit) or auto (the host's when it answers, else Berth's own); other URIs are used as they are",
    defaultValue: 'auto' as const,
    parse: oneOf(['auto', 'own', 'system'] as const),
  },
  containersPerVm: {
    env: 'BERTH_CONTAINERS_PER_VM',
    flag: '--containers-per-vm <k>',
    description: 'containers the container-in-vm platform starts side by side in one VM',
    defaultValue: 1,
    parse: integer(1, 8),
  },
  agent: {
    env: 'BERTH_AGENT',
    flag: '--no-agent',
    description: 'berth up without its local agent (the variable takes on or off)',
    defaultValue: true,
    defaultLabel: 'on',
    parse: onOff,
  },
  agentSuite: {
    env: 'BERTH_AGENT_SUITE',
    flag: '--agent-suite <suite>',
    description: 'suite the local agent of berth up runs when it starts: quick, full or none',
    defaultValue: 'quick' as const,
    parse: oneOf(['quick', 'full', 'none'] as const),
  },
  agentPlatforms: {
    env: 'BERTH_AGENT_PLATFORMS',
    flag: '--agent-platforms <list>',
    description:
      'platforms (vm) or platform:runtime (vm:libvirt) of that first suite, comma-separated',
    defaultValue: [] as readonly string[],
    defaultLabel: 'every platform the agent finds usable',
    parse: nameList,
  },
  agentWorkloads: {
    env: 'BERTH_AGENT_WORKLOADS',
    flag: '--agent-workloads <list>',
    description: 'workloads of that first suite, comma-separated',
    defaultValue: [] as readonly string[],
    defaultLabel: 'every workload of the suite',
    parse: nameList,
  },
  jobPlatforms: {
    env: 'BERTH_JOB_PLATFORMS',
    flag: '--job-platforms <list>',
    description:
      'platforms (vm) or platform:runtime (vm:libvirt) berth agent start runs jobs on, comma-separated; a job naming another is refused',
    defaultValue: [] as readonly string[],
    defaultLabel: 'every platform the agent finds usable',
    parse: nameList,
  },
  rounds: {
    env: 'BERTH_ROUNDS',
    flag: '--rounds <n>',
    description:
      'rounds of interleaved trials, each platform or arm once per round in a shuffled order; berth agent run adds rounds while a comparison is unclear, or a difference may still be within the margin',
    defaultValue: undefined as number | undefined,
    defaultLabel: "the suite's (quick 3, full 8); 5 for berth agent calibrate",
    parse: integer(1, 100),
  },
  equivalenceMargin: {
    env: 'BERTH_EQUIVALENCE_MARGIN',
    flag: '--margin <share>',
    description:
      'equivalence margin: how far (relative) a ratio may be from another and still count as the same, e.g. 0.03 for 3%',
    defaultValue: 0.03,
    parse: decimal(0.005, 0.5),
  },
  loadWorkload: {
    env: 'BERTH_LOAD_WORKLOAD',
    flag: '--load-workload <name>',
    description:
      'the workload density at load runs in every instance at once and noisy neighbours slow down (off: measure neither)',
    defaultValue: 'cpu-sha256',
    parse: loadWorkload,
  },
  sloShare: {
    env: 'BERTH_SLO_SHARE',
    flag: '--slo-share <share>',
    description:
      "density at load's SLO: the share of one instance's throughput per core given that the worst of N instances must keep",
    defaultValue: 0.9,
    parse: decimal(0.05, 1),
  },
  loadMemoryBudget: {
    env: 'BERTH_LOAD_MEMORY_BUDGET',
    flag: '--load-memory-budget <MiB>',
    description: 'memory the instances of one step of density at load may take together, MiB',
    defaultValue: undefined as number | undefined,
    defaultLabel: "the suite's: quick 1024, full three quarters of the host's memory",
    parse: integer(16, 16_777_216),
  },
  loadTimeBudget: {
    env: 'BERTH_LOAD_TIME_BUDGET',
    flag: '--load-time-budget <s>',
    description: 'time density at load may take on one platform, seconds',
    defaultValue: undefined as number | undefined,
    defaultLabel: "the suite's: quick 60, full 600",
    parse: integer(1, 86_400),
  },
  loadCap: {
    env: 'BERTH_LOAD_CAP',
    flag: '--load-cap <n>',
    description: 'most instances at once in density at load (steps 1, 2, 4, … up to it)',
    defaultValue: undefined as number | undefined,
    defaultLabel: "the suite's: quick 8, full 256",
    parse: integer(1, 4_096),
  },
  antagonists: {
    env: 'BERTH_ANTAGONISTS',
    flag: '--antagonists <list>',
    description: `antagonists noisy neighbours measures a victim beside, comma-separated (none: none): ${ANTAGONIST_NAMES.join(', ')}`,
    defaultValue: ANTAGONIST_NAMES,
    defaultLabel: 'all of them',
    parse: antagonistList,
  },
  maxSteal: {
    env: 'BERTH_MAX_STEAL',
    flag: '--max-steal <share>',
    description:
      'a round whose CPU time stolen by the hypervisor passes this share is disturbed and run again (at most twice a run)',
    defaultValue: 0.05,
    parse: decimal(0, 1),
  },
  maxForeignLoad: {
    env: 'BERTH_MAX_FOREIGN_LOAD',
    flag: '--max-foreign-load <cores>',
    description:
      'a round during which processes other than the agent and its platforms kept more than this many cores busy is disturbed and run again (at most twice a run)',
    defaultValue: 0.5,
    parse: decimal(0, 4096),
  },
  logLevel: {
    env: 'BERTH_LOG_LEVEL',
    flag: '--log-level <level>',
    description: 'log level',
    defaultValue: 'info' as const,
    parse: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const),
  },
} satisfies Record<string, Setting<unknown>>;

export type SettingName = keyof typeof SETTINGS;
export type Config<K extends SettingName> = {
  readonly [P in K]:
    ReturnType<(typeof SETTINGS)[P]['parse']> | (typeof SETTINGS)[P]['defaultValue'];
};

/** The camelCase key commander gives the value of a flag (`--no-agent` sets `agent`). */
export function optionKey(name: SettingName): string {
  const long = SETTINGS[name].flag.split(' ')[0] ?? '';
  return long
    .replace(/^--(no-)?/, '')
    .replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
}

/** How a setting is named in messages: both ways to give it. */
export function settingLabel(name: SettingName): string {
  const setting = SETTINGS[name];
  return `${setting.flag.split(' ')[0] ?? ''} / ${setting.env}`;
}

/**
 * Reads the named settings from command-line values, then the environment (an empty variable
 * counts as unset), then defaults. Path settings come out absolute, so a process that changes
 * its working folder (or hands a path to a child that runs elsewhere) means the same files.
 * Every problem is listed at once, each naming its setting.
 */
export function loadConfig<K extends SettingName>(
  names: readonly K[],
  flags: Readonly<Record<string, unknown>>,
  env: NodeJS.ProcessEnv = process.env,
): Config<K> {
  const problems: string[] = [];
  const config: Record<string, unknown> = {};
  for (const name of names) {
    const setting: Setting<unknown> = SETTINGS[name];
    const fromFlag = flags[optionKey(name)];
    const fromEnv = env[setting.env];
    // Commander gives a `--no-x` flag's key false when the flag is given and true when it is
    // not: only false is the user's choice.
    const raw =
      typeof fromFlag === 'string'
        ? fromFlag
        : fromFlag === false
          ? 'off'
          : fromEnv === ''
            ? undefined
            : fromEnv;
    if (raw === undefined) {
      // A default written as text reads as if it were given, so a relative path default is
      // resolved here, once, against the folder the command started in.
      config[name] =
        typeof setting.defaultValue === 'string'
          ? setting.parse(setting.defaultValue)
          : setting.defaultValue;
      continue;
    }
    try {
      config[name] = setting.parse(raw);
    } catch (error) {
      problems.push(
        `${settingLabel(name)} ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }
  if (problems.length > 0) {
    throw new BerthError(
      'BERTH_ERR_CONFIG',
      `bad configuration:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`,
    );
  }
  return config as Config<K>;
}
