import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describeError, isBerthError, type RunnerLine } from '../../../contracts/index.ts';
import { findProcess, pssBytes } from '../process-memory.ts';
import { buildGuestImage, type GuestImage, type ImageStep } from '../vm/guest-image.ts';
import {
  domainKindFor,
  domainXml,
  libvirtDriverOf,
  type DomainKind,
} from '../vm/libvirt-domain.ts';
import type { Availability, Instance, InstanceOptions, PlatformDriver } from './driver.ts';
import { fileLines, runnerLines } from './runner-lines.ts';
import { openVirshSession, sharedVirshSession, shownUri, type VirshSession } from './virsh.ts';
import { BOOT_TIMEOUT_MS, guestClockArgs, guestCommand, qemuArgs } from './vm-qemu.ts';

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
}

export const TEST_DRIVER_REASON =
  "libvirt's test driver simulates domains and runs no guest, so it yields no measurements";

/** How often the serial console file is read. */
const CONSOLE_POLL_MS = 20;

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
 * through one virsh session while instances live (libvirt's test driver keeps its domains
 * per connection).
 */
export function createLibvirtDriver(options: LibvirtDriverOptions): PlatformDriver {
  const { uri } = options;
  const memoryMiB = options.memoryMiB ?? 256;
  const vcpus = options.vcpus ?? 1;
  const bootTimeoutMs = options.bootTimeoutMs ?? BOOT_TIMEOUT_MS;
  const statePollMs = options.statePollMs ?? 1_000;
  const clockArgs = guestClockArgs(
    existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '',
  );
  const shared = sharedVirshSession(uri, options.session);

  let connection: Promise<Connection> | undefined;
  const connect = (): Promise<Connection> => {
    connection ??= (async (): Promise<Connection> => {
      const session = await shared.acquire();
      try {
        const version = libvirtVersion(await session.run(['version']));
        return { version, kind: domainKindFor(uri, await session.run(['capabilities'])) };
      } finally {
        await shared.release();
      }
    })();
    connection.catch(() => (connection = undefined));
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

  return {
    platform: 'vm',
    runtime: 'libvirt',
    availability: async (): Promise<Availability> => {
      let facts: Connection;
      try {
        facts = await connect();
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
      const { kind } = await connect();
      const guest = await guestImage();
      const name = instance.id;
      const bundleDir = join(options.bundlesDir, name);
      const scratchDir = join(bundleDir, 'scratch');
      const cmdFile = join(bundleDir, 'cmd.sh');
      const consoleLog = join(bundleDir, 'console.log');
      const xmlFile = join(bundleDir, 'domain.xml');
      if (/\s/.test(bundleDir)) {
        throw new Error(
          `the guest's kernel command line cannot name a path with spaces: ${bundleDir}`,
        );
      }
      // The kernel command line the QEMU driver gives the same guest image.
      const qemuArgv = qemuArgs(guest, 'tcg', memoryMiB, vcpus, cmdFile, scratchDir);
      const cmdline = qemuArgv[qemuArgv.indexOf('-append') + 1] ?? '';
      const xml = domainXml({
        name,
        type: kind.type,
        memoryMiB,
        vcpus,
        kernel: guest.kernel,
        initrd: guest.initrd,
        cmdline,
        scratchDir,
        consoleLog,
      });
      const runnerArgv = [
        process.execPath,
        options.runnerPath,
        '--scratch',
        scratchDir,
        ...instance.runnerArgs,
      ];
      try {
        await mkdir(scratchDir, { recursive: true });
        await writeFile(cmdFile, guestCommand('vm', runnerArgv, 1));
        await writeFile(xmlFile, xml);
      } catch (error) {
        await rm(bundleDir, { recursive: true, force: true });
        throw error;
      }

      const session = await shared.acquire();
      const launchedAt = performance.now();
      let defined = false;
      try {
        await session.run(['define', '--validate', xmlFile]);
        defined = true;
        await session.run(['start', name]);
      } catch (error) {
        // Only a domain this start defined is removed: a refused define may name another's.
        if (defined) await removeDomain(session, name).catch(() => undefined);
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

      let qemuPid: number | undefined;
      let stopping: Promise<void> | undefined;
      return {
        launchedAt,
        runners: 1,
        lines: lines(),
        settings: {
          libvirtUri: shownUri(uri),
          domainType: kind.type,
          accel: kind.accel,
          accelNote: kind.note,
          memoryMiB,
          vcpus,
          kernel: guest.kernelVersion,
          rootfs: 'host root over 9p, read-only',
          scratch: 'host disk over 9p',
          console: `serial port to a file, read every ${CONSOLE_POLL_MS} ms`,
          memoryMeasure: hypervisorIsLocal(uri)
            ? 'PSS of the QEMU process libvirt started'
            : `not measured: the ${kind.type} domain has no hypervisor process on this host to read`,
          guestClock: clockArgs,
        },
        peakMemoryBytes: async () => {
          if (!hypervisorIsLocal(uri)) return undefined;
          qemuPid ??= await qemuProcessOf(name);
          return pssBytes(qemuPid);
        },
        stop: () => {
          stopping ??= (async (): Promise<void> => {
            ended.abort();
            await watching;
            try {
              await removeDomain(session, name);
            } finally {
              await rm(bundleDir, { recursive: true, force: true });
              await shared.release();
            }
          })();
          return stopping;
        },
      };
    },
  };
}
