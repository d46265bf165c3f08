import { execFile, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync } from 'node:fs';
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
});
