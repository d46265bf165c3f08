import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, constants, existsSync, openSync } from 'node:fs';
import { access, mkdir, readFile, readdir, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { removeLeftoverDomains } from './drivers/vm-libvirt.ts';
import { alive, stopProcess } from './daemon-process.ts';

const execProgram = promisify(execFile);

/**
 * Which libvirt daemon the vm:libvirt platform uses for qemu:///system (or qemu:///session):
 * `system` the host's, never starting one; `own` one Berth starts for itself (libvirtd and,
 * when none listens, virtlogd), with its socket under /run and its files in the data folder,
 * stopped when the process that started it ends; `auto` the host's when it answers, else
 * Berth's own. Other URIs (test:///default, xen:///system, remote ones, or one naming its
 * socket) are used as they are, whatever the mode.
 */
export type LibvirtDaemonMode = 'auto' | 'own' | 'system';

/** How long `virsh version` may take to hear from a daemon. */
const LIBVIRT_TIMEOUT_MS = 10_000;

/**
 * How long a libvirtd Berth starts may take to answer: its first start on a host probes what
 * QEMU can do (4–10 s on these hosts), later ones read that from libvirt's cache (≈ 0.6 s).
 */
const START_TIMEOUT_MS = 90_000;

/** How long a daemon Berth stops may take to exit before it is killed. */
const STOP_TIMEOUT_MS = 15_000;

/**
 * The run-time folder of libvirt's privileged daemons. virtlogd's socket is fixed in it
 * (/run/libvirt/virtlogd-sock: neither virtlogd.conf nor libvirtd.conf can move it), and so
 * is the QEMU driver's state (/run/libvirt/qemu).
 */
const LIBVIRT_RUN_DIR = '/run/libvirt';
const VIRTLOGD_SOCKET = join(LIBVIRT_RUN_DIR, 'virtlogd-sock');

/** Where the QEMU driver of a privileged daemon writes each domain's log (QEMU's own stderr). */
export const QEMU_DOMAIN_LOG_DIR = '/var/log/libvirt/qemu';

/**
 * libvirtd's drivers that start what the host marked autostart (domains, networks, storage
 * pools, mediated devices) the first time they start after boot, unless their run-time folder
 * holds an `autostarted` file. Berth's own daemon must not start the host's VMs or networks.
 */
const AUTOSTART_DRIVERS = ['qemu', 'network', 'storage', 'nodedev'];

/** The daemons of libvirt that use /run/libvirt, by process name. */
const LIBVIRT_DAEMONS = new Set([
  'libvirtd',
  'virtlogd',
  'virtlockd',
  'virtqemud',
  'virtnetworkd',
  'virtstoraged',
  'virtnodedevd',
  'virtproxyd',
]);

/** The libvirt connection a driver uses. */
export interface LibvirtEndpoint {
  /** The URI virsh connects with: the one configured, or one naming Berth's own socket. */
  readonly uri: string;
  /** Whether Berth started the daemon behind it (and stops it). */
  readonly owned: boolean;
  /**
   * Where the daemon writes each domain's log, `<name>.log`, for the driver to remove with the
   * domain; only for a daemon of Berth's own (the host's daemon keeps its logs as it likes).
   */
  readonly domainLogDir?: string;
}

/** The daemon a libvirt driver uses, found or started once, and let go by close(). */
export interface LibvirtDaemon {
  /** The connection to use; rejects with why there is none. */
  endpoint(): Promise<LibvirtEndpoint>;
  /** Stops the daemon when Berth started it and nothing else in this process still uses it. */
  close(): Promise<void>;
}

/** Whether a daemon of Berth's own can serve the URI: the local QEMU driver, no socket named. */
function ownDaemonServes(uri: string): boolean {
  return /^qemu:\/\/\/(system|session)$/.test(uri);
}

/**
 * Where a daemon of Berth's own keeps its files: configuration, pid files, logs and a record
 * of what it created on the host in the agent's folder; its sockets in a short folder under
 * /run (a unix socket's path may not be longer than 107 bytes, and the agent's folder can be
 * deep).
 */
export interface OwnLibvirtdLayout {
  readonly runDir: string;
  readonly socket: string;
  readonly libvirtdConfig: string;
  /** The qemu.conf its QEMU driver reads, bound over the host's in its mount namespace. */
  readonly qemuConfig: string;
  readonly virtlogdConfig: string;
  readonly libvirtdPidFile: string;
  readonly virtlogdPidFile: string;
  readonly libvirtdLog: string;
  readonly virtlogdLog: string;
  /** What starting the daemon created on the host (HostChanges), removed after it stops. */
  readonly changesFile: string;
}

/** The layout of the daemon of Berth's own whose files are in daemonDir. */
export function ownLibvirtdLayout(daemonDir: string): OwnLibvirtdLayout {
  const tag = createHash('sha256').update(daemonDir).digest('hex').slice(0, 12);
  const runDir = join('/run', `berth-libvirt-${tag}`);
  return {
    runDir,
    socket: join(runDir, 'libvirt-sock'),
    libvirtdConfig: join(daemonDir, 'libvirtd.conf'),
    qemuConfig: join(daemonDir, 'qemu.conf'),
    virtlogdConfig: join(daemonDir, 'virtlogd.conf'),
    libvirtdPidFile: join(daemonDir, 'libvirtd.pid'),
    virtlogdPidFile: join(daemonDir, 'virtlogd.pid'),
    libvirtdLog: join(daemonDir, 'libvirtd.log'),
    virtlogdLog: join(daemonDir, 'virtlogd.log'),
    changesFile: join(daemonDir, 'host-changes.json'),
  };
}

/** The URI of the daemon of Berth's own that serves uri: the same, naming its socket. */
export function ownLibvirtdUri(layout: OwnLibvirtdLayout, uri: string): string {
  return `${uri}?socket=${layout.socket}`;
}

/**
 * libvirtd.conf of a daemon of Berth's own: its sockets in its run folder (libvirt-sock,
 * libvirt-sock-ro, libvirt-admin-sock), no TCP or TLS listener (it is started without
 * --listen), errors to its standard error, which goes to its log file.
 */
function ownLibvirtdConfig(layout: OwnLibvirtdLayout): string {
  return [`unix_sock_dir = "${layout.runDir}"`, 'log_outputs = "3:stderr"', ''].join('\n');
}

/** Where a privileged libvirtd's QEMU driver reads its settings. */
const HOST_QEMU_CONFIG = '/etc/libvirt/qemu.conf';

/**
 * qemu.conf of a daemon of Berth's own: QEMU's user is root. Its guests run as root already
 * (each domain's static DAC label), and libvirt checks /dev/kvm as this user: as the host's
 * default (libvirt-qemu) where /dev/kvm lets only root in, libvirt finds the capabilities it
 * probed (with KVM) stale at every use and probes QEMU again, about 45 s per domain defined.
 */
const OWN_QEMU_CONFIG = 'user = "root"\ngroup = "root"\n';

/**
 * The command that starts libvirtd in a mount namespace of its own (mounts of the host reach
 * it, its own do not leave it), where its qemu.conf is bound over the host's when the host
 * has one.
 */
function ownLibvirtdCommand(libvirtd: string, layout: OwnLibvirtdLayout): string[] {
  const script = `[ ! -e ${HOST_QEMU_CONFIG} ] || mount --bind "$0" ${HOST_QEMU_CONFIG} || exit 1; exec "$@"`;
  return [
    '--mount',
    '--propagation',
    'slave',
    '--',
    '/bin/sh',
    '-c',
    script,
    layout.qemuConfig,
    libvirtd,
    '-f',
    layout.libvirtdConfig,
    '-p',
    layout.libvirtdPidFile,
  ];
}

/** The path of an executable program found on PATH, if any. */
async function onPath(program: string): Promise<string | undefined> {
  for (const dir of (process.env['PATH'] ?? '').split(':')) {
    if (dir === '') continue;
    const path = join(dir, program);
    if (
      await access(path, constants.X_OK).then(
        () => true,
        () => false,
      )
    )
      return path;
  }
  return undefined;
}

/** Resolves when a daemon at uri answers `virsh version`; rejects as virsh failed. */
async function answers(uri: string, timeoutMs = LIBVIRT_TIMEOUT_MS): Promise<void> {
  await execProgram('virsh', ['-c', uri, 'version'], {
    timeout: timeoutMs,
    env: { ...process.env, LC_ALL: 'C', LANG: 'C' },
  });
}

/** Whether something accepts connections on the unix socket at path. */
function listening(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ path });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      resolve(false);
    });
  });
}

/** The pid in pidFile when that process runs with configFile on its command line, else 0. */
async function runningDaemon(pidFile: string, configFile: string): Promise<number> {
  const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
  if (!Number.isInteger(pid) || !alive(pid)) return 0;
  const command = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return command.split('\0').includes(configFile) ? pid : 0;
}

/** Whether any libvirt daemon runs on this host (by process name). */
async function anyLibvirtDaemon(): Promise<boolean> {
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const name = (await readFile(`/proc/${entry}/comm`, 'utf8').catch(() => '')).trim();
    if (LIBVIRT_DAEMONS.has(name) && alive(Number(entry))) return true;
  }
  return false;
}

/**
 * What a daemon of Berth's own created outside its folders, noted before it starts so that
 * stopping it leaves the host as it was: /run/libvirt when there was none, the autostart
 * markers Berth wrote, and the `machine` cgroups libvirt makes for its domains where no
 * systemd does.
 */
interface HostChanges {
  readonly runDir: boolean;
  readonly markers: string[];
  readonly cgroups: string[];
}

/** The `machine` cgroup folders libvirt would make on this host that do not exist yet. */
async function absentMachineCgroups(): Promise<string[]> {
  const root = '/sys/fs/cgroup';
  const controllers = await readdir(root).catch(() => [] as string[]);
  return [root, ...controllers.map((name) => join(root, name))]
    .map((dir) => join(dir, 'machine'))
    .filter((dir) => !existsSync(dir));
}

/** Writes the autostart markers that are missing, and notes what it created. */
async function prepareHost(changesFile: string): Promise<void> {
  const runDir = !existsSync(LIBVIRT_RUN_DIR);
  const markers: string[] = [];
  for (const driver of AUTOSTART_DRIVERS) {
    const marker = join(LIBVIRT_RUN_DIR, driver, 'autostarted');
    if (existsSync(marker)) continue;
    await mkdir(join(LIBVIRT_RUN_DIR, driver), { recursive: true });
    await writeFile(marker, '', { mode: 0o600 });
    markers.push(marker);
  }
  const changes: HostChanges = { runDir, markers, cgroups: await absentMachineCgroups() };
  await writeFile(changesFile, JSON.stringify(changes));
}

/**
 * Undoes what prepareHost noted, once no libvirt daemon runs any more (one started by someone
 * else since keeps what it uses).
 */
async function restoreHost(changesFile: string): Promise<void> {
  const text = await readFile(changesFile, 'utf8').catch(() => undefined);
  if (text === undefined) return;
  if (!(await anyLibvirtDaemon())) {
    const changes = JSON.parse(text) as HostChanges;
    if (changes.runDir) {
      await rm(LIBVIRT_RUN_DIR, { recursive: true, force: true });
    } else {
      await Promise.all(changes.markers.map((marker) => rm(marker, { force: true })));
    }
    // A cgroup folder goes only when it is empty, and rmdir refuses one that is not.
    await Promise.all(changes.cgroups.map((dir) => rmdir(dir).catch(() => undefined)));
  }
  await rm(changesFile, { force: true });
}

/** Last lines of a log, for an error message. */
async function logTail(path: string): Promise<string> {
  return (await readFile(path, 'utf8').catch(() => '')).trim().split('\n').slice(-3).join(' | ');
}

/** Starts a daemon in the background, its output to log; resolves with its pid once spawned. */
async function spawnDaemon(
  program: string,
  args: readonly string[],
  log: string,
  packageName: string,
): Promise<ChildProcess & { pid: number }> {
  const fd = openSync(log, 'a');
  let child: ChildProcess;
  try {
    child = spawn(program, args, {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: { ...process.env, LC_ALL: 'C', LANG: 'C' },
    });
  } finally {
    closeSync(fd);
  }
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        new Error(
          error.code === 'ENOENT'
            ? `${program} is not installed (apt-get install ${packageName})`
            : `${program} did not start: ${error.message}`,
        ),
      );
    });
  });
  child.unref();
  return child as ChildProcess & { pid: number };
}

const exited = (child: ChildProcess): boolean =>
  child.exitCode !== null || child.signalCode !== null;

/**
 * The host-wide lock a libvirtd of Berth's own is started under: libvirt's QEMU state
 * (/run/libvirt/qemu, the host's domain definitions) is one per host, so two Berth processes
 * on one host (an agent and `berth agent platforms`, or two agents with their own data
 * folders) take turns rather than run two daemons over it. A folder, made atomically, holding
 * the pid of the process that holds it; a holder that has gone leaves a lock the next taker
 * removes.
 */
const HOST_LOCK = '/run/berth-libvirtd.lock';

/**
 * How long a process waits for another to let go of the host lock: longer than a quick suite
 * keeps a libvirtd busy on these hosts.
 */
const LOCK_WAIT_MS = 300_000;

/** How long a lock whose holder has not yet written its pid is taken to be fresh. */
const LOCK_PID_GRACE_MS = 10_000;

/** Whether the host lock is held by a process still running (or one that just took it). */
async function hostLockHeld(): Promise<number | undefined> {
  const text = await readFile(join(HOST_LOCK, 'pid'), 'utf8').catch(() => undefined);
  if (text === undefined) {
    const made = await stat(HOST_LOCK).then(
      (info) => info.mtimeMs,
      () => 0,
    );
    return Date.now() - made < LOCK_PID_GRACE_MS ? 0 : undefined;
  }
  const holder = Number(text.trim());
  return alive(holder) ? holder : undefined;
}

/** Takes the host lock, waiting until the deadline while another process holds it. */
async function takeHostLock(deadline: number): Promise<void> {
  for (;;) {
    try {
      await mkdir(HOST_LOCK);
      await writeFile(join(HOST_LOCK, 'pid'), String(process.pid));
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = await hostLockHeld();
    if (holder === undefined) {
      await rm(HOST_LOCK, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `another Berth process (pid ${holder}) runs a libvirtd of its own, and libvirt's QEMU state is one per host: it was not let go within ${LOCK_WAIT_MS / 1000} s (--libvirt-daemon system uses a host libvirtd that both can share)`,
      );
    }
    await sleep(250);
  }
}

/** Lets go of the host lock, when this process holds it. */
async function releaseHostLock(): Promise<void> {
  const holder = await readFile(join(HOST_LOCK, 'pid'), 'utf8').catch(() => '');
  if (holder.trim() === String(process.pid)) await rm(HOST_LOCK, { recursive: true, force: true });
}

/** Stops the daemons of a layout (libvirtd first), removes its run folder and undoes its host changes. */
async function stopDaemons(
  layout: OwnLibvirtdLayout,
  libvirtd: number,
  virtlogd: number,
): Promise<void> {
  if (libvirtd > 0) await stopProcess(libvirtd, STOP_TIMEOUT_MS);
  if (virtlogd > 0) await stopProcess(virtlogd, STOP_TIMEOUT_MS);
  await rm(layout.runDir, { recursive: true, force: true });
  await Promise.all([
    rm(layout.libvirtdPidFile, { force: true }),
    rm(layout.virtlogdPidFile, { force: true }),
  ]);
  await restoreHost(layout.changesFile);
  await releaseHostLock();
}

/** What stopLeftoverOwnLibvirtd did. */
export interface LeftoverLibvirtd {
  /** Whether a daemon of Berth's own was running (and was stopped). */
  readonly stopped: boolean;
  /** The domains it removed from that daemon. */
  readonly removed: string[];
  readonly problems: string[];
}

/**
 * Stops a libvirtd of Berth's own (and its virtlogd) that an earlier process left running (one
 * killed before it could stop it), from their pid files, after removing the domains named
 * (the instance ids of the bundle folders it left) and their logs: the daemon shares the
 * host's domain definitions, so only Berth's are touched. Undoes its host changes even when
 * it is gone already.
 */
export async function stopLeftoverOwnLibvirtd(
  daemonDir: string,
  domains: readonly string[] = [],
): Promise<LeftoverLibvirtd> {
  const layout = ownLibvirtdLayout(daemonDir);
  const libvirtd = await runningDaemon(layout.libvirtdPidFile, layout.libvirtdConfig);
  const virtlogd = await runningDaemon(layout.virtlogdPidFile, layout.virtlogdConfig);
  let removed: string[] = [];
  let problems: string[] = [];
  if (libvirtd > 0 && domains.length > 0) {
    ({ removed, problems } = await removeLeftoverDomains(
      ownLibvirtdUri(layout, 'qemu:///system'),
      domains,
    ));
    await Promise.all(
      removed.map((name) => rm(join(QEMU_DOMAIN_LOG_DIR, `${name}.log`), { force: true })),
    );
  }
  if (libvirtd === 0 && virtlogd === 0 && !existsSync(layout.changesFile)) {
    return { stopped: false, removed, problems };
  }
  await stopDaemons(layout, libvirtd, virtlogd);
  // The killed agent held the host lock: it goes with its daemon.
  if ((await hostLockHeld()) === undefined) await rm(HOST_LOCK, { recursive: true, force: true });
  return { stopped: libvirtd > 0, removed, problems };
}

/** A started daemon of Berth's own. */
interface OwnDaemon {
  readonly uri: string;
  readonly libvirtd: number;
  /** Its virtlogd, 0 when one that was running already serves it. */
  readonly virtlogd: number;
  users: number;
}

/** Daemons of Berth's own this process started, by folder: every driver of a folder shares one. */
const ownDaemons = new Map<string, Promise<OwnDaemon>>();

async function startOwnDaemon(daemonDir: string, uri: string): Promise<OwnDaemon> {
  if (process.getuid?.() !== 0) {
    throw new Error(
      `a libvirtd of Berth's own serves ${uri} only when Berth runs as root (it is a privileged daemon)`,
    );
  }
  const layout = ownLibvirtdLayout(daemonDir);
  await takeHostLock(Date.now() + LOCK_WAIT_MS);
  let virtlogd = 0;
  let libvirtd = 0;
  /** Why a daemon did not come up, with the end of its log. */
  const failure = async (why: string, log: string): Promise<Error> =>
    new Error(`${why} (${log}: ${await logTail(log)})`);
  const deadline = Date.now() + START_TIMEOUT_MS;
  try {
    await stopLeftoverOwnLibvirtd(daemonDir);
    await mkdir(daemonDir, { recursive: true });
    await mkdir(layout.runDir, { recursive: true });
    await writeFile(layout.libvirtdConfig, ownLibvirtdConfig(layout));
    await writeFile(layout.qemuConfig, OWN_QEMU_CONFIG);
    await writeFile(layout.virtlogdConfig, 'log_outputs = "3:stderr"\n');
    await prepareHost(layout.changesFile);
    // libvirtd's QEMU driver hands consoles and logs to virtlogd, at its fixed socket.
    if (!(await listening(VIRTLOGD_SOCKET))) {
      const child = await spawnDaemon(
        'virtlogd',
        ['-f', layout.virtlogdConfig, '-p', layout.virtlogdPidFile],
        layout.virtlogdLog,
        'libvirt-daemon-system',
      );
      virtlogd = child.pid;
      while (!(await listening(VIRTLOGD_SOCKET))) {
        if (exited(child) || Date.now() > deadline) {
          throw await failure(
            exited(child)
              ? `the virtlogd Berth started exited (${child.exitCode ?? child.signalCode})`
              : `the virtlogd Berth started did not listen within ${START_TIMEOUT_MS / 1000} s`,
            layout.virtlogdLog,
          );
        }
        await sleep(50);
      }
    }
    const program = await onPath('libvirtd');
    if (program === undefined) {
      throw new Error('libvirtd is not installed (apt-get install libvirt-daemon-system)');
    }
    const child = await spawnDaemon(
      'unshare',
      ownLibvirtdCommand(program, layout),
      layout.libvirtdLog,
      'util-linux',
    );
    libvirtd = child.pid;
    const own = ownLibvirtdUri(layout, uri);
    for (;;) {
      const left = deadline - Date.now();
      const ready = await answers(own, Math.max(left, 1_000)).then(
        () => true,
        () => false,
      );
      if (ready) return { uri: own, libvirtd, virtlogd, users: 0 };
      if (exited(child) || Date.now() > deadline) {
        throw await failure(
          exited(child)
            ? `the libvirtd Berth started exited (${child.exitCode ?? child.signalCode})`
            : `the libvirtd Berth started did not answer within ${START_TIMEOUT_MS / 1000} s`,
          layout.libvirtdLog,
        );
      }
      await sleep(100);
    }
  } catch (error) {
    await stopDaemons(layout, libvirtd, virtlogd);
    throw error;
  }
}

/**
 * The daemon of the vm:libvirt platform at uri, by mode: the host's (checked on each call of
 * endpoint(), as daemons come and go), or, for qemu:///system and qemu:///session, one of
 * Berth's own with its files in daemonDir, started on the first endpoint() and stopped by
 * close(). Its QEMU driver shares the host's libvirt state (domain definitions,
 * /run/libvirt/qemu; not qemu.conf, which is its own), so it cannot run beside a host's
 * libvirtd: `auto` uses that one whenever it answers.
 */
export function libvirtDaemon(
  uri: string,
  mode: LibvirtDaemonMode,
  daemonDir: string,
): LibvirtDaemon {
  let holding = false;
  const own = async (): Promise<LibvirtEndpoint> => {
    let daemon = ownDaemons.get(daemonDir);
    // A daemon that has gone (it crashed, or was stopped as an earlier agent's) is started anew.
    if (daemon !== undefined && !alive((await daemon.catch(() => undefined))?.libvirtd ?? 0)) {
      ownDaemons.delete(daemonDir);
      daemon = undefined;
      holding = false;
    }
    if (daemon === undefined) {
      daemon = startOwnDaemon(daemonDir, uri);
      ownDaemons.set(daemonDir, daemon);
      daemon.catch(() => ownDaemons.delete(daemonDir));
    }
    const started = await daemon;
    if (!holding) {
      holding = true;
      started.users += 1;
    }
    return { uri: started.uri, owned: true, domainLogDir: QEMU_DOMAIN_LOG_DIR };
  };
  return {
    endpoint: async () => {
      if (mode === 'system' || !ownDaemonServes(uri)) return { uri, owned: false };
      // Once its own daemon serves it, a driver does not ask the host's again per instance.
      if (mode === 'auto' && !holding) {
        const host = await answers(uri).then(
          () => true,
          () => false,
        );
        if (host) return { uri, owned: false };
      }
      return own();
    },
    close: async () => {
      if (!holding) return;
      holding = false;
      const daemon = ownDaemons.get(daemonDir);
      if (daemon === undefined) return;
      const started = await daemon;
      started.users -= 1;
      if (started.users > 0) return;
      ownDaemons.delete(daemonDir);
      await stopDaemons(ownLibvirtdLayout(daemonDir), started.libvirtd, started.virtlogd);
    },
  };
}
