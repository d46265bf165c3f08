import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunnerLine } from '../../contracts/index.ts';
import type { Instance, PlatformDriver } from '../../agents/host-agent/drivers/driver.ts';
import { createLibvirtDriver, instanceFiles } from '../../agents/host-agent/drivers/vm-libvirt.ts';
import {
  libvirtDaemon,
  ownLibvirtdLayout,
  ownLibvirtdUri,
  QEMU_DOMAIN_LOG_DIR,
  stopLeftoverOwnLibvirtd,
  type LibvirtDaemon,
} from '../../agents/host-agent/libvirt-daemon.ts';
import { runnerBundle } from '../../agents/host-agent/runner-bundle.ts';
import { entriesOf, processesMatching } from '../../support/leftovers.ts';
import { removeDir, tempDir } from '../../support/servers.ts';
import { child, parseXml } from '../../support/xml.ts';

const execProgram = promisify(execFile);
const SYSTEM_URI = 'qemu:///system';
/** Building the guest image the first time downloads and unpacks a kernel package. */
const IMAGE_TIMEOUT_MS = 300_000;
/** A TCG boot of libvirt's default machine takes seconds, many more on a busy host. */
const BOOT_TEST_TIMEOUT_MS = 180_000;
const GUEST = {
  kernel: '/berth-test/vmlinux',
  initrd: '/berth-test/initrd.gz',
  kernelVersion: 'test-kernel',
};

/** What `virt-xml-validate <file> domain` says: resolves when libvirt's schema accepts it. */
async function validateDomain(file: string): Promise<string> {
  const { stdout, stderr } = await execProgram('virt-xml-validate', [file, 'domain']);
  return `${stdout}${stderr}`;
}

/** The names of every domain the daemon at uri knows, running or not. */
async function domainsAt(uri: string): Promise<string[]> {
  const { stdout } = await execProgram('virsh', ['-c', uri, 'list', '--all', '--name']);
  return stdout.split('\n').filter(Boolean);
}

/** Pids of processes whose command line contains text, as it is written. */
function processesWith(text: string): string[] {
  return processesMatching(text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
}

/** Whether a daemon answers at uri. */
function answers(uri: string): Promise<boolean> {
  return execProgram('virsh', ['-c', uri, 'version'], { timeout: 10_000 }).then(
    () => true,
    () => false,
  );
}

async function typesOf(instance: Instance): Promise<RunnerLine['type'][]> {
  const types: RunnerLine['type'][] = [];
  for await (const { line } of instance.lines) types.push(line.type);
  return types;
}

/** What an instance left on this host: its domain, its QEMU, its bundle folder, its log. */
async function leftoversOf(id: string, uri: string, bundlesDir: string): Promise<string[]> {
  return [
    ...(await domainsAt(uri)).filter((name) => name === id).map((name) => `domain ${name}`),
    ...processesWith(`guest=${id}`).map((pid) => `qemu process ${pid}`),
    ...(existsSync(join(bundlesDir, id)) ? [`bundle folder ${join(bundlesDir, id)}`] : []),
    ...(existsSync(join(QEMU_DOMAIN_LOG_DIR, `${id}.log`)) ? [`log of ${id}`] : []),
  ];
}

describe("the domain XML the driver builds, against libvirt's schema", () => {
  let dir: string;

  beforeAll(async () => {
    dir = await tempDir('libvirt-xml');
  });

  afterAll(async () => {
    await removeDir(dir);
  });

  it.each(['xen', 'qemu', 'kvm'] as const)(
    'validates the %s domain of an instance with virt-xml-validate',
    async (type) => {
      const { xml } = instanceFiles({
        name: 'run-x1-vm-s1',
        type,
        guest: GUEST,
        bundleDir: join(dir, 'bundles', 'run-x1-vm-s1'),
        memoryMiB: 256,
        vcpus: 1,
        runnerPath: '/berth-test/runner.mjs',
        runnerArgs: ['--workloads', 'syscall-fstat'],
      });
      expect(parseXml(xml).attributes['type']).toBe(type);
      const file = join(dir, `${type}.xml`);
      await writeFile(file, xml);
      expect(await validateDomain(file)).toContain('validates');
    },
  );

  it('is a check that can fail: a domain the schema refuses is refused', async () => {
    const { xml } = instanceFiles({
      name: 'run-x2-vm-s1',
      type: 'xen',
      guest: GUEST,
      bundleDir: join(dir, 'bundles', 'run-x2-vm-s1'),
      memoryMiB: 256,
      vcpus: 1,
      runnerPath: '/berth-test/runner.mjs',
      runnerArgs: [],
    });
    const file = join(dir, 'broken.xml');
    await writeFile(file, xml.replace("<memballoon model='xen'/>", "<memballoon model='lots'/>"));
    await expect(validateDomain(file)).rejects.toThrow(/fails to validate/);
  });
});

describe('which daemon a libvirt URI uses', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await tempDir('libvirt-modes');
  });

  afterAll(async () => {
    await removeDir(dir);
  });

  it.each([
    ['test:///default', 'own'],
    ['xen:///system', 'auto'],
    ['qemu+ssh://root@host/system', 'own'],
    ['qemu:///system?socket=/run/elsewhere/libvirt-sock', 'auto'],
    [SYSTEM_URI, 'system'],
  ] as const)('uses %s as it is in mode %s, starting nothing', async (uri, mode) => {
    const daemonDir = join(dir, 'libvirt');
    const daemon = libvirtDaemon(uri, mode, daemonDir);
    expect(await daemon.endpoint()).toEqual({ uri, owned: false });
    await daemon.close();
    expect(processesWith(ownLibvirtdLayout(daemonDir).libvirtdConfig)).toEqual([]);
    expect(entriesOf(daemonDir)).toEqual([]);
  });
});

describe("vm:libvirt through a libvirtd of Berth's own, QEMU under TCG", () => {
  let dir: string;
  let daemonDir: string;
  let bundlesDir: string;
  let runnerPath: string;
  let daemon: LibvirtDaemon;
  let driver: PlatformDriver;
  /** Whether /run/libvirt was there before the test started a daemon. */
  let runLibvirtBefore: boolean;
  const id = (name: string): string => `lvd-test-${process.pid}-${name}`;
  const driverWith = (given: LibvirtDaemon): PlatformDriver =>
    createLibvirtDriver({
      uri: SYSTEM_URI,
      runnerPath,
      bundlesDir,
      imagesDir: join(dir, 'images'),
      daemon: given,
    });

  beforeAll(async () => {
    // The test is of the daemon Berth starts when none answers: the host must have none.
    expect(await answers(SYSTEM_URI), `a libvirt daemon answers at ${SYSTEM_URI}`).toBe(false);
    expect(processesMatching('^(/usr/sbin/)?libvirtd')).toEqual([]);
    runLibvirtBefore = existsSync('/run/libvirt');
    dir = await tempDir('libvirt-daemon');
    daemonDir = join(dir, 'agent', 'libvirt');
    bundlesDir = join(dir, 'agent', 'bundles');
    runnerPath = await runnerBundle(dir);
    daemon = libvirtDaemon(SYSTEM_URI, 'auto', daemonDir);
    driver = driverWith(daemon);
  });

  afterAll(async () => {
    await driver.close?.();
    await stopLeftoverOwnLibvirtd(daemonDir);
    await removeDir(dir);
  });

  it(
    'starts a libvirtd of its own when none answers, and is available under TCG',
    async () => {
      const layout = ownLibvirtdLayout(daemonDir);
      expect(processesWith(layout.libvirtdConfig)).toEqual([]);
      const availability = await driver.availability();
      expect(availability, JSON.stringify(availability)).toMatchObject({
        available: true,
        accel: 'tcg',
      });
      expect(availability.version).toMatch(/^\d+\.\d+\.\d+ \(QEMU \d+\.\d+/);
      expect(availability.reason).toMatch(
        /^TCG emulation, not virtualisation: .*(no kvm|offer kvm, but .*test guest failed)/,
      );

      expect(await daemon.endpoint()).toEqual({
        uri: ownLibvirtdUri(layout, SYSTEM_URI),
        owned: true,
        domainLogDir: QEMU_DOMAIN_LOG_DIR,
      });
      const pids = processesWith(layout.libvirtdConfig);
      expect(pids).toHaveLength(1);
      expect(existsSync(layout.socket)).toBe(true);
      // QEMU's user is root in the daemon's own qemu.conf, bound over the host's in its mount
      // namespace only (as libvirt-qemu, where /dev/kvm lets only root in, every define
      // would probe QEMU again).
      const own = await readFile(layout.qemuConfig, 'utf8');
      expect(own).toMatch(/^user = "root"$/m);
      expect(await readFile(`/proc/${pids[0]}/root/etc/libvirt/qemu.conf`, 'utf8')).toBe(own);
      expect(await readFile('/etc/libvirt/qemu.conf', 'utf8')).not.toBe(own);
      // Its socket is its own: the host's URI still reaches nothing.
      expect(await answers(SYSTEM_URI)).toBe(false);
    },
    IMAGE_TIMEOUT_MS,
  );

  it(
    'runs an instance as a TCG domain through it, reads its lines, and leaves nothing',
    async () => {
      const { uri } = await daemon.endpoint();
      const name = id('run');
      const instance = await driver.start({
        id: name,
        runnerArgs: ['--workloads', 'syscall-fstat', '--time-cap-ms', '200'],
      });
      let stopped = false;
      try {
        expect(instance.settings).toMatchObject({
          libvirtUri: uri,
          libvirtDaemon: expect.stringMatching(/^a libvirtd Berth started/) as string,
          domainType: 'qemu',
          accel: 'tcg',
          machine: expect.stringMatching(/^pc/) as string,
          qemuUser: expect.stringMatching(/^root/) as string,
          memoryMeasure: 'PSS of the QEMU process libvirt started',
        });
        const { stdout } = await execProgram('virsh', ['-c', uri, 'dumpxml', name]);
        const domain = parseXml(stdout);
        expect(domain.attributes['type']).toBe('qemu');
        expect(child(domain, 'seclabel/label')?.text).toBe('+0:+0');
        expect(processesWith(`guest=${name}`)).toHaveLength(1);
        expect(await instance.peakMemoryBytes()).toBeGreaterThan(16 * 1024 * 1024);

        const types = await typesOf(instance);
        expect(types[0]).toBe('ready');
        expect(types).toContain('result');
        expect(types.at(-1)).toBe('done');
        await instance.stop();
        stopped = true;
        expect(await leftoversOf(name, uri, bundlesDir)).toEqual([]);
      } finally {
        if (!stopped) await instance.stop();
      }
    },
    BOOT_TEST_TIMEOUT_MS,
  );

  it(
    'close() stops the libvirtd and virtlogd it started, and what they made on the host',
    async () => {
      const layout = ownLibvirtdLayout(daemonDir);
      expect(processesWith(layout.virtlogdConfig)).toHaveLength(1);
      await driver.close?.();
      expect(processesWith(layout.libvirtdConfig)).toEqual([]);
      expect(processesWith(layout.virtlogdConfig)).toEqual([]);
      expect(processesMatching('^(/usr/sbin/)?(libvirtd|virtlogd)')).toEqual([]);
      expect(existsSync(layout.runDir)).toBe(false);
      expect(existsSync('/run/libvirt')).toBe(runLibvirtBefore);
      expect(existsSync(layout.changesFile)).toBe(false);
      expect(await stopLeftoverOwnLibvirtd(daemonDir)).toEqual({
        stopped: false,
        removed: [],
        problems: [],
      });
    },
    BOOT_TEST_TIMEOUT_MS,
  );

  it(
    'says why a libvirtd that does not come up failed, with its log, and leaves nothing',
    async () => {
      const fakeDir = join(dir, 'fake-bin');
      await mkdir(fakeDir, { recursive: true });
      await writeFile(
        join(fakeDir, 'libvirtd'),
        '#!/bin/sh\necho "error : cannot start: berth test failure" >&2\nexit 3\n',
        { mode: 0o755 },
      );
      const failingDir = join(dir, 'failing', 'libvirt');
      const layout = ownLibvirtdLayout(failingDir);
      const path = process.env['PATH'];
      process.env['PATH'] = `${fakeDir}:${path ?? ''}`;
      try {
        const failing = libvirtDaemon(SYSTEM_URI, 'own', failingDir);
        await expect(failing.endpoint()).rejects.toThrow(
          `the libvirtd Berth started exited (3) (${layout.libvirtdLog}: error : cannot start: berth test failure)`,
        );
        await failing.close();
      } finally {
        process.env['PATH'] = path;
      }
      expect(processesWith(layout.virtlogdConfig)).toEqual([]);
      expect(existsSync(layout.runDir)).toBe(false);
      expect(existsSync('/run/libvirt')).toBe(runLibvirtBefore);
      expect(existsSync(layout.changesFile)).toBe(false);
    },
    BOOT_TEST_TIMEOUT_MS,
  );

  it(
    'the leftover sweep removes the domains a killed agent left in its daemon, then stops it',
    async () => {
      const layout = ownLibvirtdLayout(daemonDir);
      const killed = libvirtDaemon(SYSTEM_URI, 'own', daemonDir);
      const killedDriver = driverWith(killed);
      const name = id('left');
      const instance = await killedDriver.start({
        id: name,
        runnerArgs: ['--workloads', '', '--hold'],
      });
      const { uri } = await killed.endpoint();
      expect(await domainsAt(uri)).toContain(name);
      expect(processesWith(`guest=${name}`)).toHaveLength(1);

      // What the next agent does when the one that started the daemon was killed.
      expect(await stopLeftoverOwnLibvirtd(daemonDir, [name, 'lvd-test-gone'])).toEqual({
        stopped: true,
        removed: [name],
        problems: [],
      });
      expect(processesWith(`guest=${name}`)).toEqual([]);
      expect(processesWith(layout.libvirtdConfig)).toEqual([]);
      expect(processesWith(layout.virtlogdConfig)).toEqual([]);
      expect(existsSync(layout.runDir)).toBe(false);
      expect(existsSync('/run/libvirt')).toBe(runLibvirtBefore);
      expect(existsSync(join(QEMU_DOMAIN_LOG_DIR, `${name}.log`))).toBe(false);

      // The killed agent's own handles: its stop finds no daemon, and says so.
      await expect(instance.stop()).rejects.toThrow(/virsh/);
      await killedDriver.close?.();
      expect(entriesOf(bundlesDir)).toEqual([]);
      expect(processesWith(`virsh -c ${uri}`)).toEqual([]);
    },
    BOOT_TEST_TIMEOUT_MS,
  );
});
