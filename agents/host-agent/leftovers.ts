import { access, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../lib/logger.ts';
import { removeInstanceCgroups, removeStaleCgroups } from './cgroups.ts';
import { stopLeftoverOwnEngine, systemDockerHost } from './docker-engine.ts';
import { removeLeftoverDockerContainers } from './drivers/container-docker.ts';
import { removeLeftoverLxcContainers } from './drivers/container-lxc.ts';
import { removeLeftoverContainers } from './drivers/container-oci.ts';
import { removeLeftoverPodmanContainers } from './drivers/container-podman.ts';
import { dockerEngineDir, libvirtDaemonDir, podmanStorageDir } from './drivers/registry.ts';
import { removeLeftoverDomains } from './drivers/vm-libvirt.ts';
import { stopLeftoverOwnLibvirtd } from './libvirt-daemon.ts';

/**
 * What an agent killed with SIGKILL could not tear down: containers named by one of its
 * bundles (runc's, crun's, LXC's, Podman's in Berth's own storage, and Docker's where the
 * host's engine answers), the Docker engine and the libvirtd of Berth's own it started
 * (stopped with their containers and domains), libvirt domains of its bundles (those with a domain.xml) at `libvirtUri`, the
 * cgroups of its instances and what still runs in them, bundle and scratch folders, and
 * other cgroups with no process left. Removed when the next agent starts, before it starts
 * instances of its own.
 */
export async function removeLeftovers(
  agentDir: string,
  logger: Logger,
  libvirtUri: string,
): Promise<void> {
  const bundlesDir = join(agentDir, 'bundles');
  const bundles = await readdir(bundlesDir).catch(() => [] as string[]);
  const containers = [
    ...(await removeLeftoverContainers(bundles)),
    ...(await removeLeftoverDockerContainers(bundles, systemDockerHost())),
    ...(await removeLeftoverLxcContainers(bundles, bundlesDir)),
    ...(await removeLeftoverPodmanContainers(bundles, podmanStorageDir(agentDir))),
  ];
  const engineStopped = await stopLeftoverOwnEngine(dockerEngineDir(agentDir));
  const domainBundles: string[] = [];
  for (const id of bundles) {
    const hasDomain = await access(join(bundlesDir, id, 'domain.xml')).then(
      () => true,
      () => false,
    );
    if (hasDomain) domainBundles.push(id);
  }
  // A libvirtd of Berth's own that a killed agent left holds its domains: they go with it.
  const ownLibvirtd = await stopLeftoverOwnLibvirtd(libvirtDaemonDir(agentDir), domainBundles);
  const domains = ownLibvirtd.stopped
    ? ownLibvirtd
    : await removeLeftoverDomains(libvirtUri, domainBundles);
  for (const problem of domains.problems) {
    logger.warn({ libvirtUri }, `a leftover libvirt domain was not removed: ${problem}`);
  }
  const scratch = await readdir(join(agentDir, 'scratch')).catch(() => [] as string[]);
  // The cgroups named by its own instances go at once, with whatever still runs in them;
  // others only once stale, since another agent on this host may have just made them.
  for (const id of [...bundles, ...scratch]) await removeInstanceCgroups(id);
  await Promise.all([
    ...bundles.map((id) => rm(join(bundlesDir, id), { recursive: true, force: true })),
    ...scratch.map((id) => rm(join(agentDir, 'scratch', id), { recursive: true, force: true })),
  ]);
  const cgroups = await removeStaleCgroups();
  if (
    bundles.length + scratch.length + cgroups.length > 0 ||
    engineStopped ||
    ownLibvirtd.stopped
  ) {
    logger.info(
      {
        bundles: bundles.length,
        containers: containers.length,
        domains: domains.removed.length,
        scratch: scratch.length,
        cgroups: cgroups.length,
        dockerEngine: engineStopped,
        libvirtd: ownLibvirtd.stopped,
      },
      'removed what an earlier agent left behind',
    );
  }
}
