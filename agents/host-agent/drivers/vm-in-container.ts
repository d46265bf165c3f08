import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { Accel, RunnerLine } from '../../../contracts/index.ts';
import { cgroupVersion } from '../cgroups.ts';
import { pssBytes } from '../process-memory.ts';
import {
  endRunner,
  killGroup,
  RUNNER_ENV,
  spawnRunner,
  type RunnerProcess,
} from './child-instance.ts';
import { removeContainer, writeRootfs } from './container-oci.ts';
import type { Availability, Instance, InstanceOptions, PlatformDriver } from './driver.ts';
import {
  BOOT_TIMEOUT_MS,
  createQemuDriver,
  guestClockArgs,
  guestCommand,
  prepareQemuHost,
  QEMU,
  qemuArgs,
  type QemuDriverOptions,
  type QemuHost,
} from './vm-qemu.ts';

const execProgram = promisify(execFile);

/** The OCI runtime the container around the guest is run with. */
const RUNC = 'runc';

/** The character device KVM is reached through (misc major 10, minor 232). */
const KVM_DEVICE = { path: '/dev/kvm', type: 'c', major: 10, minor: 232 } as const;

/** A mount of an OCI spec. */
export interface OciMount {
  readonly destination: string;
  readonly type: string;
  readonly source: string;
  readonly options?: readonly string[];
}

/** A device node an OCI runtime makes in the container's /dev. */
interface OciDevice {
  readonly path: string;
  readonly type: string;
  readonly major: number;
  readonly minor: number;
  readonly fileMode: number;
  readonly uid: number;
  readonly gid: number;
}

/** A rule of the devices cgroup. */
interface OciDeviceRule {
  readonly allow: boolean;
  readonly type?: string;
  readonly major?: number;
  readonly minor?: number;
  readonly access: string;
}

/** The parts of an OCI spec (runc's default, `runc spec`) the driver changes; the rest is kept. */
export interface OciSpec {
  process: { terminal: boolean; args: string[]; env: string[] };
  hostname: string;
  mounts: OciMount[];
  linux: {
    cgroupsPath?: string;
    devices?: OciDevice[];
    resources?: { devices?: OciDeviceRule[] };
  };
}

/** What the container around a guest binds from the host, each at the same path inside. */
export interface GuestContainerPaths {
  /** The runner's folder: the guest's node runs the runner from the 9p share of the container's root. */
  readonly runnerDir: string;
  /** The folders of the guest image's kernel and initramfs, which QEMU loads. */
  readonly imageDirs: readonly string[];
  /** The guest's folder: its command file (berth.cmd), which the guest reads over the share. */
  readonly guestDir: string;
  /** The guest's scratch folder, inside guestDir: QEMU shares it read-write with the guest. */
  readonly scratchDir: string;
}

const readOnlyBind = (path: string): OciMount => ({
  destination: path,
  type: 'bind',
  source: path,
  options: ['rbind', 'ro'],
});

/**
 * The mounts the container adds to runc's defaults. QEMU shares the container's root (`/`)
 * with the guest over virtio-9p, and the guest chroots into it: so the container holds what
 * the guest runs (the host's /usr and /etc, the runner's folder, read-only), what QEMU loads
 * (the guest image, read-only), the guest's command file (read-only) and its scratch folder
 * (read-write), each at its host path, and a tmpfs of its own at /tmp.
 */
export function guestContainerMounts(paths: GuestContainerPaths): OciMount[] {
  return [
    {
      destination: '/tmp',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'nodev', 'size=262144k'],
    },
    readOnlyBind('/usr'),
    readOnlyBind('/etc'),
    readOnlyBind(paths.runnerDir),
    ...paths.imageDirs.map(readOnlyBind),
    readOnlyBind(paths.guestDir),
    {
      destination: paths.scratchDir,
      type: 'bind',
      source: paths.scratchDir,
      options: ['rbind', 'rw'],
    },
  ];
}

/**
 * The spec of the container `id` whose process is QEMU (`qemuArgv`, its program first):
 * runc's default spec (`base`, not changed) with the guest's mounts (guestContainerMounts),
 * the runner's environment, no terminal (QEMU's serial console is the container's stdout),
 * a cgroup at berth/<id>, and /dev/kvm allowed when the guest runs under KVM.
 */
export function guestContainerSpec(
  base: OciSpec,
  id: string,
  qemuArgv: readonly string[],
  paths: GuestContainerPaths,
  accel: Accel,
): OciSpec {
  const spec = structuredClone(base);
  spec.process.terminal = false;
  spec.process.args = [...qemuArgv];
  spec.process.env = Object.entries(RUNNER_ENV).map(([name, value]) => `${name}=${value}`);
  spec.hostname = 'berth';
  spec.mounts.push(...guestContainerMounts(paths));
  spec.linux.cgroupsPath = `/berth/${id}`;
  if (accel === 'kvm') {
    spec.linux.devices = [
      ...(spec.linux.devices ?? []),
      { ...KVM_DEVICE, fileMode: 0o666, uid: 0, gid: 0 },
    ];
    spec.linux.resources = {
      ...spec.linux.resources,
      devices: [
        ...(spec.linux.resources?.devices ?? []),
        {
          allow: true,
          type: KVM_DEVICE.type,
          major: KVM_DEVICE.major,
          minor: KVM_DEVICE.minor,
          access: 'rwm',
        },
      ],
    };
  }
  return spec;
}

let runcSpec: Promise<OciSpec> | undefined;

/** runc's default spec, asked for once (`runc spec` writes it into a bundle folder). */
function defaultSpec(bundleDir: string): Promise<OciSpec> {
  if (runcSpec === undefined) {
    const spec = (async () => {
      await execProgram(RUNC, ['spec', '--bundle', bundleDir]);
      return JSON.parse(await readFile(join(bundleDir, 'config.json'), 'utf8')) as OciSpec;
    })();
    runcSpec = spec;
    spec.catch(() => {
      if (runcSpec === spec) runcSpec = undefined;
    });
  }
  return runcSpec;
}

/**
 * Lines of the runner, with the container removed (QEMU with it) if the first one does not
 * come in time: QEMU runs in a session of its own, so ending `runc run` (which relays its
 * output) would end the lines but leave QEMU running.
 */
async function* watched(
  runner: RunnerProcess,
  id: string,
  timeoutMs: number,
): AsyncGenerator<{ line: RunnerLine; at: number }> {
  const watchdog: { removal?: Promise<void> } = {};
  const timer = setTimeout(() => {
    watchdog.removal = execProgram(RUNC, ['delete', '--force', id])
      .catch(() => undefined)
      .then(() => killGroup(runner));
  }, timeoutMs);
  let first = true;
  try {
    for await (const item of runner.lines) {
      if (first) clearTimeout(timer);
      first = false;
      yield item;
    }
  } finally {
    clearTimeout(timer);
    // The lines can end (QEMU killed) before `runc delete` has: it is waited for.
    await watchdog.removal;
  }
  if (first) {
    throw new Error(
      watchdog.removal !== undefined
        ? `the guest printed nothing in ${timeoutMs} ms: ${runner.stderr()}`
        : `the container ended before the guest printed a line: ${runner.stderr()}`,
    );
  }
}

/** The host pid of container id's init (QEMU), from `runc state`; undefined once it is gone. */
async function containerPid(id: string): Promise<number | undefined> {
  try {
    const { stdout } = await execProgram(RUNC, ['state', id]);
    const { pid, status } = JSON.parse(stdout) as { pid?: number; status?: string };
    return status === 'running' && typeof pid === 'number' && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** The guest an instance boots: its runner and the machine's size. */
interface GuestPlan {
  readonly runnerPath: string;
  readonly runnerArgs: readonly string[];
  readonly memoryMiB: number;
  readonly cpus: number;
}

/**
 * Writes the bundle of container id into bundleDir (emptied first): the guest's folder (its
 * command file, as the vm platform writes it, and its scratch folder), the rootfs of mount
 * points, and config.json (guestContainerSpec) running QEMU on the vm platform's command line.
 * Exported for the drivers bench, whose `runc run` by hand runs the same bundle.
 */
export async function writeBundle(
  bundleDir: string,
  id: string,
  host: QemuHost,
  plan: GuestPlan,
): Promise<void> {
  const guestDir = join(bundleDir, 'guest');
  const scratchDir = join(guestDir, 'scratch');
  const cmdFile = join(guestDir, 'cmd.sh');
  await rm(bundleDir, { recursive: true, force: true });
  await mkdir(scratchDir, { recursive: true });
  await writeFile(
    cmdFile,
    guestCommand(
      'vm',
      [process.execPath, plan.runnerPath, '--scratch', scratchDir, ...plan.runnerArgs],
      1,
    ),
  );
  const runnerDir = dirname(plan.runnerPath);
  await writeRootfs(join(bundleDir, 'rootfs'), runnerDir);
  const spec = guestContainerSpec(
    await defaultSpec(bundleDir),
    id,
    [QEMU, ...qemuArgs(host.image, host.accel, plan.memoryMiB, plan.cpus, cmdFile, scratchDir)],
    {
      runnerDir,
      imageDirs: [...new Set([dirname(host.image.kernel), dirname(host.image.initrd)])],
      guestDir,
      scratchDir,
    },
    host.accel,
  );
  await writeFile(join(bundleDir, 'config.json'), JSON.stringify(spec, null, 2));
}

/** What the VM-in-container driver takes: the QEMU driver's options, without its modes. */
export type VmInContainerDriverOptions = Omit<QemuDriverOptions, 'mode' | 'containersPerVm'>;

/**
 * A VM inside a container, as KubeVirt or a VM in a pod runs: the QEMU guest of the vm
 * platform (the same image, command line and runner), started by runc as the process of a
 * container whose read-only root holds only mount points and the host folders the guest and
 * QEMU need (guestContainerSpec), in a cgroup at berth/<id>. The runner's lines come on the
 * guest's serial console, QEMU's stdout, the container's stdout. Memory is the PSS of the
 * QEMU process, as on the vm platform, so the two compare.
 */
export function createVmInContainerDriver(options: VmInContainerDriverOptions): PlatformDriver {
  const memoryMiB = options.memoryMiB ?? 256;
  const cpus = options.cpus ?? 1;
  const bootTimeoutMs = options.bootTimeoutMs ?? BOOT_TIMEOUT_MS;
  const guestClock = guestClockArgs(
    existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '',
  );
  const vm = createQemuDriver({ ...options, mode: 'vm' });
  return {
    platform: 'vm-in-container',
    passesInput: true,
    runtime: 'runc-qemu-microvm',
    availability: async (): Promise<Availability> => {
      let runcVersion: string;
      try {
        const { stdout } = await execProgram(RUNC, ['--version']);
        runcVersion = /runc version (\S+)/.exec(stdout)?.[1] ?? 'unknown';
      } catch {
        return { available: false, reason: 'runc is not installed (apt-get install runc)' };
      }
      if (process.getuid?.() !== 0) {
        return {
          available: false,
          reason: 'runc needs root here (rootless containers are not set up)',
        };
      }
      const qemu = await vm.availability();
      return {
        ...qemu,
        version:
          qemu.version === undefined
            ? `runc ${runcVersion}`
            : `runc ${runcVersion}, QEMU ${qemu.version}`,
      };
    },
    start: async (instance: InstanceOptions): Promise<Instance> => {
      const host = await prepareQemuHost(
        options.imagesDir,
        options.bundlesDir,
        options.onImageStep,
      );
      const bundleDir = join(options.bundlesDir, instance.id);
      await writeBundle(bundleDir, instance.id, host, {
        runnerPath: options.runnerPath,
        runnerArgs: instance.runnerArgs,
        memoryMiB,
        cpus,
      }).catch(async (error: unknown) => {
        await rm(bundleDir, { recursive: true, force: true });
        throw error;
      });
      const runner = spawnRunner(RUNC, ['run', '--bundle', bundleDir, instance.id]);
      return {
        launchedAt: runner.launchedAt,
        runners: 1,
        lines: watched(runner, instance.id, bootTimeoutMs),
        go: () => {
          runner.go(1);
        },
        settings: {
          accel: host.accel,
          accelNote: host.accelNote,
          machine: 'microvm',
          memoryMiB,
          cpus,
          kernel: host.image.kernelVersion,
          guestClock,
          containerRuntime: RUNC,
          containerProcess: 'QEMU, the container init (runc run, no terminal)',
          isolation: 'runc container (mount, pid, net, ipc, uts namespaces) around the VM',
          cgroup: cgroupVersion(),
          cgroupPath: 'berth/<instance id>',
          containerRootfs:
            'read-only mount points; host /usr, /etc, the runner folder and the guest image bound read-only',
          network: 'own namespace, loopback only; the guest has no NIC',
          rootfs: "the container's root over virtio-9p, read-only",
          scratch: 'host disk, bound into the container, over virtio-9p',
          memoryMeasure: "PSS of the QEMU process (the container's init)",
        },
        peakMemoryBytes: async () => pssBytes(await containerPid(instance.id)),
        stop: async () => {
          await endRunner(runner, 0);
          await removeContainer(RUNC, instance.id, bundleDir);
        },
      };
    },
  };
}
