import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  detectPodmanSettings,
  nextPodmanSettings,
  PODMAN_DEFAULTS,
  podmanGlobalArgs,
  podmanRunDir,
  podmanRunArgs,
  removePodmanCgroups,
  rlimitsSetting,
  type PodmanSettings,
} from '../../agents/host-agent/drivers/container-podman.ts';

/** What podman 4.3.1 said on a Debian 12 host (cgroup v1 with v2 mounted: hybrid) as root. */
const ERRORS = {
  crunRlimitNofile:
    'Error: crun: setrlimit `RLIMIT_NOFILE`: Operation not permitted: OCI permission denied',
  crunRlimitNproc:
    'Error: crun: setrlimit `RLIMIT_NPROC`: Operation not permitted: OCI permission denied',
  crunHybrid:
    'Error: OCI runtime error: crun: cgroups in hybrid mode not supported, drop all controllers from cgroupv2',
  runcRlimit:
    'Error: runc: runc create failed: unable to start container process: error during container init: error setting rlimits for ready process: error setting rlimit type 7: operation not permitted: OCI permission denied',
  runcNotFound:
    'Error: runc: runc create failed: unable to start container process: exec: "/usr/bin/true": stat /usr/bin/true: no such file or directory: OCI runtime attempted to invoke a command that was not found',
  imageNotKnown: 'Error: localhost/berth-rootfs:nothere: image not known',
  runtimeMissing: 'Error: default OCI runtime "nosuch" not found: invalid argument',
} as const;

const STORAGE = '/data/agent/podman';

describe('the podman driver', () => {
  it('keeps podman to storage of its own, its own cgroups and no event log', () => {
    const runDir = podmanRunDir(STORAGE);
    // Podman refuses a runroot over 50 characters, however deep the data folder is.
    expect(runDir).toMatch(/^\/run\/berth-podman-[0-9a-f]{12}$/);
    expect(podmanRunDir(`/${'deep/'.repeat(20)}podman`)).toHaveLength(runDir.length);
    expect(podmanRunDir('/other/agent/podman')).not.toBe(runDir);
    expect(podmanGlobalArgs(STORAGE)).toEqual([
      '--root',
      '/data/agent/podman/root',
      '--runroot',
      `${runDir}/run`,
      '--tmpdir',
      `${runDir}/tmp`,
      '--network-config-dir',
      '/data/agent/podman/networks',
      '--cgroup-manager',
      'cgroupfs',
      '--events-backend',
      'none',
    ]);
  });

  it('runs the runner like the Docker driver: read-only host /usr and /etc, scratch, no network', () => {
    const args = podmanRunArgs({
      storageDir: STORAGE,
      settings: PODMAN_DEFAULTS,
      id: 'run1-container-s1',
      image: 'localhost/berth-rootfs:0123456789abcdef',
      runnerDir: '/data/runner',
      scratchDir: '/data/agent/bundles/run1-container-s1/scratch',
      cidFile: '/data/agent/bundles/run1-container-s1/cid',
      command: ['/usr/bin/node', '/data/runner/runner-abc.mjs', '--scratch', '/scratch', '--hold'],
    });
    expect(args).toEqual([
      ...podmanGlobalArgs(STORAGE),
      'run',
      '--rm',
      '-i',
      '--name',
      'run1-container-s1',
      '--cidfile',
      '/data/agent/bundles/run1-container-s1/cid',
      '--pull',
      'never',
      '--hostname',
      'berth',
      '--network',
      'none',
      '--read-only',
      '--read-only-tmpfs=false',
      '--unsetenv-all',
      '-e',
      'PATH=/usr/local/bin:/usr/bin:/bin',
      '-e',
      'HOME=/tmp',
      '-v',
      '/usr:/usr:ro',
      '-v',
      '/etc:/etc:ro',
      '-v',
      '/data/runner:/data/runner:ro',
      '-v',
      '/data/agent/bundles/run1-container-s1/scratch:/scratch',
      '--tmpfs',
      '/tmp:nosuid,nodev,size=262144k',
      'localhost/berth-rootfs:0123456789abcdef',
      '/usr/bin/node',
      '/data/runner/runner-abc.mjs',
      '--scratch',
      '/scratch',
      '--hold',
    ]);
  });

  it('puts the runtime before the command and the rlimits among the run options', () => {
    const args = podmanRunArgs({
      storageDir: STORAGE,
      settings: { runtime: 'runc', ulimits: true },
      id: 'i1',
      image: 'localhost/berth-rootfs:0123456789abcdef',
      runnerDir: '/data/runner',
      scratchDir: '/s',
      cidFile: '/c',
      command: ['/usr/bin/true'],
    });
    const global = podmanGlobalArgs(STORAGE).length;
    expect(args.slice(global, global + 3)).toEqual(['--runtime', 'runc', 'run']);
    expect(args.at(-1)).toBe('/usr/bin/true');
    expect(args.slice(-6, -1)).toEqual([
      '--ulimit',
      'nofile=1024:1024',
      '--ulimit',
      'nproc=4096:4096',
      'localhost/berth-rootfs:0123456789abcdef',
    ]);
  });

  it('sets the rlimits when a runtime may not set podman’s', () => {
    expect(nextPodmanSettings(PODMAN_DEFAULTS, ERRORS.crunRlimitNofile)).toEqual({
      ulimits: true,
    });
    expect(nextPodmanSettings({ runtime: 'runc', ulimits: false }, ERRORS.runcRlimit)).toEqual({
      runtime: 'runc',
      ulimits: true,
    });
  });

  it('turns to runc when another runtime fails, keeping the rlimits', () => {
    expect(nextPodmanSettings({ ulimits: true }, ERRORS.crunHybrid)).toEqual({
      runtime: 'runc',
      ulimits: true,
    });
    expect(nextPodmanSettings({ ulimits: true }, ERRORS.crunRlimitNproc)).toEqual({
      runtime: 'runc',
      ulimits: true,
    });
    expect(nextPodmanSettings(PODMAN_DEFAULTS, ERRORS.runtimeMissing)).toEqual({
      runtime: 'runc',
      ulimits: false,
    });
  });

  it('gives up when nothing else would help', () => {
    expect(nextPodmanSettings({ runtime: 'runc', ulimits: true }, ERRORS.runcRlimit)).toBe(
      undefined,
    );
    expect(nextPodmanSettings({ runtime: 'runc', ulimits: false }, ERRORS.runcNotFound)).toBe(
      undefined,
    );
    expect(nextPodmanSettings(PODMAN_DEFAULTS, ERRORS.imageNotKnown)).toBe(undefined);
  });

  it('finds the settings of a hybrid-cgroup host whose hard rlimits are below podman’s', async () => {
    const tried: PodmanSettings[] = [];
    const detection = await detectPodmanSettings((settings) => {
      tried.push(settings);
      if (settings.runtime === undefined) {
        return Promise.resolve(settings.ulimits ? ERRORS.crunHybrid : ERRORS.crunRlimitNofile);
      }
      return Promise.resolve(settings.ulimits ? undefined : ERRORS.runcRlimit);
    });
    expect(detection).toEqual({ works: true, settings: { runtime: 'runc', ulimits: true } });
    expect(tried).toEqual([
      { ulimits: false },
      { ulimits: true },
      { runtime: 'runc', ulimits: true },
    ]);
  });

  it('keeps podman’s defaults where they work, trying nothing else', async () => {
    let trials = 0;
    const detection = await detectPodmanSettings(() => {
      trials += 1;
      return Promise.resolve(undefined);
    });
    expect(detection).toEqual({ works: true, settings: PODMAN_DEFAULTS });
    expect(trials).toBe(1);
  });

  it('reports the last error when no settings work', async () => {
    const tried: PodmanSettings[] = [];
    const detection = await detectPodmanSettings((settings) => {
      tried.push(settings);
      return Promise.resolve(
        settings.runtime === 'runc' ? ERRORS.runcNotFound : ERRORS.crunRlimitNofile,
      );
    });
    expect(detection).toEqual({ works: false, error: ERRORS.runcNotFound });
    expect(tried).toEqual([
      { ulimits: false },
      { ulimits: true },
      { runtime: 'runc', ulimits: true },
    ]);
  });

  it('stops at the first error no setting answers', async () => {
    const detection = await detectPodmanSettings(() => Promise.resolve(ERRORS.imageNotKnown));
    expect(detection).toEqual({ works: false, error: ERRORS.imageNotKnown });
  });

  it('records the rlimits the runner starts with', () => {
    expect(rlimitsSetting(PODMAN_DEFAULTS)).toBe("podman's defaults");
    expect(rlimitsSetting({ runtime: 'runc', ulimits: true })).toMatch(
      /^nofile=1024:1024, nproc=4096:4096 /,
    );
  });

  it('removes what is left of a container’s cgroups, and podman’s parents once empty', async () => {
    const root = await mkdtemp(join(tmpdir(), 'berth-podman-cgroups-'));
    try {
      const fullId = 'a'.repeat(64);
      const other = `libpod-${'b'.repeat(64)}`;
      for (const dir of [
        join('memory', 'libpod_parent', `libpod-${fullId}`),
        join('memory', 'libpod_parent', 'conmon'),
        join('pids', 'libpod_parent', `libpod-${fullId}`),
        join('pids', 'libpod_parent', other),
        join('unified', 'libpod_parent', `libpod-${fullId}`),
      ]) {
        await mkdir(join(root, dir), { recursive: true });
      }
      await removePodmanCgroups(fullId, root);
      expect(existsSync(join(root, 'memory', 'libpod_parent'))).toBe(false);
      expect(existsSync(join(root, 'unified', 'libpod_parent'))).toBe(false);
      // Another container's cgroup stays, and with it podman's parent.
      expect(existsSync(join(root, 'pids', 'libpod_parent', `libpod-${fullId}`))).toBe(false);
      expect(existsSync(join(root, 'pids', 'libpod_parent', other))).toBe(true);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
