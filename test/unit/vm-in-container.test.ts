import { describe, expect, it } from 'vitest';
import { RUNNER_ENV } from '../../agents/host-agent/drivers/child-instance.ts';
import {
  guestContainerMounts,
  guestContainerSpec,
  type GuestContainerPaths,
  type OciMount,
} from '../../agents/host-agent/drivers/vm-in-container.ts';
import { QEMU, qemuArgs } from '../../agents/host-agent/drivers/vm-qemu.ts';

const paths: GuestContainerPaths = {
  runnerDir: '/data/runner',
  imageDirs: ['/data/images/guest-6.1.0-57-amd64-abc'],
  guestDir: '/data/bundles/run-1-vm-in-container-r1s1/guest',
  scratchDir: '/data/bundles/run-1-vm-in-container-r1s1/guest/scratch',
};

const image = {
  kernel: '/data/images/guest-6.1.0-57-amd64-abc/vmlinux',
  initrd: '/data/images/guest-6.1.0-57-amd64-abc/initrd.gz',
  kernelVersion: '6.1.0-57-amd64',
};

/** The parts of `runc spec`'s output the driver reads or must keep. */
function runcDefault() {
  return {
    ociVersion: '1.0.2-dev',
    process: {
      terminal: true,
      args: ['sh'],
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm'],
      capabilities: { bounding: ['CAP_KILL'] },
    },
    root: { path: 'rootfs', readonly: true },
    hostname: 'runc',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'mode=755'] },
    ],
    linux: {
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'mount' }],
    },
  };
}

const binds = (mounts: readonly OciMount[]): OciMount[] =>
  mounts.filter((mount) => mount.type === 'bind');

/** Whether path is inside (or is) one of the container's mounts other than its root. */
const mounted = (mounts: readonly OciMount[], path: string): boolean =>
  mounts.some((mount) => path === mount.destination || path.startsWith(`${mount.destination}/`));

describe("the container around the guest's QEMU", () => {
  it('binds each host folder at its own path, read-only but for the scratch folder', () => {
    const mounts = guestContainerMounts(paths);
    for (const mount of binds(mounts)) expect(mount.destination).toBe(mount.source);
    expect(
      binds(mounts).map((mount) => [mount.destination, mount.options?.includes('ro') ?? false]),
    ).toEqual([
      ['/usr', true],
      ['/etc', true],
      [paths.runnerDir, true],
      [paths.imageDirs[0], true],
      [paths.guestDir, true],
      [paths.scratchDir, false],
    ]);
    expect(binds(mounts).at(-1)?.options).toEqual(['rbind', 'rw']);
  });

  it('mounts its own /tmp before the binds, so binds under /tmp land on it', () => {
    const mounts = guestContainerMounts(paths);
    expect(mounts[0]).toMatchObject({ destination: '/tmp', type: 'tmpfs' });
  });

  it('binds one folder per image folder', () => {
    const split = { ...paths, imageDirs: ['/images/kernel', '/images/initrd'] };
    expect(
      binds(guestContainerMounts(split))
        .map((mount) => mount.destination)
        .filter((path) => path.startsWith('/images')),
    ).toEqual(['/images/kernel', '/images/initrd']);
  });

  it('runs QEMU as the container process, without a terminal, with the runner environment', () => {
    const argv = [QEMU, '-M', 'microvm', '-accel', 'tcg'];
    const spec = guestContainerSpec(
      runcDefault(),
      'run-1-vm-in-container-r1s1',
      argv,
      paths,
      'tcg',
    );
    expect(spec.process.args).toEqual(argv);
    expect(spec.process.terminal).toBe(false);
    expect(spec.process.env).toEqual(
      Object.entries(RUNNER_ENV).map(([name, value]) => `${name}=${value}`),
    );
    expect(spec.hostname).toBe('berth');
    expect(spec.linux.cgroupsPath).toBe('/berth/run-1-vm-in-container-r1s1');
  });

  it("keeps runc's defaults: its mounts first, its read-only root, namespaces and capabilities", () => {
    const base = runcDefault();
    const spec = guestContainerSpec(base, 'id-1', [QEMU], paths, 'tcg');
    expect(spec.mounts.slice(0, base.mounts.length)).toEqual(base.mounts);
    expect(spec.mounts.slice(base.mounts.length)).toEqual(guestContainerMounts(paths));
    expect(spec).toMatchObject({
      root: { path: 'rootfs', readonly: true },
      process: { capabilities: { bounding: ['CAP_KILL'] } },
      linux: { namespaces: base.linux.namespaces },
    });
  });

  it('leaves the default spec it is given as it was', () => {
    const base = runcDefault();
    guestContainerSpec(base, 'id-1', [QEMU], paths, 'kvm');
    expect(base).toEqual(runcDefault());
  });

  it('gives the container no /dev/kvm under TCG', () => {
    const spec = guestContainerSpec(runcDefault(), 'id-1', [QEMU], paths, 'tcg');
    expect(spec.linux.devices).toBeUndefined();
    expect(spec.linux.resources?.devices).toEqual([{ allow: false, access: 'rwm' }]);
  });

  it('makes /dev/kvm and allows it, after the default deny-all rule, under KVM', () => {
    const spec = guestContainerSpec(runcDefault(), 'id-1', [QEMU], paths, 'kvm');
    expect(spec.linux.devices).toEqual([
      { path: '/dev/kvm', type: 'c', major: 10, minor: 232, fileMode: 0o666, uid: 0, gid: 0 },
    ]);
    expect(spec.linux.resources?.devices).toEqual([
      { allow: false, access: 'rwm' },
      { allow: true, type: 'c', major: 10, minor: 232, access: 'rwm' },
    ]);
  });

  it("makes every host path on the VM driver's QEMU command line visible in the container", () => {
    const cmdFile = `${paths.guestDir}/cmd.sh`;
    const argv = qemuArgs(image, 'tcg', 256, 1, cmdFile, paths.scratchDir);
    const spec = guestContainerSpec(runcDefault(), 'id-1', [QEMU, ...argv], paths, 'tcg');
    const after = (flag: string): string[] =>
      argv.flatMap((arg, index) => (arg === flag ? [argv[index + 1] ?? ''] : []));
    const fsdevPaths = after('-fsdev').map((fsdev) => /path=([^,]+)/.exec(fsdev)?.[1] ?? '');
    const append = after('-append').join(' ');
    const kernelArg = (name: string): string =>
      new RegExp(`${name}=(\\S+)`).exec(append)?.[1] ?? '';
    // The guest's root share is the container's root: what the guest runs must be mounted in it.
    expect(fsdevPaths).toEqual(['/', paths.scratchDir]);
    for (const path of [
      ...after('-kernel'),
      ...after('-initrd'),
      kernelArg('berth.cmd'),
      kernelArg('berth.scratch'),
      paths.scratchDir,
      '/usr/bin/node',
      `${paths.runnerDir}/runner-0123456789abcdef.mjs`,
    ]) {
      expect(mounted(spec.mounts, path), path).toBe(true);
    }
    expect(mounted(spec.mounts, '/root')).toBe(false);
  });
});
