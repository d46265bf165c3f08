import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Accel, RunnerLine } from '../../../contracts/index.ts';
import { buildGuestImage, type GuestImage, type ImageStep } from '../vm/guest-image.ts';
import { endRunner, spawnRunner, type RunnerProcess } from './child-instance.ts';
import type { Availability, Instance, InstanceOptions, PlatformDriver } from './driver.ts';

const run = promisify(execFile);
const QEMU = 'qemu-system-x86_64';

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

interface Host {
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

/** Proportional set size of a process, bytes: its share of every page it maps. */
async function pssBytes(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  try {
    const rollup = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8');
    const kb = /^Pss:\s+(\d+) kB/m.exec(rollup)?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
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

const hosts = new Map<string, Promise<Host>>();

/**
 * Builds the guest image and finds out, once per image, whether KVM works here: a guest that
 * boots under KVM and prints a line proves it; otherwise every VM runs under TCG emulation
 * and says so.
 */
function prepareHost(options: QemuDriverOptions, bundlesDir: string): Promise<Host> {
  const key = options.imagesDir;
  let prepared = hosts.get(key);
  if (prepared === undefined) {
    prepared = (async (): Promise<Host> => {
      const { stdout } = await run(QEMU, ['--version']);
      const version = /version (\S+)/.exec(stdout)?.[1] ?? 'unknown';
      const image = await buildGuestImage(options.imagesDir, options.onImageStep);
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
    hosts.set(key, prepared);
    prepared.catch(() => hosts.delete(key));
  }
  return prepared;
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
  const bootTimeoutMs = options.bootTimeoutMs ?? 60_000;
  return {
    platform: options.mode,
    runtime: 'qemu-microvm',
    availability: async (): Promise<Availability> => {
      try {
        await run(QEMU, ['--version']);
      } catch {
        return {
          available: false,
          reason: `${QEMU} is not installed (apt-get install qemu-system-x86)`,
        };
      }
      try {
        const host = await prepareHost(options, options.bundlesDir);
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
      const host = await prepareHost(options, options.bundlesDir);
      const bundleDir = join(options.bundlesDir, instance.id);
      const scratchDir = join(bundleDir, 'scratch');
      await mkdir(scratchDir, { recursive: true });
      const cmdFile = join(bundleDir, 'cmd.sh');
      await writeFile(
        cmdFile,
        guestCommand(
          options.mode,
          [process.execPath, options.runnerPath, '--scratch', scratchDir, ...instance.runnerArgs],
          containers,
        ),
      );
      const runner = spawnRunner(
        QEMU,
        qemuArgs(host.image, host.accel, memoryMiB, cpus, cmdFile, scratchDir),
        containers,
      );
      return {
        launchedAt: runner.launchedAt,
        runners: containers,
        lines: watched(runner, bootTimeoutMs),
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
        peakMemoryBytes: () => pssBytes(runner.child.pid),
        stop: async () => {
          await endRunner(runner, 0);
          await rm(bundleDir, { recursive: true, force: true });
        },
      };
    },
  };
}
