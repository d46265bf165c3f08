import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Accel, RunnerLine } from '../../../contracts/index.ts';
import { pssBytes } from '../process-memory.ts';
import { buildGuestImage, type GuestImage, type ImageStep } from '../vm/guest-image.ts';
import { endRunner, spawnRunner, type RunnerProcess } from './child-instance.ts';
import type { Availability, Instance, InstanceOptions, PlatformDriver } from './driver.ts';

const execProgram = promisify(execFile);
/** The program the QEMU driver boots its guests with. */
export const QEMU = 'qemu-system-x86_64';
/** How long the driver waits, by default, for a guest's first line before it is taken as hung. */
export const BOOT_TIMEOUT_MS = 60_000;

/** The platforms the QEMU driver provides: a VM, or containers inside a VM. */
export type QemuMode = 'vm' | 'container-in-vm';

export interface QemuDriverOptions {
  readonly mode: QemuMode;
  readonly runnerPath: string;
  readonly bundlesDir: string;
  readonly imagesDir: string;
  /** Guest memory; 256 MiB, plus 64 MiB for each container beyond the first. */
  readonly memoryMiB?: number;
  readonly cpus?: number;
  /** Containers the guest starts side by side in container-in-vm mode, each with a runner. */
  readonly containersPerVm?: number;
  /** Longest wait for the runner's first line before the guest is taken as hung. */
  readonly bootTimeoutMs?: number;
  readonly onImageStep?: ImageStep;
}

/** What the QEMU driver found out about this host, once per guest image. */
export interface QemuHost {
  readonly image: GuestImage;
  readonly version: string;
  readonly accel: Accel;
  /** Why KVM is not used, when it is not. */
  readonly accelNote: string;
}

/**
 * Kernel arguments that give the guest its clock rate instead of letting it calibrate: under
 * TCG on a busy host the calibration against a timer can stall the boot for good.
 */
export function guestClockArgs(cpuinfo: string): string {
  const mhz = Number(/^cpu MHz\s*:\s*([\d.]+)/m.exec(cpuinfo)?.[1] ?? '2000');
  const khz = Math.round((Number.isFinite(mhz) && mhz > 0 ? mhz : 2000) * 1000);
  return `tsc_early_khz=${khz} lpj=${Math.round((khz * 1000) / 250)}`;
}

const CLOCK_ARGS = guestClockArgs(
  existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '',
);

/**
 * QEMU's command line for a guest: the microvm machine booting the image with the command
 * file, the host's root shared read-only and the scratch folder read-write over virtio-9p.
 */
export function qemuArgs(
  image: GuestImage,
  accel: Accel,
  memoryMiB: number,
  cpus: number,
  cmdFile: string,
  scratchDir: string,
): string[] {
  return [
    '-M',
    'microvm,x-option-roms=off,rtc=on',
    '-accel',
    accel,
    '-cpu',
    accel === 'kvm' ? 'host' : 'max',
    '-m',
    String(memoryMiB),
    '-smp',
    String(cpus),
    '-nodefaults',
    '-no-user-config',
    '-nographic',
    '-no-reboot',
    '-serial',
    'stdio',
    '-kernel',
    image.kernel,
    '-initrd',
    image.initrd,
    '-append',
    `console=ttyS0 reboot=t panic=-1 ${CLOCK_ARGS} quiet berth.cmd=${cmdFile} berth.scratch=${scratchDir}`,
    '-fsdev',
    'local,id=host,path=/,security_model=none,readonly=on,multidevs=remap',
    '-device',
    'virtio-9p-device,fsdev=host,mount_tag=host',
    '-fsdev',
    `local,id=scratch,path=${scratchDir},security_model=none`,
    '-device',
    'virtio-9p-device,fsdev=scratch,mount_tag=scratch',
  ];
}

const quote = (arg: string): string => `'${arg.replaceAll("'", "'\\''")}'`;

/**
 * The shell script the guest's init runs. `vm`: the runner itself, chrooted into the host's
 * root. `container-in-vm`: K runners side by side, each in namespaces of its own (mount, pid,
 * net, uts, ipc) with loopback only; with K > 1 each names itself c1…cK in its lines. The
 * console stays their input, so a held runner lives until the guest is stopped.
 */
export function guestCommand(
  mode: QemuMode,
  runnerArgv: readonly string[],
  containers: number,
): string {
  if (mode === 'vm') return `exec chroot /host ${runnerArgv.map(quote).join(' ')}\n`;
  const lines: string[] = [];
  for (let k = 1; k <= containers; k += 1) {
    const argv = containers === 1 ? runnerArgv : [...runnerArgv, '--instance', `c${k}`];
    const inner = `ip link set lo up && exec chroot /host ${argv.map(quote).join(' ')}`;
    lines.push(`unshare -m -p -f -n -u -i sh -c ${quote(inner)} < /dev/console &`);
  }
  lines.push('wait');
  return `${lines.join('\n')}\n`;
}

/** Lines of the runner, with the guest killed if the first one does not come in time. */
async function* watched(
  runner: RunnerProcess,
  timeoutMs: number,
): AsyncGenerator<{ line: RunnerLine; at: number }> {
  const timer = setTimeout(() => {
    runner.child.kill('SIGKILL');
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
  }
  if (first) throw new Error(`the guest printed nothing in ${timeoutMs} ms: ${runner.stderr()}`);
}

const hosts = new Map<string, Promise<QemuHost>>();

/**
 * Builds the guest image under imagesDir and finds out, once per image, whether KVM works
 * here: a guest that boots under KVM (from a probe folder in bundlesDir) and prints a line
 * proves it; otherwise every VM runs under TCG emulation and says so.
 */
export function prepareQemuHost(
  imagesDir: string,
  bundlesDir: string,
  onImageStep?: ImageStep,
): Promise<QemuHost> {
  let prepared = hosts.get(imagesDir);
  if (prepared === undefined) {
    prepared = (async (): Promise<QemuHost> => {
      const { stdout } = await execProgram(QEMU, ['--version']);
      const version = /version (\S+)/.exec(stdout)?.[1] ?? 'unknown';
      const image = await buildGuestImage(imagesDir, onImageStep);
      if (!existsSync('/dev/kvm')) {
        return { image, version, accel: 'tcg', accelNote: 'no /dev/kvm' };
      }
      const probeDir = join(bundlesDir, `kvm-probe-${process.pid}`);
      await mkdir(join(probeDir, 'scratch'), { recursive: true });
      const cmdFile = join(probeDir, 'cmd.sh');
      await writeFile(cmdFile, `echo '{"schemaVersion":1,"type":"done"}'\n`);
      const probe = spawnRunner(
        QEMU,
        qemuArgs(image, 'kvm', 128, 1, cmdFile, join(probeDir, 'scratch')),
      );
      try {
        for await (const item of watched(probe, 15_000)) {
          if (item.line.type === 'done')
            return { image, version, accel: 'kvm', accelNote: 'a test guest booted under KVM' };
        }
        throw new Error('no line from the test guest');
      } catch (error) {
        const detail =
          (probe.stderr().trim().split('\n').pop() ?? '') ||
          (error instanceof Error ? error.message : '');
        return {
          image,
          version,
          accel: 'tcg',
          accelNote: `/dev/kvm present but a test guest failed: ${detail}`.slice(0, 300),
        };
      } finally {
        await endRunner(probe, 0);
        await rm(probeDir, { recursive: true, force: true });
      }
    })();
    hosts.set(imagesDir, prepared);
    prepared.catch(() => hosts.delete(imagesDir));
  }
  return prepared;
}

/** One guest to boot: the machine, the image, and the runner it starts. */
export interface GuestBoot {
  readonly mode: QemuMode;
  readonly image: GuestImage;
  readonly accel: Accel;
  readonly memoryMiB: number;
  readonly cpus: number;
  /** Runners the guest starts: containers side by side in container-in-vm mode, else 1. */
  readonly containers: number;
  readonly runnerPath: string;
  readonly runnerArgs: readonly string[];
  /** The instance's folder, for its command file and scratch folder; removed on stop. */
  readonly bundleDir: string;
}

/** A booted guest: QEMU, whose output carries the runners' lines. */
export interface BootedGuest {
  readonly runner: RunnerProcess;
  /** Ends QEMU at once (the guest keeps nothing) and removes the instance's folder. */
  stop(): Promise<void>;
}

/**
 * Writes the guest's command file (guestCommand) into the instance's folder, with a scratch
 * folder beside it, and starts QEMU on it (qemuArgs).
 */
export async function bootGuest(boot: GuestBoot): Promise<BootedGuest> {
  const scratchDir = join(boot.bundleDir, 'scratch');
  await mkdir(scratchDir, { recursive: true });
  const cmdFile = join(boot.bundleDir, 'cmd.sh');
  await writeFile(
    cmdFile,
    guestCommand(
      boot.mode,
      [process.execPath, boot.runnerPath, '--scratch', scratchDir, ...boot.runnerArgs],
      boot.containers,
    ),
  );
  const runner = spawnRunner(
    QEMU,
    qemuArgs(boot.image, boot.accel, boot.memoryMiB, boot.cpus, cmdFile, scratchDir),
    boot.containers,
  );
  return {
    runner,
    stop: async () => {
      await endRunner(runner, 0);
      await rm(boot.bundleDir, { recursive: true, force: true });
    },
  };
}

/**
 * QEMU's microvm machine with the distribution's kernel, the host's root shared read-only
 * over virtio-9p (so the guest runs the host's node and the same runner bytes) and a scratch
 * folder on the host's disk. `vm` runs the runner in the guest; `container-in-vm` runs it in
 * namespaces of its own (mount, pid, net, uts, ipc) inside the guest.
 */
export function createQemuDriver(options: QemuDriverOptions): PlatformDriver {
  const containers = options.mode === 'container-in-vm' ? (options.containersPerVm ?? 1) : 1;
  if (!Number.isInteger(containers) || containers < 1) {
    throw new Error(`containers per VM must be a whole number of at least 1, got ${containers}`);
  }
  const memoryMiB = options.memoryMiB ?? 256 + 64 * (containers - 1);
  const cpus = options.cpus ?? 1;
  const bootTimeoutMs = options.bootTimeoutMs ?? BOOT_TIMEOUT_MS;
  const prepareHost = (): Promise<QemuHost> =>
    prepareQemuHost(options.imagesDir, options.bundlesDir, options.onImageStep);
  return {
    platform: options.mode,
    passesInput: true,
    runtime: 'qemu-microvm',
    availability: async (): Promise<Availability> => {
      try {
        await execProgram(QEMU, ['--version']);
      } catch {
        return {
          available: false,
          reason: `${QEMU} is not installed (apt-get install qemu-system-x86)`,
        };
      }
      try {
        const host = await prepareHost();
        return {
          available: true,
          version: host.version,
          accel: host.accel,
          ...(host.accel === 'tcg'
            ? { reason: `TCG emulation, not virtualisation: ${host.accelNote}` }
            : {}),
        };
      } catch (error) {
        return {
          available: false,
          reason: `the guest image cannot be built: ${error instanceof Error ? error.message : String(error)}`,
        };
      }
    },
    start: async (instance: InstanceOptions): Promise<Instance> => {
      const host = await prepareHost();
      const guest = await bootGuest({
        mode: options.mode,
        image: host.image,
        accel: host.accel,
        memoryMiB,
        cpus,
        containers,
        runnerPath: options.runnerPath,
        runnerArgs: instance.runnerArgs,
        bundleDir: join(options.bundlesDir, instance.id),
      });
      return {
        launchedAt: guest.runner.launchedAt,
        runners: containers,
        lines: watched(guest.runner, bootTimeoutMs),
        go: () => {
          guest.runner.go(containers);
        },
        settings: {
          accel: host.accel,
          accelNote: host.accelNote,
          machine: 'microvm',
          memoryMiB,
          cpus,
          kernel: host.image.kernelVersion,
          rootfs: 'host root over virtio-9p, read-only',
          scratch: 'host disk over virtio-9p',
          memoryMeasure:
            containers === 1
              ? 'PSS of the QEMU process'
              : 'PSS of the QEMU process, divided among its containers',
          guestClock: CLOCK_ARGS,
          ...(options.mode === 'container-in-vm'
            ? { containersPerVm: containers, isolation: 'unshare mount,pid,net,uts,ipc + chroot' }
            : {}),
        },
        peakMemoryBytes: () => pssBytes(guest.runner.child.pid),
        stop: () => guest.stop(),
      };
    },
  };
}
