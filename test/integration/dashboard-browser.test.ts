import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTAINER, PROCESS } from '../helpers/advice-fixtures.ts';
import {
  platformResults,
  seedInventory,
  seedResults,
  type AdvisorStack,
} from '../helpers/advisor.ts';
import { startAdvisorStack } from '../helpers/advisor.ts';
import { launchBrowser, screenshot } from '../helpers/browser.ts';
import { spawnBerth, type BerthProcess } from '../helpers/cli.ts';
import { removeDir, tempDir } from '../helpers/servers.ts';

/**
 * The dashboard in a real browser (Debian's chromium through playwright-core) against a real
 * advisor: nats-server, the embedded store, ingest, the evidence cache, the fleet and the
 * advisor's server, which serves the page; and a real agent (`berth agent start`) that runs
 * jobs on the bare process only, so "run now" finishes in seconds.
 */

const HOST = 'host-browser';

let stack: AdvisorStack;
let browser: Browser;
let agentDir: string;
let agent: BerthProcess;
let agentHost: string;

beforeAll(async () => {
  stack = await startAdvisorStack();
  agentDir = await tempDir('dashboard-agent');
  agent = spawnBerth(['agent', 'start'], {
    NATS_URL: stack.ingest.nats.url,
    BERTH_DATA_DIR: agentDir,
    BERTH_JOB_PLATFORMS: 'process',
  });
  const ready = await agent.waitForLine(/berth agent ready/, 90_000);
  agentHost = /host (\S+),/.exec(ready)?.[1] ?? '';
  await seedInventory(stack, HOST);
  await seedResults(stack, [
    ...platformResults(HOST, PROCESS),
    ...platformResults(HOST, CONTAINER),
  ]);
  browser = await launchBrowser();
}, 120_000);

afterAll(async () => {
  await browser.close();
  agent.child.kill('SIGTERM');
  await new Promise((resolve) => agent.child.once('exit', resolve));
  await stack.stop();
  await removeDir(agentDir);
});

async function openDashboard(view: 'ask' | 'fleet' | 'measurements' | 'history'): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(`${stack.url}/#${view}`);
  await page.locator('#connection[data-state="connected"]').waitFor();
  return page;
}

/** Fills the Ask form with a CI job's question and submits it. */
async function ask(page: Page, fields: Record<string, string> = {}): Promise<void> {
  const values = {
    'ask-workload': 'ci-job',
    'ask-lifetimeSeconds': '180',
    'ask-instances': '400',
    ...fields,
  };
  for (const [id, value] of Object.entries(values)) await page.locator(`#${id}`).fill(value);
  await page.locator('#ask-os-family').selectOption('linux');
  await page.locator('#ask-trust').selectOption('trusted');
  await page.locator('#ask-submit').click();
}

describe('the dashboard in a browser', () => {
  it('asks a question and shows the ranked answer with its score parts', async () => {
    const page = await openDashboard('ask');
    await ask(page);
    const options = page.getByTestId('option');
    await options.first().waitFor();
    expect(await options.count()).toBeGreaterThanOrEqual(2);
    const first = await options.first().getByTestId('option-score').textContent();
    expect(Number.parseFloat(first ?? '')).toBeGreaterThan(0);
    await expect(page.getByTestId('score-parts-chart').first().isVisible()).resolves.toBe(true);
    await expect(page.getByTestId('confidence-value').textContent()).resolves.toMatch(/\d/);
    await screenshot(page, 'dashboard-ask');
    await page.close();
  });

  it('updates the answer and the charts in place when new measurements land', async () => {
    const page = await openDashboard('ask');
    await ask(page);
    await page.getByTestId('option').first().waitFor();
    await page.locator('#tab-measurements').click();
    const chart = page.getByTestId('chart-throughput');
    await chart.waitFor();
    const before = await chart.getAttribute('aria-label');

    const slower = { ...CONTAINER, ratios: { ...CONTAINER.ratios, 'cpu-sha256': 0.5 } };
    await seedResults(stack, [...platformResults(HOST, PROCESS), ...platformResults(HOST, slower)]);
    await expect.poll(() => chart.getAttribute('aria-label'), { timeout: 20_000 }).not.toBe(before);
    await screenshot(page, 'dashboard-measurements-updated');

    await page.locator('#tab-ask').click();
    const updated = page.getByTestId('answer-updated');
    await updated.waitFor({ state: 'visible', timeout: 20_000 });
    expect(await updated.textContent()).toMatch(/new measurements/i);
    expect(page.url()).toContain('#ask');
    await screenshot(page, 'dashboard-answer-updated');
    await page.close();
  });

  it('runs the suite now on a host and shows its progress live until done', async () => {
    const page = await openDashboard('fleet');
    const row = page.locator(`[data-testid="host-row"][data-host-id="${agentHost}"]`);
    await row.waitFor();
    await row.getByTestId('run-now').click();
    const status = row.getByTestId('run-status');
    await expect.poll(() => status.textContent(), { timeout: 20_000 }).toMatch(/running \d+\/\d+/);
    await screenshot(page, 'dashboard-run-running');
    await expect.poll(() => status.textContent(), { timeout: 120_000 }).toMatch(/done (\d+)\/\1/);
    // A <progress> element's value and max properties set its attributes.
    const bar = row.getByTestId('run-progress');
    const [value, max] = (
      await Promise.all([bar.getAttribute('value'), bar.getAttribute('max')])
    ).map(Number);
    expect(max).toBeGreaterThan(1);
    expect(value).toBe(max);
    await screenshot(page, 'dashboard-run-done');
    await page.close();
  }, 180_000);

  it('shows a bad field beside the field, and the page stays usable', async () => {
    const page = await openDashboard('ask');
    await ask(page, { 'ask-lifetimeSeconds': '-5' });
    const error = page.locator('#ask-lifetimeSeconds-error');
    await expect.poll(() => error.textContent(), { timeout: 10_000 }).toMatch(/\S/);
    await expect(page.locator('#ask-lifetimeSeconds').getAttribute('aria-invalid')).resolves.toBe(
      'true',
    );
    await screenshot(page, 'dashboard-field-error');
    await ask(page, { 'ask-lifetimeSeconds': '180' });
    await page.getByTestId('option').first().waitFor();
    expect(await error.textContent()).toBe('');
    await page.close();
  });
});
