import { execFile, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processesMatching } from '../../support/leftovers.ts';
import { removeDir, tempDir } from '../../support/servers.ts';
import { waitFor } from '../../support/wait.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const execFileAsync = promisify(execFile);

/**
 * Berth as a newcomer runs it in a fresh clone of this repository's HEAD: the README's first
 * command, `npm start` (npm installs the packages, from npm's cache where it can), then Ctrl-C,
 * which a terminal sends to the whole foreground process group (npm, sh and berth); then an
 * agent command with every setting at its default, its data folder relative to the clone.
 */
describe('from a clean clone', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await tempDir('clone');
    execFileSync('git', ['clone', '--quiet', REPO, join(dir, 'berth')]);
  });

  afterAll(async () => {
    await removeDir(dir);
  });

  it('installs what is missing, reaches "dashboard ready", and stops cleanly on Ctrl-C', async () => {
    const clone = join(dir, 'berth');
    const dataDir = join(dir, 'data');
    expect(existsSync(join(clone, 'node_modules'))).toBe(false);
    const npm = spawn('npm', ['start'], {
      cwd: clone,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        npm_config_prefer_offline: 'true',
        BERTH_DATA_DIR: dataDir,
        BERTH_ADVISOR_PORT: '0',
        BERTH_METRICS_PORT: '0',
        BERTH_LOG_LEVEL: 'warn',
        NATS_URL: '',
        CLICKHOUSE_URL: '',
      },
    });
    let out = '';
    let err = '';
    npm.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    npm.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const exited = once(npm, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;

    await waitFor(
      '"dashboard ready"',
      () => /dashboard ready: http:\/\/\S+\/\n/.test(out),
      170_000,
    );
    expect(err).toContain('setup: installing npm packages');
    const url = /dashboard ready: (http:\/\/\S+)\n/.exec(out)?.[1] ?? '';
    expect((await fetch(`${url}healthz`)).status).toBe(200);

    process.kill(-(npm.pid ?? 0), 'SIGINT');
    const [code, signal] = await exited;
    // npm passes the Ctrl-C on as its own exit; berth says how it stopped.
    expect(code === 0 || signal === 'SIGINT', `npm: ${code ?? signal}`).toBe(true);
    expect(out).toContain('stopped cleanly');
    expect(err).not.toMatch(/^berth: |^\s+at /m);
    expect(processesMatching(dataDir)).toEqual([]);
  }, 180_000);

  it('measures the VM platforms with the default data folder, relative to the clone', async () => {
    const clone = join(dir, 'berth');
    const { stdout } = await execFileAsync(
      'node',
      ['bin/berth.js', 'agent', 'platforms', '--json'],
      {
        cwd: clone,
        env: { ...process.env, BERTH_DATA_DIR: '', BERTH_LOG_LEVEL: 'warn' },
        timeout: 170_000,
      },
    );
    const platforms = JSON.parse(stdout) as {
      platform: string;
      available: boolean;
      reason: string;
    }[];
    for (const platform of ['vm', 'container-in-vm']) {
      const found = platforms.find((each) => each.platform === platform && each.available);
      expect(
        found,
        `${platform}: ${platforms.map((each) => `${each.platform} ${each.reason}`).join('; ')}`,
      ).toBeDefined();
    }
    expect(readdirSync(join(clone, '.berth', 'agent', 'images')).length).toBeGreaterThan(0);
  }, 180_000);

  it('runs the build setup made, with no transpiler; builds again when a source changes, and a broken source stops it naming the file', async () => {
    const clone = join(dir, 'berth');
    const builds = (): string[] =>
      readdirSync(join(clone, 'dist')).filter((name) => !name.startsWith('.'));
    const [built] = builds();
    expect(builds()).toHaveLength(1);
    expect(existsSync(join(clone, 'dist', built ?? '', 'berth.js'))).toBe(true);
    // Without tsx in node_modules, only the compiled build can run.
    renameSync(join(clone, 'node_modules', 'tsx'), join(dir, 'tsx'));
    const berth = (args: readonly string[]): Promise<{ stdout: string; stderr: string }> =>
      execFileAsync('node', ['bin/berth.js', ...args], { cwd: clone, timeout: 60_000 });
    const same = await berth(['results', '--help']);
    expect(same.stderr).toBe('');
    expect(builds()).toEqual([built]);

    const source = join(clone, 'cli', 'commands', 'results.ts');
    const text = readFileSync(source, 'utf8');
    writeFileSync(source, text.replace("'only this platform'", "'only this platform, changed'"));
    const changed = await berth(['results', '--help']);
    expect(changed.stdout).toContain('only this platform, changed');
    expect(changed.stderr).toMatch(/^berth: building dist\/\w+ \(the sources changed\)\n$/);
    expect(builds()).toHaveLength(2);

    writeFileSync(source, `${text}\nexport const broken = ;\n`);
    const failed = await berth(['--version']).then(
      () => undefined,
      (error: unknown) => error as { code: number; stderr: string },
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stderr).toMatch(
      /^berth: building dist\/\w+ \(the sources changed\)\nberth: the build failed: cli\/commands\/results\.ts:\d+:\d+: .+\n$/,
    );
    expect(builds()).toHaveLength(2);
    writeFileSync(source, text);
    expect((await berth(['--version'])).stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
    renameSync(join(dir, 'tsx'), join(clone, 'node_modules', 'tsx'));
  }, 180_000);
});
