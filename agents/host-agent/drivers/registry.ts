import { join } from 'node:path';
import type { ImageStep } from '../vm/guest-image.ts';
import { dockerEngine, type DockerEngineMode } from '../docker-engine.ts';
import { libvirtDaemon, type LibvirtDaemonMode } from '../libvirt-daemon.ts';
import { createDockerDriver } from './container-docker.ts';
import { createLxcDriver } from './container-lxc.ts';
import { createOciDriver } from './container-oci.ts';
import { createPodmanDriver } from './container-podman.ts';
import type { PlatformDriver } from './driver.ts';
import { createProcessDriver } from './process.ts';
import { createLibvirtDriver } from './vm-libvirt.ts';
import { createVmInContainerDriver } from './vm-in-container.ts';
import { createQemuDriver } from './vm-qemu.ts';

export interface DriverOptions {
  /** The connection of the libvirt VM backend (`--libvirt-uri`). */
  readonly libvirtUri: string;
  /** Containers side by side in one VM on the container-in-vm platform (`--containers-per-vm`). */
  readonly containersPerVm: number;
  /** Which Docker engine the container:docker platform uses (`--docker-engine`). */
  readonly dockerEngine: DockerEngineMode;
  /** Which libvirt daemon the vm:libvirt platform uses for qemu:///system (`--libvirt-daemon`). */
  readonly libvirtDaemon: LibvirtDaemonMode;
  readonly onImageStep?: ImageStep;
}

/** Where an engine of Berth's own keeps its data: in the agent's folder. */
export function dockerEngineDir(agentDir: string): string {
  return join(agentDir, 'docker');
}

/** Where a libvirtd of Berth's own keeps its configuration, pid files and logs. */
export function libvirtDaemonDir(agentDir: string): string {
  return join(agentDir, 'libvirt');
}

/** Where Berth's own Podman keeps its images, containers and state: in the agent's folder. */
export function podmanStorageDir(agentDir: string): string {
  return join(agentDir, 'podman');
}

/** Every platform driver Berth knows, in the order a suite runs them: the baseline first. */
export function createDrivers(
  runnerPath: string,
  agentDir: string,
  {
    libvirtUri,
    containersPerVm,
    dockerEngine: engineMode,
    libvirtDaemon: libvirtMode,
    onImageStep,
  }: DriverOptions,
): PlatformDriver[] {
  const bundlesDir = join(agentDir, 'bundles');
  const vm = {
    runnerPath,
    bundlesDir,
    imagesDir: join(agentDir, 'images'),
    ...(onImageStep === undefined ? {} : { onImageStep }),
  };
  return [
    createProcessDriver(runnerPath, join(agentDir, 'scratch')),
    createOciDriver('runc', runnerPath, bundlesDir),
    createOciDriver('crun', runnerPath, bundlesDir),
    createDockerDriver(runnerPath, bundlesDir, dockerEngine(engineMode, dockerEngineDir(agentDir))),
    createPodmanDriver(runnerPath, bundlesDir, podmanStorageDir(agentDir)),
    createLxcDriver(runnerPath, bundlesDir),
    createQemuDriver({ ...vm, mode: 'vm' }),
    createQemuDriver({ ...vm, mode: 'container-in-vm', containersPerVm }),
    createVmInContainerDriver(vm),
    createLibvirtDriver({
      ...vm,
      uri: libvirtUri,
      daemon: libvirtDaemon(libvirtUri, libvirtMode, libvirtDaemonDir(agentDir)),
    }),
  ];
}
