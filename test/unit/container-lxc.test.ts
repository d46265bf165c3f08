import { describe, expect, it } from 'vitest';
import { RUNNER_ENV } from '../../agents/host-agent/drivers/child-instance.ts';
import { fstabField, lxcConfig } from '../../agents/host-agent/drivers/container-lxc.ts';

const options = {
  rootfs: '/var/lib/berth/bundles/run-1/rootfs',
  runnerDir: '/var/lib/berth/runner',
  scratchDir: '/var/lib/berth/bundles/run-1/scratch',
};

/** The values of every `key = value` line of a config with that key, in order. */
function values(config: string, key: string): string[] {
  return config
    .split('\n')
    .map((line) => /^([\w.]+) = (.*)$/.exec(line))
    .filter((match) => match?.[1] === key)
    .map((match) => match?.[2] ?? '');
}

describe('LXC config', () => {
  const config = lxcConfig('run-1', options);

  it('mounts the rootfs of mount points read-only', () => {
    expect(values(config, 'lxc.rootfs.path')).toEqual([`dir:${options.rootfs}`]);
    expect(values(config, 'lxc.rootfs.options')).toEqual(['ro']);
    expect(values(config, 'lxc.mount.auto')).toEqual(['proc:mixed sys:ro']);
  });

  it('binds /usr, /etc and the runner read-only and /scratch writable, over a tmpfs /tmp', () => {
    expect(values(config, 'lxc.mount.entry')).toEqual([
      'tmpfs tmp tmpfs nosuid,nodev,size=262144k 0 0',
      '/usr usr none bind,ro 0 0',
      '/etc etc none bind,ro 0 0',
      '/var/lib/berth/runner var/lib/berth/runner none bind,ro,create=dir 0 0',
      '/var/lib/berth/bundles/run-1/scratch scratch none bind,rw 0 0',
    ]);
  });

  it('gives the container loopback only, no console and its own pivot cgroup', () => {
    expect(values(config, 'lxc.net.0.type')).toEqual(['empty']);
    expect(values(config, 'lxc.net.0.flags')).toEqual(['up']);
    expect(config).not.toMatch(/^lxc\.net\.[1-9]/m);
    expect(values(config, 'lxc.console.path')).toEqual(['none']);
    expect(values(config, 'lxc.tty.max')).toEqual(['0']);
    expect(values(config, 'lxc.cgroup.dir.monitor.pivot')).toEqual(['lxc.pivot.run-1']);
    expect(values(config, 'lxc.uts.name')).toEqual(['berth']);
  });

  it('sets exactly the runner environment', () => {
    expect(values(config, 'lxc.environment')).toEqual(
      Object.entries(RUNNER_ENV).map(([name, value]) => `${name}=${value}`),
    );
  });

  it('escapes blanks in mount paths and refuses a line break', () => {
    expect(fstabField('/data/my runs\\x\ty')).toBe('/data/my\\040runs\\134x\\011y');
    const spaced = lxcConfig('run-1', { ...options, runnerDir: '/data/my runs/runner' });
    expect(values(spaced, 'lxc.mount.entry')).toContain(
      '/data/my\\040runs/runner data/my\\040runs/runner none bind,ro,create=dir 0 0',
    );
    expect(() =>
      lxcConfig('run-1', { ...options, rootfs: '/data/a\nlxc.net.0.type = veth' }),
    ).toThrow(/line break/);
  });
});
