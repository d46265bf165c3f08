import { execFile, execFileSync } from 'node:child_process';
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isBerthError } from '../../contracts/index.ts';
import {
  createLibvirtDriver,
  removeDomain,
  removeLeftoverDomains,
  TEST_DRIVER_REASON,
  type LibvirtDriverOptions,
} from '../../agents/host-agent/drivers/vm-libvirt.ts';
import { openVirshSession, type VirshSession } from '../../agents/host-agent/drivers/virsh.ts';
import { domainXml } from '../../agents/host-agent/vm/libvirt-domain.ts';
import { selectDrivers } from '../../agents/host-agent/agent-drivers.ts';
import { driverName } from '../../agents/host-agent/drivers/select.ts';
import { runBerth } from '../../support/cli.ts';
import { entriesOf } from '../../support/leftovers.ts';
import { cleanUp, removeDir, tempDir } from '../../support/servers.ts';
import { waitFor } from '../../support/wait.ts';
import { child, childrenNamed, parseXml } from '../../support/xml.ts';

const execProgram = promisify(execFile);
const TEST_URI = 'test:///default';
/** libvirt's test driver runs no guest, so the image is never read; nothing is downloaded. */
const IMAGE = {
  kernel: '/berth-test/vmlinux',
  initrd: '/berth-test/initrd.gz',
  kernelVersion: 'test-kernel',
};
const READY = '{"schemaVersion":1,"type":"ready","at":1,"node":"v20","kernel":"6.1"}';
const DONE = '{"schemaVersion":1,"type":"done"}';

/** virsh processes this test process started and that still run. */
function ourVirshProcesses(): string[] {
  try {
    return execFileSync('pgrep', ['-P', String(process.pid), '-x', 'virsh'], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean);
  } catch {
    return [];
  }
}

/** The names of every domain the session's connection knows. */
async function domains(session: VirshSession): Promise<string[]> {
  return (await session.run(['list', '--all', '--name'])).split('\n').filter(Boolean);
}

describe('libvirt through virsh -c test:///default', () => {
  let dir: string;
  let bundlesDir: string;
  const driverOptions = (extra: Partial<LibvirtDriverOptions> = {}): LibvirtDriverOptions => ({
    uri: TEST_URI,
    runnerPath: '/berth-test/runner.mjs',
    bundlesDir,
    imagesDir: join(dir, 'images'),
    image: IMAGE,
    ...extra,
  });

  beforeAll(async () => {
    dir = await tempDir('libvirt');
    // Quotes, < and & in the path: every one of them must reach libvirt escaped.
    bundlesDir = join(dir, `bundles-it's-"quoted"-<&>`);
  });

  afterAll(async () => {
    await cleanUp(() => removeDir(dir));
  });

  describe('availability', () => {
    it('reports the test driver unavailable: it simulates domains and measures nothing', async () => {
      const availability = await createLibvirtDriver(driverOptions()).availability();
      expect(availability).toEqual({
        available: false,
        version: expect.stringMatching(/^\d+\.\d+\.\d+ \(TEST \d/) as string,
        reason: TEST_DRIVER_REASON,
      });
      expect(ourVirshProcesses()).toEqual([]);
    });

    it("reports a URI virsh cannot reach with virsh's own error", async () => {
      const uri = 'qemu+unix:///system?socket=/nonexistent/berth-libvirt.sock';
      const availability = await createLibvirtDriver(driverOptions({ uri })).availability();
      expect(availability.available).toBe(false);
      expect(availability.reason).toContain(`libvirt at ${uri} cannot be used`);
      expect(availability.reason).toContain('/nonexistent/berth-libvirt.sock');
      expect(availability.reason).toContain('error: failed to connect to the hypervisor');
    });

    it('reports a host without virsh, with the package to install', async () => {
      const path = process.env['PATH'];
      process.env['PATH'] = '/nonexistent';
      try {
        expect(await createLibvirtDriver(driverOptions()).availability()).toEqual({
          available: false,
          reason: 'virsh is not installed (apt-get install libvirt-clients)',
        });
      } finally {
        process.env['PATH'] = path;
      }
    });
  });

  describe('one virsh session', () => {
    let session: VirshSession;

    beforeAll(async () => {
      session = await openVirshSession(TEST_URI);
    });

    afterAll(async () => {
      await session.close();
    });

    it('defines, starts, destroys and undefines a domain; another virsh does not see it', async () => {
      const name = 'berth-session-test';
      const xmlFile = join(dir, 'session-domain.xml');
      const scratchDir = join(bundlesDir, 'scratch');
      await writeFile(
        xmlFile,
        domainXml({
          name,
          type: 'test',
          memoryMiB: 128,
          vcpus: 1,
          kernel: IMAGE.kernel,
          initrd: IMAGE.initrd,
          cmdline: 'console=ttyS0',
          scratchDir,
          consoleLog: join(dir, 'console.log'),
        }),
      );
      await session.run(['define', '--validate', xmlFile]);
      await session.run(['start', name]);
      expect((await session.run(['domstate', name])).trim()).toBe('running');
      // libvirt's own parser reads back the escaped path.
      const dumped = parseXml(await session.run(['dumpxml', name]));
      const scratch = childrenNamed(child(dumped, 'devices') ?? dumped, 'filesystem')[1];
      expect(child(scratch ?? dumped, 'source')?.attributes['dir']).toBe(scratchDir);
      // The test driver keeps its domains per connection: a second virsh starts afresh.
      const { stdout } = await execProgram('virsh', ['-c', TEST_URI, 'list', '--all', '--name']);
      expect(stdout).not.toContain(name);

      await session.run(['destroy', name]);
      expect((await session.run(['domstate', name])).trim()).toBe('shut off');
      await session.run(['undefine', name]);
      expect(await domains(session)).not.toContain(name);
    });

    it("rejects a failing command with virsh's message, and carries on", async () => {
      const failure = await session
        .run(['start', 'berth-no-such-domain'])
        .catch((error: unknown) => error);
      expect(isBerthError(failure, 'BERTH_ERR_VIRSH')).toBe(true);
      expect((failure as Error).message).toBe(
        `virsh -c ${TEST_URI} start berth-no-such-domain: error: failed to get domain 'berth-no-such-domain'`,
      );
      await expect(session.run(['define', join(dir, 'missing.xml')])).rejects.toThrow(
        /error: Failed to open file .*missing\.xml/,
      );
      expect((await session.run(['uri'])).trim()).toBe(TEST_URI);
    });

    it("passes every argument through virsh's parser unchanged", async () => {
      for (const arg of [
        `it's`,
        '"double"',
        'two words',
        'semi;colon',
        '#hash',
        'back\\slash',
        '$HOME',
        'x'.repeat(300),
      ]) {
        expect(await session.run(['echo', arg])).toBe(arg);
      }
      await expect(session.run(['echo', 'line\nbreak'])).rejects.toThrow(/control characters/);
    });

    it('removes a domain whether it runs, was only defined, or does not exist', async () => {
      const xmlFile = join(dir, 'defined-only.xml');
      const spec = {
        type: 'test' as const,
        memoryMiB: 128,
        vcpus: 1,
        kernel: IMAGE.kernel,
        initrd: IMAGE.initrd,
        cmdline: 'console=ttyS0',
        scratchDir: dir,
        consoleLog: join(dir, 'console.log'),
      };
      await writeFile(xmlFile, domainXml({ ...spec, name: 'berth-defined-only' }));
      await session.run(['define', xmlFile]);
      await writeFile(xmlFile, domainXml({ ...spec, name: 'berth-running' }));
      await session.run(['define', xmlFile]);
      await session.run(['start', 'berth-running']);

      expect(await removeDomain(session, 'berth-defined-only')).toBe(true);
      expect(await removeDomain(session, 'berth-running')).toBe(true);
      expect(await removeDomain(session, 'berth-never-defined')).toBe(false);
      expect(await domains(session)).toEqual(['test']);
    });

    it('removes leftover domains through a session of its own, and reports what it cannot', async () => {
      // A fresh test connection holds one running domain, "test", as a leftover would be.
      expect(await removeLeftoverDomains(TEST_URI, ['test', 'berth-gone'])).toEqual({
        removed: ['test'],
        problems: [],
      });
      const unreachable = await removeLeftoverDomains(
        'qemu+unix:///system?socket=/nonexistent/berth-libvirt.sock',
        ['run-x-vm-s1'],
      );
      expect(unreachable.removed).toEqual([]);
      expect(unreachable.problems).toEqual([
        expect.stringContaining('failed to connect to the hypervisor') as string,
      ]);
      expect(ourVirshProcesses()).toHaveLength(1);
    });
  });

  describe('the driver', () => {
    let session: VirshSession;

    beforeAll(async () => {
      session = await openVirshSession(TEST_URI);
    });

    afterAll(async () => {
      await session.close();
    });

    it('runs an instance as a domain of the guest image, and leaves nothing when it stops', async () => {
      const driver = createLibvirtDriver(driverOptions({ session }));
      const id = 'run-lv1-vm-s1';
      const instance = await driver.start({ id, runnerArgs: ['--workloads', '', '--hold'] });
      const bundleDir = join(bundlesDir, id);
      expect((await session.run(['domstate', id])).trim()).toBe('running');
      expect(instance.settings).toMatchObject({
        libvirtUri: TEST_URI,
        domainType: 'test',
        memoryMiB: 256,
        vcpus: 1,
        kernel: 'test-kernel',
        memoryMeasure: expect.stringMatching(/^not measured/) as string,
      });
      expect(await instance.peakMemoryBytes()).toBeUndefined();

      const domain = parseXml(await session.run(['dumpxml', id]));
      expect(child(domain, 'os/kernel')?.text).toBe(IMAGE.kernel);
      const cmdline = child(domain, 'os/cmdline')?.text ?? '';
      expect(cmdline).toMatch(/^console=ttyS0 reboot=t panic=-1 tsc_early_khz=\d+ lpj=\d+ quiet /);
      expect(cmdline).toContain(`berth.cmd=${join(bundleDir, 'cmd.sh')}`);
      expect(cmdline).toContain(`berth.scratch=${join(bundleDir, 'scratch')}`);
      const [host, scratch] = childrenNamed(child(domain, 'devices') ?? domain, 'filesystem');
      expect(child(host ?? domain, 'target')?.attributes['dir']).toBe('host');
      expect(child(scratch ?? domain, 'source')?.attributes['dir']).toBe(
        join(bundleDir, 'scratch'),
      );
      expect(child(domain, 'devices/serial/source')?.attributes['path']).toBe(
        join(bundleDir, 'console.log'),
      );
      expect(await readFile(join(bundleDir, 'cmd.sh'), 'utf8')).toBe(
        `exec chroot /host '${process.execPath}' '/berth-test/runner.mjs' '--scratch' '${join(bundleDir, 'scratch').replaceAll("'", "'\\''")}' '--workloads' '' '--hold'\n`,
      );

      await instance.stop();
      expect(await domains(session)).not.toContain(id);
      expect(entriesOf(bundlesDir)).toEqual([]);
      await instance.stop();
    });

    it('reads the runner lines from the serial console file, and ends them at done', async () => {
      const driver = createLibvirtDriver(driverOptions({ session }));
      const id = 'run-lv2-vm-w';
      const instance = await driver.start({ id, runnerArgs: [] });
      try {
        // libvirt's test driver writes nothing: this test writes what a guest would.
        const consoleLog = join(bundlesDir, id, 'console.log');
        await writeFile(consoleLog, '[    0.000000] Linux version 6.1.0\r\n');
        await appendFile(consoleLog, `${READY}\r\n${DONE}\r\n`);
        const lines: string[] = [];
        for await (const { line } of instance.lines) lines.push(line.type);
        expect(lines).toEqual(['ready', 'done']);
      } finally {
        await instance.stop();
      }
      expect(await domains(session)).not.toContain(id);
    });

    it('ends the lines when the domain stops running', async () => {
      const driver = createLibvirtDriver(driverOptions({ session, statePollMs: 50 }));
      const id = 'run-lv3-vm-w';
      const instance = await driver.start({ id, runnerArgs: [] });
      try {
        const lines: string[] = [];
        const reading = (async () => {
          for await (const { line } of instance.lines) lines.push(line.type);
        })();
        await writeFile(join(bundlesDir, id, 'console.log'), `${READY}\n`);
        await waitFor('the ready line', () => lines.length === 1, 5_000, 10);
        await session.run(['destroy', id]);
        await reading;
        expect(lines).toEqual(['ready']);
      } finally {
        await instance.stop();
      }
      expect(await domains(session)).not.toContain(id);
    });

    it('fails the lines of a guest that prints nothing in the boot time', async () => {
      const driver = createLibvirtDriver(driverOptions({ session, bootTimeoutMs: 300 }));
      const instance = await driver.start({ id: 'run-lv4-vm-s1', runnerArgs: [] });
      try {
        const reading = (async () => {
          for await (const item of instance.lines) expect(item).toBeUndefined();
        })();
        await expect(reading).rejects.toThrow(
          'the guest printed nothing in 300 ms (domain run-lv4-vm-s1)',
        );
      } finally {
        await instance.stop();
      }
    });

    it('undoes a start that libvirt refuses, says why, and leaves the domain it collided with', async () => {
      const driver = createLibvirtDriver(driverOptions({ session }));
      // The test driver's own domain is called "test": defining another one by that name fails.
      await expect(driver.start({ id: 'test', runnerArgs: [] })).rejects.toThrow(
        /^virsh -c test:\/\/\/default define --validate .*domain\.xml.*: error: .*already exists/s,
      );
      expect(entriesOf(bundlesDir)).toEqual([]);
      expect((await session.run(['domstate', 'test'])).trim()).toBe('running');
    });

    it('with no session given, keeps one virsh running while an instance lives, and none after', async () => {
      const driver = createLibvirtDriver(driverOptions());
      const first = await driver.start({ id: 'run-lv6-vm-s1', runnerArgs: [] });
      const second = await driver.start({ id: 'run-lv6-vm-s2', runnerArgs: [] });
      expect(ourVirshProcesses()).toHaveLength(2); // this suite's session and the driver's one
      await first.stop();
      expect(ourVirshProcesses()).toHaveLength(2);
      await second.stop();
      expect(ourVirshProcesses()).toHaveLength(1);
      expect(entriesOf(bundlesDir)).toEqual([]);
    });
  });

  describe('--platforms', () => {
    const agentRun = (platforms: string) =>
      runBerth(['agent', 'run', '--platforms', platforms, '--data-dir', join(dir, 'agent')], {
        BERTH_LIBVIRT_URI: TEST_URI,
        // Nothing listens here: the run keeps its results for a later one.
        NATS_URL: 'nats://127.0.0.1:1',
      });

    it.each([
      ['vm:libvirt', ['vm:libvirt']],
      ['vm', ['vm:qemu-microvm', 'vm:libvirt']],
      ['vm:qemu-microvm,process', ['vm:qemu-microvm', 'process:node']],
    ])('accepts %s', async (platforms, drivers) => {
      const selected = await selectDrivers(
        {
          dataDir: join(dir, 'agent'),
          libvirtUri: TEST_URI,
          containersPerVm: 1,
          dockerEngine: 'auto',
          libvirtDaemon: 'auto',
        },
        platforms.split(','),
      );
      expect(selected.map(driverName).sort()).toEqual([...drivers].sort());
    });

    it('runs a selection whose one platform skips itself, measuring nothing', async () => {
      const result = await agentRun('vm:libvirt');
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain(': 0 results');
      expect(result.stderr).not.toContain('--platforms');
    });

    it('refuses an unknown name, listing the platforms and platform:runtime names', async () => {
      const result = await agentRun('vm:xen');
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(
        '--platforms: unknown vm:xen (known: process, container, vm, container-in-vm, ' +
          'vm-in-container, process:node, container:runc, container:crun, container:docker, ' +
          'container:podman, container:lxc, vm:qemu-microvm, container-in-vm:qemu-microvm, ' +
          'vm-in-container:runc-qemu-microvm, vm:libvirt) ' +
          '[BERTH_ERR_UNKNOWN_PLATFORM]',
      );
    });
  });
});
