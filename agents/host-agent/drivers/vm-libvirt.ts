import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describeError, isBerthError, type RunnerLine } from '../../../contracts/index.ts';
import type { LibvirtDaemon, LibvirtEndpoint } from '../libvirt-daemon.ts';
import { findProcess, pssBytes } from '../process-memory.ts';
import { buildGuestImage, type GuestImage, type ImageStep } from '../vm/guest-image.ts';
import {
  domainKindFor,
  domainXml,
  hvmDomainTypes,
  isLocalUri,
  libvirtDriverOf,
  type DomainKind,
  type DomainType,
  type KvmProbe,
} from '../vm/libvirt-domain.ts';
import type { Availability, Instance, InstanceOptions, PlatformDriver } from './driver.ts';
import { fileLines, runnerLines } from './runner-lines.ts';
import {
  openVirshSession,
  sharedVirshSession,
  shownUri,
  type SharedVirshSession,
  type VirshSession,
} from './virsh.ts';
import {
  BOOT_TIMEOUT_MS,
  guestClockArgs,
  guestCommand,
  prepareQemuHost,
  qemuArgs,
} from './vm-qemu.ts';

export interface LibvirtDriverOptions {
  /** The libvirt connection: qemu:///system, xen:///system, test:///default, … */
  readonly uri: string;
  readonly runnerPath: string;
  readonly bundlesDir: string;
  readonly imagesDir: string;
  readonly memoryMiB?: number;
  readonly vcpus?: number;
  /** Longest wait for the runner's first line before the guest is taken as hung. */
  readonly bootTimeoutMs?: number;
  /** How often the domain's state is asked for, to end its lines when it stops. */
  readonly statePollMs?: number;
  readonly onImageStep?: ImageStep;
  /** A guest image already built; by default the one under imagesDir is built or found. */
  readonly image?: GuestImage;
  /** A session to run every virsh command in; by default the driver opens its own. */
  readonly session?: VirshSession;
  /**
   * The daemon behind uri when it may be one Berth starts (see libvirt-daemon.ts): the driver
   * connects to the URI it gives and lets it go in close(). By default uri is used as it is.
   */
  readonly daemon?: LibvirtDaemon;
}

export const TEST_DRIVER_REASON =
  "libvirt's test driver simulates domains and runs no guest, so it yields no measurements";

/** How often the serial console file is read (and by the drivers bench's domain by hand). */
export const CONSOLE_POLL_MS = 20;

interface Connection {
  /** libvirt's version and the hypervisor's, as `virsh version` reports them. */
  readonly version: string;
  readonly kind: DomainKind;
}

/** `9.0.0 (QEMU 7.2.0)` from `virsh version`. */
export function libvirtVersion(versionOutput: string): string {
  const library = /^Using library: libvirt (\S+)/m.exec(versionOutput)?.[1] ?? 'unknown';
  const hypervisor = /^Running hypervisor: (.+)$/m.exec(versionOutput)?.[1]?.trim();
  return hypervisor === undefined ? library : `${library} (${hypervisor})`;
}

/** The names of every domain the connection knows, running or not. */
async function domainNames(session: VirshSession): Promise<string[]> {
  return (await session.run(['list', '--all', '--name']))
    .split('\n')
    .map((name) => name.trim())
    .filter((name) => name !== '');
}

/**
 * Destroys (if running) and undefines a domain. Returns whether there was one: a domain that
 * does not exist is left be.
 */
export async function removeDomain(session: VirshSession, name: string): Promise<boolean> {
  if (!(await domainNames(session)).includes(name)) return false;
  try {
    await session.run(['destroy', name]);
  } catch (error) {
    // A domain that already shut off cannot be destroyed, and need not be.
    if ((await session.run(['domstate', name])).trim() !== 'shut off') throw error;
  }
  await session.run(['undefine', name]);
  return true;
}

/**
 * Removes the domains an agent killed with SIGKILL left defined (named by the bundle folders
 * it left). Returns the names it removed; a URI it cannot reach is reported, not thrown.
 */
export async function removeLeftoverDomains(
  uri: string,
  names: readonly string[],
): Promise<{ removed: string[]; problems: string[] }> {
  const removed: string[] = [];
  const problems: string[] = [];
  if (names.length === 0) return { removed, problems };
  let session: VirshSession;
  try {
    session = await openVirshSession(uri);
  } catch (error) {
    return { removed, problems: [describeError(error)] };
  }
  try {
    for (const name of names) {
      try {
        if (await removeDomain(session, name)) removed.push(name);
      } catch (error) {
        problems.push(describeError(error));
      }
    }
  } finally {
    await session.close();
  }
  return { removed, problems };
}

/** The files of one instance in its bundle folder, and what goes in them. */
export interface InstanceFiles {
  readonly scratchDir: string;
  readonly cmdFile: string;
  readonly consoleLog: string;
  readonly xmlFile: string;
  /** The shell script the guest's init runs: the runner, chrooted into the host's root. */
  readonly command: string;
  readonly xml: string;
}

/** What an instance's domain is made of. */
export interface InstanceSpec {
  readonly name: string;
  readonly type: DomainType;
  readonly guest: GuestImage;
  readonly bundleDir: string;
  readonly memoryMiB: number;
  readonly vcpus: number;
  readonly runnerPath: string;
  readonly runnerArgs: readonly string[];
}

/**
 * The domain of an instance and its guest command, as the driver writes them into its bundle
 * folder: the kernel command line the QEMU driver gives the same guest image, naming the
 * command file and the scratch folder beside it.
 */
export function instanceFiles(spec: InstanceSpec): InstanceFiles {
  const scratchDir = join(spec.bundleDir, 'scratch');
  const cmdFile = join(spec.bundleDir, 'cmd.sh');
  const consoleLog = join(spec.bundleDir, 'console.log');
  if (/\s/.test(spec.bundleDir)) {
    throw new Error(
      `the guest's kernel command line cannot name a path with spaces: ${spec.bundleDir}`,
    );
  }
  const qemuArgv = qemuArgs(spec.guest, 'tcg', spec.memoryMiB, spec.vcpus, cmdFile, scratchDir);
  const runnerArgv = [
    process.execPath,
    spec.runnerPath,
    '--scratch',
    scratchDir,
    ...spec.runnerArgs,
  ];
  return {
    scratchDir,
    cmdFile,
    consoleLog,
    xmlFile: join(spec.bundleDir, 'domain.xml'),
    command: guestCommand('vm', runnerArgv, 1),
    xml: domainXml({
      name: spec.name,
      type: spec.type,
      memoryMiB: spec.memoryMiB,
      vcpus: spec.vcpus,
      kernel: spec.guest.kernel,
      initrd: spec.guest.initrd,
      cmdline: qemuArgv[qemuArgv.indexOf('-append') + 1] ?? '',
      scratchDir,
      consoleLog,
    }),
  };
}

/** What the platform's settings say of the daemon an instance ran under. */
function daemonSetting(endpoint: LibvirtEndpoint): string {
  return endpoint.owned
    ? "a libvirtd Berth started (socket under /run/berth-libvirt-*, QEMU's user root in a qemu.conf of its own)"
    : 'the libvirt daemon the URI reaches';
}

/**
 * Removes the log a daemon of Berth's own wrote for a domain (its QEMU's stderr). Exported
 * for the drivers bench, whose domain by hand is removed the same way.
 */
export async function removeDomainLog(endpoint: LibvirtEndpoint, name: string): Promise<void> {
  if (endpoint.domainLogDir !== undefined) {
    await rm(join(endpoint.domainLogDir, `${name}.log`), { force: true });
  }
}

/** The machine libvirt chose for a domain, from its XML (`<type machine='pc-i440fx-7.2'>`). */
function machineOf(xml: string): string | undefined {
  return /<type\b[^>]*\bmachine=['"]([^'"]+)['"]/.exec(xml)?.[1];
}

/** The pid of the QEMU process libvirt started for a domain (`-name guest=<name>,…`). */
function qemuProcessOf(name: string): Promise<number | undefined> {
  return findProcess((arg) => arg === `guest=${name}` || arg.startsWith(`guest=${name},`));
}

/** Whether the hypervisor's processes are on this host's /proc: a local qemu driver URI. */
function hypervisorIsLocal(uri: string): boolean {
  return libvirtDriverOf(uri) === 'qemu' && /^[a-z+]+:\/\/\//i.test(uri);
}

/**
 * The guest of the `vm` platform run by libvirt, through `virsh`: the same guest image and
 * kernel command line as the QEMU driver, booted directly from a domain the driver defines,
 * starts, destroys and undefines. The runner's lines are read from the serial console, which
 * libvirt writes to a file in the instance's bundle folder. Every command of the driver goes
 * through one virsh session per connection while instances live (libvirt's test driver keeps
 * its domains per connection). With a daemon (libvirt-daemon.ts), the connection is the one
 * it gives, asked for at each availability() and start(), and close() lets it go.
 */
export function createLibvirtDriver(options: LibvirtDriverOptions): PlatformDriver {
  const { uri, daemon } = options;
  const memoryMiB = options.memoryMiB ?? 256;
  const vcpus = options.vcpus ?? 1;
  const bootTimeoutMs = options.bootTimeoutMs ?? BOOT_TIMEOUT_MS;
  const statePollMs = options.statePollMs ?? 1_000;
  const clockArgs = guestClockArgs(
    existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '',
  );
  const endpoint = (): Promise<LibvirtEndpoint> =>
    daemon === undefined ? Promise.resolve({ uri, owned: false }) : daemon.endpoint();

  const sessions = new Map<string, SharedVirshSession>();
  const sharedFor = (at: string): SharedVirshSession => {
    let shared = sessions.get(at);
    if (shared === undefined) {
      shared = sharedVirshSession(at, options.session);
      sessions.set(at, shared);
    }
    return shared;
  };
  /**
   * Whether KVM guests run, for a local qemu URI whose capabilities offer kvm: the same test
   * boot the vm platform makes, since capabilities offer kvm wherever /dev/kvm exists.
   */
  const kvmProbe = async (at: string, capabilities: string): Promise<KvmProbe | undefined> => {
    if (libvirtDriverOf(at) !== 'qemu' || !isLocalUri(at)) return undefined;
    if (!hvmDomainTypes(capabilities).has('kvm')) return undefined;
    const host = await prepareQemuHost(options.imagesDir, options.bundlesDir, options.onImageStep);
    return { works: host.accel === 'kvm', note: host.accelNote };
  };
  const connections = new Map<string, Promise<Connection>>();
  const connect = (at: string): Promise<Connection> => {
    let connection = connections.get(at);
    if (connection === undefined) {
      const shared = sharedFor(at);
      connection = (async (): Promise<Connection> => {
        const session = await shared.acquire();
        let version: string;
        let capabilities: string;
        try {
          version = libvirtVersion(await session.run(['version']));
          capabilities = await session.run(['capabilities']);
        } finally {
          await shared.release();
        }
        return { version, kind: domainKindFor(at, capabilities, await kvmProbe(at, capabilities)) };
      })();
      connections.set(at, connection);
      connection.catch(() => connections.delete(at));
    }
    return connection;
  };
  let image: Promise<GuestImage> | undefined;
  const guestImage = (): Promise<GuestImage> => {
    image ??=
      options.image === undefined
        ? buildGuestImage(options.imagesDir, options.onImageStep)
        : Promise.resolve(options.image);
    image.catch(() => (image = undefined));
    return image;
  };
  /** The stop() of every instance still running, for close(). */
  const running = new Set<() => Promise<void>>();

  return {
    platform: 'vm',
    runtime: 'libvirt',
    availability: async (): Promise<Availability> => {
      let facts: Connection;
      try {
        facts = await connect((await endpoint()).uri);
      } catch (error) {
        if (isBerthError(error, 'BERTH_ERR_MISSING_PROGRAM')) {
          return { available: false, reason: error.message };
        }
        return {
          available: false,
          reason: `libvirt at ${shownUri(uri)} cannot be used: ${describeError(error).replaceAll('\n', '; ')}`,
        };
      }
      if (facts.kind.type === 'test') {
        return { available: false, version: facts.version, reason: TEST_DRIVER_REASON };
      }
      try {
        await guestImage();
      } catch (error) {
        return {
          available: false,
          version: facts.version,
          reason: `the guest image cannot be built: ${describeError(error)}`,
        };
      }
      return {
        available: true,
        version: facts.version,
        accel: facts.kind.accel,
        ...(facts.kind.accel === 'tcg'
          ? { reason: `TCG emulation, not virtualisation: ${facts.kind.note}` }
          : {}),
      };
    },
    start: async (instance: InstanceOptions): Promise<Instance> => {
      const at = await endpoint();
      const { kind } = await connect(at.uri);
      const shared = sharedFor(at.uri);
      const guest = await guestImage();
      const name = instance.id;
      const bundleDir = join(options.bundlesDir, name);
      const files = instanceFiles({
        name,
        type: kind.type,
        guest,
        bundleDir,
        memoryMiB,
        vcpus,
        runnerPath: options.runnerPath,
        runnerArgs: instance.runnerArgs,
      });
      const { consoleLog } = files;
      try {
        await mkdir(files.scratchDir, { recursive: true });
        await writeFile(files.cmdFile, files.command);
        await writeFile(files.xmlFile, files.xml);
      } catch (error) {
        await rm(bundleDir, { recursive: true, force: true });
        throw error;
      }

      const session = await shared.acquire();
      const launchedAt = performance.now();
      let defined = false;
      try {
        await session.run(['define', '--validate', files.xmlFile]);
        defined = true;
        await session.run(['start', name]);
      } catch (error) {
        // Only a domain this start defined is removed: a refused define may name another's.
        if (defined) {
          await removeDomain(session, name).catch(() => undefined);
          await removeDomainLog(at, name);
        }
        await rm(bundleDir, { recursive: true, force: true });
        await shared.release();
        throw error;
      }

      // Ended when the instance stops, the domain stops running, or the guest stays silent.
      const ended = new AbortController();
      const watching = (async (): Promise<void> => {
        for (;;) {
          await sleep(statePollMs, undefined, { signal: ended.signal }).catch(() => undefined);
          if (ended.signal.aborted) return;
          const state = await session.run(['domstate', name]).catch(() => 'unknown');
          if (state.trim() !== 'running') ended.abort();
        }
      })();
      async function* lines(): AsyncGenerator<{ line: RunnerLine; at: number }> {
        let silent = true;
        const boot = { expired: false };
        const bootTimer = setTimeout(() => {
          boot.expired = true;
          ended.abort();
        }, bootTimeoutMs);
        try {
          const texts = fileLines(consoleLog, ended.signal, CONSOLE_POLL_MS);
          for await (const item of runnerLines(texts)) {
            if (silent) clearTimeout(bootTimer);
            silent = false;
            yield item;
          }
        } finally {
          clearTimeout(bootTimer);
        }
        if (silent) {
          throw new Error(
            boot.expired
              ? `the guest printed nothing in ${bootTimeoutMs} ms (domain ${name})`
              : `domain ${name} stopped before the runner printed anything`,
          );
        }
      }
      // The machine libvirt picked, as the running domain's XML names it.
      const machine = machineOf(await session.run(['dumpxml', name]).catch(() => ''));

      let qemuPid: number | undefined;
      let stopping: Promise<void> | undefined;
      const stop = (): Promise<void> => {
        stopping ??= (async (): Promise<void> => {
          ended.abort();
          await watching;
          try {
            await removeDomain(session, name);
            await removeDomainLog(at, name);
          } finally {
            running.delete(stop);
            await rm(bundleDir, { recursive: true, force: true });
            await shared.release();
          }
        })();
        return stopping;
      };
      running.add(stop);
      return {
        launchedAt,
        runners: 1,
        lines: lines(),
        settings: {
          libvirtUri: shownUri(at.uri),
          libvirtDaemon: daemonSetting(at),
          domainType: kind.type,
          accel: kind.accel,
          accelNote: kind.note,
          ...(machine === undefined ? {} : { machine }),
          ...(kind.type === 'qemu' || kind.type === 'kvm'
            ? { qemuUser: 'root, nothing relabelled (static DAC label)' }
            : {}),
          memoryMiB,
          vcpus,
          kernel: guest.kernelVersion,
          rootfs: 'host root over 9p, read-only',
          scratch: 'host disk over 9p',
          console: `serial port to a file, read every ${CONSOLE_POLL_MS} ms`,
          memoryMeasure: hypervisorIsLocal(at.uri)
            ? 'PSS of the QEMU process libvirt started'
            : `not measured: the ${kind.type} domain has no hypervisor process on this host to read`,
          guestClock: clockArgs,
        },
        peakMemoryBytes: async () => {
          if (!hypervisorIsLocal(at.uri)) return undefined;
          qemuPid ??= await qemuProcessOf(name);
          return pssBytes(qemuPid);
        },
        stop,
      };
    },
    close: async () => {
      // libvirtd leaves its domains running when it stops: they go first.
      await Promise.allSettled([...running].map((stop) => stop()));
      await daemon?.close();
    },
  };
}
