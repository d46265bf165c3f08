import { execFile } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { RunnerLine } from '../../contracts/index.ts';
import { agentDir } from '../../agents/host-agent/agent-dir.ts';
import {
  endRunner,
  RUNNER_ENV,
  spawnRunner,
  type RunnerProcess,
} from '../../agents/host-agent/drivers/child-instance.ts';
import {
  prepareInstanceBundle,
  removeContainer,
} from '../../agents/host-agent/drivers/container-oci.ts';
import { dockerEngine } from '../../agents/host-agent/docker-engine.ts';
import { libvirtDaemon } from '../../agents/host-agent/libvirt-daemon.ts';
import { dockerRunArgs, rootfsImageTag } from '../../agents/host-agent/drivers/container-docker.ts';
import {
  ENV_PROGRAM,
  prepareBundle as prepareLxcBundle,
  removeContainer as removeLxcContainer,
} from '../../agents/host-agent/drivers/container-lxc.ts';
import {
  containerId as podmanContainerId,
  findSettings as findPodmanSettings,
  podmanRunArgs,
  removeContainer as removePodmanContainer,
  rlimitsSetting,
  type PodmanSettings,
} from '../../agents/host-agent/drivers/container-podman.ts';
import type { Instance, PlatformDriver } from '../../agents/host-agent/drivers/driver.ts';
import {
  dockerEngineDir,
  libvirtDaemonDir,
  podmanStorageDir,
} from '../../agents/host-agent/drivers/registry.ts';
import { fileLines, runnerLines } from '../../agents/host-agent/drivers/runner-lines.ts';
import { writeBundle as writeGuestContainerBundle } from '../../agents/host-agent/drivers/vm-in-container.ts';
import {
  CONSOLE_POLL_MS,
  instanceFiles,
  removeDomainLog,
} from '../../agents/host-agent/drivers/vm-libvirt.ts';
import { buildGuestImage } from '../../agents/host-agent/vm/guest-image.ts';
import type { DomainType } from '../../agents/host-agent/vm/libvirt-domain.ts';
import { SETTINGS } from '../../lib/config.ts';
import {
  bootGuest,
  prepareQemuHost,
  QEMU,
  type QemuMode,
} from '../../agents/host-agent/drivers/vm-qemu.ts';
import { IDLE_RUNNER_ARGS } from '../../agents/host-agent/launch.ts';

type Settings = Instance['settings'];

const UNSHARE = ['-m', '-p', '-f', '-n', '-u', '-i'];

/** One launch of a variant, up to its teardown. */
export interface Launch {
  /** performance.now() when the measured span begins. */
  readonly startedAt: number;
  /** performance.now() just before the platform's program was spawned. */
  readonly spawnedAt: number;
  /** Runners the launch holds; start-up runs to the last one's ready line. */
  readonly runners: number;
  readonly lines: AsyncIterable<{ line: RunnerLine; at: number }>;
  /** Berth's instance, when the launch went through a driver. */
  readonly instance?: Instance;
  stop(): Promise<void>;
}

/** One way of starting the runner: Berth's driver, the bare runtime by hand, or a reference. */
export interface Variant {
  readonly role: 'berth' | 'bare' | 'reference';
  /** Short, subject-safe: part of the instance ids. */
  readonly tag: string;
  readonly label: string;
  launch(id: string): Promise<Launch>;
}

/** Berth's driver, with the settings of its first instance, which the bare launches copy. */
export interface BerthVariant extends Variant {
  readonly settings: () => Settings | undefined;
}

/** Berth's driver, timed from just before driver.start(): its own preparation counts. */
function berthVariant(driver: PlatformDriver): BerthVariant {
  let first: Settings | undefined;
  return {
    role: 'berth',
    tag: 'berth',
    label: 'Berth: driver.start() -> ready',
    settings: () => first,
    launch: async (id) => {
      const startedAt = performance.now();
      const instance = await driver.start({ id, runnerArgs: IDLE_RUNNER_ARGS });
      first ??= instance.settings;
      return {
        startedAt,
        spawnedAt: instance.launchedAt,
        runners: instance.runners,
        lines: instance.lines,
        instance,
        stop: () => instance.stop(),
      };
    },
  };
}

/** A bare launch: timed from the spawn, ended by `stop`. */
function bareLaunch(runner: RunnerProcess, runners: number, stop: () => Promise<void>): Launch {
  return {
    startedAt: runner.launchedAt,
    spawnedAt: runner.launchedAt,
    runners,
    lines: runner.lines,
    stop,
  };
}

/** The runner as a plain child process (optionally under a command such as unshare), no cgroup. */
function processVariant(
  role: 'bare' | 'reference',
  tag: string,
  label: string,
  runnerPath: string,
  scratchRoot: string,
  command: string,
  prefix: readonly string[],
): Variant {
  return {
    role,
    tag,
    label,
    launch: async (id) => {
      const scratchDir = join(scratchRoot, id);
      await mkdir(scratchDir, { recursive: true });
      const runner = spawnRunner(
        command,
        [...prefix, runnerPath, '--scratch', scratchDir, ...IDLE_RUNNER_ARGS],
        1,
        RUNNER_ENV,
      );
      return bareLaunch(runner, 1, async () => {
        await endRunner(runner);
        await rm(scratchDir, { recursive: true, force: true });
      });
    },
  };
}

/**
 * `runc run` by hand of a bundle written, before the span, by the driver's own
 * prepareInstanceBundle, and removed as the driver removes it.
 */
function runcVariant(runnerPath: string, bundlesDir: string): Variant {
  return {
    role: 'bare',
    tag: 'bare',
    label: 'bare: runc run --bundle <same bundle> -> ready',
    launch: async (id) => {
      const bundleDir = join(bundlesDir, id);
      await prepareInstanceBundle('runc', bundleDir, id, runnerPath, IDLE_RUNNER_ARGS);
      const runner = spawnRunner('runc', ['run', '--bundle', bundleDir, id]);
      return bareLaunch(runner, 1, async () => {
        await endRunner(runner);
        await removeContainer('runc', id, bundleDir);
      });
    },
  };
}

/**
 * `docker run` by hand, against the engine the driver uses (the same one in this process,
 * Berth's own when the host runs none) and the image the driver imported, with the driver's
 * own arguments; removed with `docker rm -f` as the driver removes it.
 */
function dockerVariant(runnerPath: string, bundlesDir: string, agentDir: string): Variant {
  const engine = dockerEngine(SETTINGS.dockerEngine.defaultValue, dockerEngineDir(agentDir));
  const execProgram = promisify(execFile);
  return {
    role: 'bare',
    tag: 'bare',
    label: 'bare: docker run <same image and args> -> ready',
    launch: async (id) => {
      const { host } = await engine.endpoint();
      const scratchDir = join(bundlesDir, id, 'scratch');
      await mkdir(scratchDir, { recursive: true });
      const runner = spawnRunner('docker', [
        '-H',
        host,
        ...dockerRunArgs({
          id,
          image: rootfsImageTag(dirname(runnerPath)),
          node: process.execPath,
          runnerPath,
          scratchDir,
          runnerArgs: IDLE_RUNNER_ARGS,
        }),
      ]);
      return bareLaunch(runner, 1, async () => {
        await endRunner(runner);
        await execProgram('docker', ['-H', host, 'rm', '-f', id]).catch(() => undefined);
        await rm(join(bundlesDir, id), { recursive: true, force: true });
        await engine.close();
      });
    },
  };
}

/**
 * QEMU by hand: the driver's own bootGuest (its command line and guest command), the image
 * the driver prepared, and the accel, memory, CPUs and containers per VM the driver reported
 * for its first instance.
 */
function qemuVariant(
  mode: QemuMode,
  runnerPath: string,
  imagesDir: string,
  bundlesDir: string,
  settings: () => Settings | undefined,
): Variant {
  return {
    role: 'bare',
    tag: 'bare',
    label: `bare: ${QEMU}, same image/args/cmd -> ready`,
    launch: async (id) => {
      const { image } = await prepareQemuHost(imagesDir, bundlesDir);
      const { accel, memoryMiB, cpus, kernel, containersPerVm = 1 } = settings() ?? {};
      if (accel !== 'kvm' && accel !== 'tcg') {
        throw new Error(`${mode}: no Berth launch (or one without accel) to copy the guest from`);
      }
      if (typeof memoryMiB !== 'number' || typeof cpus !== 'number') {
        throw new Error(`${mode}: the driver's settings no longer say memoryMiB and cpus`);
      }
      if (typeof containersPerVm !== 'number' || kernel !== image.kernelVersion) {
        throw new Error(
          `${mode}: the driver reported containersPerVm or a kernel this bench cannot copy`,
        );
      }
      const guest = await bootGuest({
        mode,
        image,
        accel,
        memoryMiB,
        cpus,
        containers: containersPerVm,
        runnerPath,
        runnerArgs: IDLE_RUNNER_ARGS,
        bundleDir: join(bundlesDir, id),
      });
      return bareLaunch(guest.runner, containersPerVm, () => guest.stop());
    },
  };
}

/**
 * `podman run` by hand, with the driver's own arguments (podmanRunArgs: its global flags for
 * the same storage of Berth's own) and the image the driver imported on its first start. The
 * settings the driver detected (runtime, rlimits) are found again, once and before the span,
 * by the driver's own findSettings, and must match those its first instance reported. Removed
 * as the driver removes it (the container, its conmon and its cgroups, from its cid file).
 */
function podmanVariant(
  runnerPath: string,
  bundlesDir: string,
  agentDir: string,
  settings: () => Settings | undefined,
): Variant {
  const storageDir = podmanStorageDir(agentDir);
  const runnerDir = dirname(runnerPath);
  const image = `localhost/${rootfsImageTag(runnerDir)}`;
  const sameSettings = async (): Promise<PodmanSettings> => {
    const found = await findPodmanSettings(storageDir, image, runnerDir);
    if (!found.works) throw new Error(`container:podman: ${found.error}`);
    const first = settings();
    if (
      first?.['rlimits'] !== rlimitsSetting(found.settings) ||
      first['ociRuntime'] !== found.ociRuntime
    ) {
      throw new Error(
        "container:podman: no Berth launch, or settings found again that differ from the driver's",
      );
    }
    return found.settings;
  };
  let detected: Promise<PodmanSettings> | undefined;
  return {
    role: 'bare',
    tag: 'bare',
    label: 'bare: podman run <same storage, image and args> -> ready',
    launch: async (id) => {
      if (detected === undefined) {
        detected = sameSettings();
        detected.catch(() => (detected = undefined));
      }
      const podmanSettings = await detected;
      const bundleDir = join(bundlesDir, id);
      const scratchDir = join(bundleDir, 'scratch');
      await mkdir(scratchDir, { recursive: true });
      const cidFile = join(bundleDir, 'cid');
      const runner = spawnRunner(
        'podman',
        podmanRunArgs({
          storageDir,
          settings: podmanSettings,
          id,
          image,
          runnerDir,
          scratchDir,
          cidFile,
          command: [process.execPath, runnerPath, '--scratch', '/scratch', ...IDLE_RUNNER_ARGS],
        }),
      );
      return bareLaunch(runner, 1, async () => {
        await endRunner(runner);
        await removePodmanContainer(storageDir, id, await podmanContainerId(cidFile));
        await rm(bundleDir, { recursive: true, force: true });
      });
    },
  };
}

/**
 * `lxc-execute` by hand, in the driver's lxcpath (the bundles folder), of a bundle written
 * before the span by the driver's own prepareBundle (its config from lxcConfig, the rootfs of
 * mount points, the scratch folder), running the runner through env as the driver does;
 * removed as the driver removes it (stopped, its cgroups and its folder).
 */
function lxcVariant(runnerPath: string, bundlesDir: string): Variant {
  return {
    role: 'bare',
    tag: 'bare',
    label: 'bare: lxc-execute -f <same config> -> ready',
    launch: async (id) => {
      const config = await prepareLxcBundle(bundlesDir, id, dirname(runnerPath));
      const runner = spawnRunner('lxc-execute', [
        '-n',
        id,
        '-P',
        bundlesDir,
        '-f',
        config,
        '--',
        ENV_PROGRAM,
        '-u',
        'container',
        process.execPath,
        runnerPath,
        '--scratch',
        '/scratch',
        ...IDLE_RUNNER_ARGS,
      ]);
      return bareLaunch(runner, 1, async () => {
        await endRunner(runner);
        await removeLxcContainer(id, bundlesDir);
      });
    },
  };
}

/**
 * `runc run` by hand of a bundle written, before the span, by the driver's own writeBundle
 * (QEMU as the container's process, on the vm platform's command line), for the image the
 * driver prepared and the accel, memory and CPUs the driver reported for its first instance;
 * removed as the driver removes it.
 */
function vmInContainerVariant(
  runnerPath: string,
  imagesDir: string,
  bundlesDir: string,
  settings: () => Settings | undefined,
): Variant {
  return {
    role: 'bare',
    tag: 'bare',
    label: 'bare: runc run --bundle <same QEMU bundle> -> ready',
    launch: async (id) => {
      const host = await prepareQemuHost(imagesDir, bundlesDir);
      const { accel, memoryMiB, cpus, kernel } = settings() ?? {};
      if (accel !== host.accel || kernel !== host.image.kernelVersion) {
        throw new Error(
          'vm-in-container: no Berth launch (or one with another accel or kernel) to copy the guest from',
        );
      }
      if (typeof memoryMiB !== 'number' || typeof cpus !== 'number') {
        throw new Error("vm-in-container: the driver's settings no longer say memoryMiB and cpus");
      }
      const bundleDir = join(bundlesDir, id);
      await writeGuestContainerBundle(bundleDir, id, host, {
        runnerPath,
        runnerArgs: IDLE_RUNNER_ARGS,
        memoryMiB,
        cpus,
      });
      const runner = spawnRunner('runc', ['run', '--bundle', bundleDir, id]);
      return bareLaunch(runner, 1, async () => {
        await endRunner(runner, 0);
        await removeContainer('runc', id, bundleDir);
      });
    },
  };
}

/** Whether a setting names a libvirt domain type. */
function isDomainType(value: unknown): value is DomainType {
  return value === 'kvm' || value === 'qemu' || value === 'xen' || value === 'test';
}

/**
 * `virsh -c <uri> create` by hand of the domain XML the driver's own instanceFiles builds
 * (the same image, and the domain type, memory and vCPUs the driver reported for its first
 * instance), against the libvirt daemon the driver uses (the same one in this process,
 * Berth's own when the host runs none); the runner's lines read from the serial console file
 * as the driver reads them; stopped with `virsh destroy`, its log and folder removed as the
 * driver removes them.
 */
function libvirtVariant(
  runnerPath: string,
  imagesDir: string,
  bundlesDir: string,
  agentDir: string,
  settings: () => Settings | undefined,
): Variant {
  const daemon = libvirtDaemon(
    SETTINGS.libvirtUri.defaultValue,
    SETTINGS.libvirtDaemon.defaultValue,
    libvirtDaemonDir(agentDir),
  );
  const execProgram = promisify(execFile);
  return {
    role: 'bare',
    tag: 'bare',
    label: 'bare: virsh create <same domain XML> -> ready',
    launch: async (id) => {
      const { domainType, memoryMiB, vcpus, kernel } = settings() ?? {};
      if (!isDomainType(domainType) || typeof memoryMiB !== 'number' || typeof vcpus !== 'number') {
        throw new Error(
          'vm: no Berth launch (or one without domainType, memoryMiB and vcpus) to copy the domain from',
        );
      }
      const guest = await buildGuestImage(imagesDir);
      if (kernel !== guest.kernelVersion) {
        throw new Error('vm: the driver reported a kernel this bench cannot copy');
      }
      const bundleDir = join(bundlesDir, id);
      const files = instanceFiles({
        name: id,
        type: domainType,
        guest,
        bundleDir,
        memoryMiB,
        vcpus,
        runnerPath,
        runnerArgs: IDLE_RUNNER_ARGS,
      });
      const at = await daemon.endpoint();
      const remove = async (): Promise<void> => {
        await execProgram('virsh', ['-c', at.uri, 'destroy', id]).catch(() => undefined);
        await removeDomainLog(at, id);
        await rm(bundleDir, { recursive: true, force: true });
        await daemon.close();
      };
      let startedAt: number;
      try {
        await mkdir(files.scratchDir, { recursive: true });
        await writeFile(files.cmdFile, files.command);
        await writeFile(files.xmlFile, files.xml);
        startedAt = performance.now();
        await execProgram('virsh', ['-c', at.uri, 'create', files.xmlFile]);
      } catch (error) {
        await remove();
        throw error;
      }
      const ended = new AbortController();
      return {
        startedAt,
        spawnedAt: startedAt,
        runners: 1,
        lines: runnerLines(fileLines(files.consoleLog, ended.signal, CONSOLE_POLL_MS)),
        stop: async () => {
          ended.abort();
          await remove();
        },
      };
    },
  };
}

/** What one driver is timed with: Berth's driver first, then the bare runtime. */
export interface Variants {
  readonly berth: BerthVariant;
  readonly variants: readonly Variant[];
  /** A VM platform, which gets --vm-launches. */
  readonly vm: boolean;
}

/**
 * The variants to time on one driver (platform and runtime); undefined for a driver whose
 * bare equivalent this benchmark does not know.
 */
export function variantsFor(
  driver: PlatformDriver,
  dataDir: string,
  runnerPath: string,
): Variants | undefined {
  const dir = agentDir(dataDir);
  const bundlesDir = join(dir, 'bundles');
  const berth = berthVariant(driver);
  const kind = `${driver.platform}:${driver.runtime}`;
  if (kind === 'process:node') {
    const scratchRoot = join(dir, 'scratch');
    return {
      berth,
      vm: false,
      variants: [
        berth,
        processVariant(
          'bare',
          'bare',
          'bare: node <runner> (no cgroup) -> ready',
          runnerPath,
          scratchRoot,
          process.execPath,
          [],
        ),
        processVariant(
          'reference',
          'unshare',
          `reference: unshare ${UNSHARE.join(' ')} node <runner> -> ready`,
          runnerPath,
          scratchRoot,
          'unshare',
          [...UNSHARE, process.execPath],
        ),
      ],
    };
  }
  if (kind === 'container:runc') {
    return { berth, vm: false, variants: [berth, runcVariant(runnerPath, bundlesDir)] };
  }
  if (kind === 'container:docker') {
    return { berth, vm: false, variants: [berth, dockerVariant(runnerPath, bundlesDir, dir)] };
  }
  if (kind === 'container:podman') {
    const bare = podmanVariant(runnerPath, bundlesDir, dir, berth.settings);
    return { berth, vm: false, variants: [berth, bare] };
  }
  if (kind === 'container:lxc') {
    return { berth, vm: false, variants: [berth, lxcVariant(runnerPath, bundlesDir)] };
  }
  if (kind === 'vm-in-container:runc-qemu-microvm') {
    const bare = vmInContainerVariant(runnerPath, join(dir, 'images'), bundlesDir, berth.settings);
    return { berth, vm: true, variants: [berth, bare] };
  }
  if (kind === 'vm:libvirt') {
    const bare = libvirtVariant(runnerPath, join(dir, 'images'), bundlesDir, dir, berth.settings);
    return { berth, vm: true, variants: [berth, bare] };
  }
  if (
    driver.runtime === 'qemu-microvm' &&
    (driver.platform === 'vm' || driver.platform === 'container-in-vm')
  ) {
    const bare = qemuVariant(
      driver.platform,
      runnerPath,
      join(dir, 'images'),
      bundlesDir,
      berth.settings,
    );
    return { berth, vm: true, variants: [berth, bare] };
  }
  return undefined;
}
