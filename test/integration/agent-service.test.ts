import { execFile, spawnSync } from 'node:child_process';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  installAgentService,
  uninstallAgentService,
} from '../../agents/host-agent/service-install.ts';
import {
  agentEnvFile,
  agentUnitFile,
  installedBy,
  SERVICE_DATA_DIR,
} from '../../agents/host-agent/systemd-unit.ts';
import { BERTH_BIN, runBerth } from '../../support/cli.ts';
import { removeDir, tempDir } from '../../support/servers.ts';

const execProgram = promisify(execFile);
const CHECKOUT = join(BERTH_BIN, '..', '..');
const UNIT = 'etc/systemd/system/berth-agent.service';
const ENV = 'etc/berth/agent.env';

/** Every file and folder under root, with its mode, so a test can compare before and after. */
async function tree(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true });
  return Promise.all(
    entries.sort().map(async (entry) => {
      const info = await stat(join(root, entry));
      return `${entry} ${(info.mode & 0o7777).toString(8)}`;
    }),
  );
}

const hasSystemdAnalyze =
  spawnSync('systemd-analyze', ['--version'], { stdio: 'ignore' }).status === 0;

/** systemd-analyze verify of a unit file; resolves with what it printed, rejects on failure. */
async function verify(unitPath: string): Promise<string> {
  const { stdout, stderr } = await execProgram('systemd-analyze', ['verify', unitPath]);
  return stdout + stderr;
}

describe('berth agent install / uninstall', () => {
  let root: string;

  beforeEach(async () => {
    root = await tempDir('systemd');
    // A host as install finds it: /etc and the unit folder exist, /etc/berth does not.
    await mkdir(join(root, 'etc/systemd/system'), { recursive: true });
  });

  afterEach(async () => {
    await removeDir(root);
  });

  it('writes the unit and a 0600 environment file with the settings given; uninstall removes exactly those', async () => {
    const before = await tree(root);
    const installed = await runBerth(
      ['agent', 'install', '--root', root, '--nats-url', 'nats://agent:s3cret@nats-1:4222'],
      { BERTH_LOG_LEVEL: 'debug', BERTH_CONTAINERS_PER_VM: '3' },
    );
    expect(installed.stderr).toBe('');
    expect(installed.code).toBe(0);
    expect(installed.stdout).toContain(`systemctl not run: the files were written under ${root}`);
    expect(installed.stdout).toContain('systemctl enable --now berth-agent.service');

    const unit = await readFile(join(root, UNIT), 'utf8');
    expect(unit).toContain('EnvironmentFile=/etc/berth/agent.env\n');
    expect(unit).toContain(`WorkingDirectory=${CHECKOUT}\n`);
    expect(unit).toContain(`ExecStart="${process.execPath}" "${BERTH_BIN}" agent start\n`);
    expect(unit).toContain('Restart=on-failure\n');
    expect(unit).toContain('KillMode=mixed\n');
    expect(unit).toMatch(/\nTimeoutStopSec=\d+\n/);
    expect(installedBy(unit)).toEqual({
      envFile: '/etc/berth/agent.env',
      madeDirs: ['/etc/berth'],
    });

    const env = await readFile(join(root, ENV), 'utf8');
    expect(env.split('\n').filter((line) => !line.startsWith('#'))).toEqual([
      `BERTH_DATA_DIR="${SERVICE_DATA_DIR}"`,
      'NATS_URL="nats://agent:s3cret@nats-1:4222"',
      'BERTH_LIBVIRT_URI="qemu:///system"',
      'BERTH_CONTAINERS_PER_VM="3"',
      'BERTH_DOCKER_ENGINE="auto"',
      // As BERTH_MAX_FOREIGN_LOAD below, runBerth gives it.
      'BERTH_LIBVIRT_DAEMON="system"',
      'BERTH_EQUIVALENCE_MARGIN="0.03"',
      'BERTH_MAX_STEAL="0.05"',
      // runBerth gives it (SHARED_HOST_ENV), so it is a setting given.
      'BERTH_MAX_FOREIGN_LOAD="64"',
      // runBerth gives it too (SHARED_HOST_ENV).
      'BERTH_LOAD_WORKLOAD="off"',
      'BERTH_SLO_SHARE="0.9"',
      'BERTH_ANTAGONISTS="cpu-hog,memory-bandwidth,fsync-storm,fork-storm"',
      'BERTH_LOG_LEVEL="debug"',
      '',
    ]);
    expect((await stat(join(root, ENV))).mode & 0o777).toBe(0o600);
    expect((await stat(join(root, UNIT))).mode & 0o777).toBe(0o644);
    expect(await tree(root)).toEqual(
      [...before, 'etc/berth 755', `${ENV} 600`, `${UNIT} 644`].sort(),
    );

    const removed = await runBerth(['agent', 'uninstall', '--root', root]);
    expect(removed.code).toBe(0);
    expect(removed.stdout).toContain(join(root, ENV));
    expect(removed.stdout).toContain('systemctl disable --now berth-agent.service');
    expect(await tree(root)).toEqual(before);

    const again = await runBerth(['agent', 'uninstall', '--root', root]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('nothing removed');
  });

  it('a reinstall replaces its own files, keeps the folder the first made on its list, and moves the environment file', async () => {
    const before = await tree(root);
    const install = (envFile: string, natsUrl: string): Promise<string[]> =>
      installAgentService({
        root,
        unitDir: '/etc/systemd/system',
        envFile,
        node: process.execPath,
        berth: BERTH_BIN,
        workingDirectory: CHECKOUT,
        variables: [['NATS_URL', natsUrl]],
      });
    await install('/etc/berth/agent.env', 'nats://a:4222');
    await install('/etc/berth/agent.env', 'nats://b:4222');
    expect(await readFile(join(root, ENV), 'utf8')).toContain('NATS_URL="nats://b:4222"');
    expect(installedBy(await readFile(join(root, UNIT), 'utf8'))).toEqual({
      envFile: '/etc/berth/agent.env',
      madeDirs: ['/etc/berth'],
    });
    await install('/etc/berth-agent/env', 'nats://c:4222');
    expect(await tree(root)).toEqual(
      [...before, 'etc/berth-agent 755', 'etc/berth-agent/env 600', `${UNIT} 644`].sort(),
    );
    await uninstallAgentService({ root, unitDir: '/etc/systemd/system' });
    expect(await tree(root)).toEqual(before);
  });

  it('leaves alone a unit or environment file it did not write, and a folder that is not empty', async () => {
    await writeFile(join(root, UNIT), '[Service]\nExecStart=/bin/true\n');
    const refused = await runBerth(['agent', 'install', '--root', root]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('was not written by berth agent install');
    expect(await readFile(join(root, UNIT), 'utf8')).toBe('[Service]\nExecStart=/bin/true\n');
    await expect(uninstallAgentService({ root, unitDir: '/etc/systemd/system' })).rejects.toThrow(
      /not written by berth agent install/,
    );

    const unitDir = '/etc/other';
    await installAgentService({
      root,
      unitDir,
      envFile: '/etc/berth/agent.env',
      node: process.execPath,
      berth: BERTH_BIN,
      workingDirectory: CHECKOUT,
      variables: [],
    });
    await writeFile(join(root, 'etc/berth/notes.txt'), 'mine');
    const removed = await uninstallAgentService({ root, unitDir });
    expect(removed.map((path) => relative(root, path))).toEqual([
      ENV,
      'etc/other/berth-agent.service',
    ]);
    expect(await readFile(join(root, 'etc/berth/notes.txt'), 'utf8')).toBe('mine');
  });

  it('quotes what systemd and the environment file would read as special', () => {
    const unit = agentUnitFile({
      node: '/opt/node 20/bin/node',
      berth: '/srv/100%/b"erth$/bin/berth.js',
      workingDirectory: '/srv/100%/b"erth$',
      envFile: '/etc/berth/agent.env',
      madeDirs: [],
    });
    expect(unit).toContain(
      'ExecStart="/opt/node 20/bin/node" "/srv/100%%/b\\"erth$$/bin/berth.js" agent start',
    );
    expect(unit).toContain('WorkingDirectory=/srv/100%%/b"erth$\n');
    expect(unit).toContain('Documentation=file:///srv/100%%25/b%%22erth$/docs/deploy.md\n');
    expect(agentEnvFile([['NATS_URL', 'nats://u:p"$`\\@h:4222']])).toContain(
      'NATS_URL="nats://u:p\\"\\$\\`\\\\@h:4222"\n',
    );
    expect(() => agentEnvFile([['NATS_URL', 'a\nB=c']])).toThrow(/one line/);
    expect(() => agentEnvFile([['lower', 'x']])).toThrow(/not a variable name/);
  });

  it('systemd-analyze verify accepts the unit (and refuses a broken one)', async (context) => {
    context.skip(
      !hasSystemdAnalyze,
      'systemd-analyze is not installed here (Debian package systemd), so the unit is not verified',
    );
    await installAgentService({
      root,
      unitDir: '/etc/systemd/system',
      envFile: '/etc/berth/agent.env',
      node: process.execPath,
      berth: BERTH_BIN,
      workingDirectory: CHECKOUT,
      variables: [['NATS_URL', 'nats://127.0.0.1:4222']],
    });
    expect(await verify(join(root, UNIT))).toBe('');

    // What the check would catch: a program that is not there fails it, a setting systemd
    // cannot read is only a warning, which the empty output above rules out.
    const broken = join(root, 'broken.service');
    const unit = await readFile(join(root, UNIT), 'utf8');
    await writeFile(broken, unit.replace(/^ExecStart="[^"]+"/m, 'ExecStart="/nonexistent/node"'));
    await expect(verify(broken)).rejects.toThrow(/\/nonexistent\/node is not executable/);
    await writeFile(broken, unit.replace(/^KillMode=.*$/m, 'KillMode=sometimes'));
    expect(await verify(broken)).toMatch(/Failed to parse kill mode/);
  });
});
