import { describe, expect, it } from 'vitest';
import {
  dockerUnavailableReason,
  ownEngineArgs,
  ownEngineLayout,
  systemDockerHost,
} from '../../agents/host-agent/docker-engine.ts';
import { dockerRunArgs, rootfsImageTag } from '../../agents/host-agent/drivers/container-docker.ts';

describe('the docker driver', () => {
  it('runs the runner like the OCI bundle: read-only host /usr and /etc, scratch, no network', () => {
    expect(
      dockerRunArgs({
        id: 'run1-container-s1',
        image: 'berth-rootfs:0123456789abcdef',
        node: '/usr/bin/node',
        runnerPath: '/data/runner/runner-abc.mjs',
        scratchDir: '/data/agent/bundles/run1-container-s1/scratch',
        runnerArgs: ['--hold'],
      }),
    ).toEqual([
      'run',
      '--rm',
      '-i',
      '--name',
      'run1-container-s1',
      '--hostname',
      'berth',
      '--network',
      'none',
      '--read-only',
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
      'berth-rootfs:0123456789abcdef',
      '/usr/bin/node',
      '/data/runner/runner-abc.mjs',
      '--scratch',
      '/scratch',
      '--hold',
    ]);
  });

  it('names the rootfs image by its mount points', () => {
    const tag = rootfsImageTag('/data/runner');
    expect(tag).toMatch(/^berth-rootfs:[0-9a-f]{16}$/);
    expect(rootfsImageTag('/data/runner')).toBe(tag);
    expect(rootfsImageTag('/elsewhere/runner')).not.toBe(tag);
  });

  it('says why there is no engine, in docker’s own words', () => {
    expect(
      dockerUnavailableReason(Object.assign(new Error('spawn docker ENOENT'), { code: 'ENOENT' })),
    ).toBe('docker is not installed (apt-get install docker.io)');
    expect(
      dockerUnavailableReason(
        Object.assign(new Error('Command failed'), {
          code: 1,
          stderr:
            'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n',
        }),
      ),
    ).toBe(
      'no Docker engine answers: Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?',
    );
    expect(
      dockerUnavailableReason(
        Object.assign(new Error('Command failed'), { killed: true, stderr: '' }),
      ),
    ).toBe('no Docker engine answers within 5 s');
  });

  it('reaches the system engine at DOCKER_HOST, else at the usual socket', () => {
    expect(systemDockerHost({ DOCKER_HOST: 'tcp://10.0.0.2:2376' })).toBe('tcp://10.0.0.2:2376');
    expect(systemDockerHost({ DOCKER_HOST: ' ' })).toBe('unix:///var/run/docker.sock');
    expect(systemDockerHost({})).toBe('unix:///var/run/docker.sock');
  });

  it("starts an engine of Berth's own with its data in the agent's folder and a short socket path", () => {
    const deep = `/${'very-long-folder-name/'.repeat(8)}agent/docker`;
    const layout = ownEngineLayout(deep);
    expect(layout.dataRoot).toBe(`${deep}/data`);
    expect(layout.host).toMatch(/^unix:\/\/\/run\/berth-docker-[0-9a-f]{12}\/docker\.sock$/);
    expect(layout.host.length - 'unix://'.length).toBeLessThan(108);
    expect(ownEngineLayout('/other/agent/docker').host).not.toBe(layout.host);
    expect(ownEngineArgs(layout)).toEqual([
      '--data-root',
      `${deep}/data`,
      '--exec-root',
      layout.execRoot,
      '--pidfile',
      `${deep}/dockerd.pid`,
      '-H',
      layout.host,
      '--iptables=false',
      '--ip6tables=false',
      '--bridge=none',
    ]);
  });
});
