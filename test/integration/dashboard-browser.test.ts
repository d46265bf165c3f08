import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTAINER, GVISOR, PROCESS, withIntervals } from '../../support/advice-fixtures.ts';
import {
  platformResults,
  seedMeasuredHost,
  seedResults,
  startAdvisorStack,
  type AdvisorStack,
} from '../../support/advisor.ts';
import { launchBrowser, screenshot } from '../../support/browser.ts';
import { spawnBerth, type BerthProcess } from '../../support/cli.ts';
import { densityLoadResults, interferenceResults } from '../../support/results.ts';
import { removeDir, tempDir } from '../../support/servers.ts';

/**
 * The dashboard in a real browser (Debian's chromium through playwright-core) against a real
 * advisor: nats-server, the embedded store, ingest, the evidence cache, the fleet and the
 * advisor's server, which serves the page; and a real agent (`berth agent start`) that runs
 * jobs on the bare process only, in two rounds, so "run now" finishes in seconds.
 */

const HOST = 'host-browser';
/** A host whose container was measured in rounds with ±30% intervals: a tie in the Ask view. */
const TIED_HOST = 'host-browser-tied';
/**
 * A host measured in rounds: its runc container within ±2% of the bare process, its gVisor
 * container within ±3%, from runs whose calibration canary missed.
 */
const ROUNDS_HOST = 'host-browser-rounds';
/**
 * A host whose runc container was measured at load (1, 2, 4 and 8 instances; the worst kept
 * 90% of one alone up to 4) and beside three of the four antagonists.
 */
const LOAD_HOST = 'host-browser-load';

let stack: AdvisorStack;
let browser: Browser;
let agentDir: string;
let agent: BerthProcess;
let agentHost: string;
/** Jobs of the agent that have ended (done, failed or rejected), by id. */
const endedJobs = new Set<string>();

beforeAll(async () => {
  stack = await startAdvisorStack();
  stack.advisor.onJobProgress((progress) => {
    if (['done', 'failed', 'rejected'].includes(progress.state)) endedJobs.add(progress.jobId);
  });
  agentDir = await tempDir('dashboard-agent');
  agent = spawnBerth(['agent', 'start'], {
    NATS_URL: stack.ingest.nats.url,
    BERTH_DATA_DIR: agentDir,
    BERTH_JOB_PLATFORMS: 'process',
    BERTH_ROUNDS: '2',
  });
  const ready = await agent.waitForLine(/berth agent ready/, 90_000);
  agentHost = /host (\S+),/.exec(ready)?.[1] ?? '';
  await seedMeasuredHost(stack, HOST, [PROCESS, CONTAINER]);
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

/** The part of a canvas the pixel count reads: the tests compile without the DOM's types. */
interface Canvas {
  readonly width: number;
  readonly height: number;
  getContext(kind: '2d'): {
    getImageData(
      x: number,
      y: number,
      width: number,
      height: number,
    ): {
      readonly data: Uint8ClampedArray;
    };
  } | null;
}

/** How many opaque pixels of the chart's canvas have each colour (#rrggbb) exactly. */
function pixelsOfColours(chart: Locator, colours: readonly string[]): Promise<number[]> {
  return chart.locator('canvas').evaluate((canvas: Canvas, wanted: readonly string[]) => {
    const pixels =
      canvas.getContext('2d')?.getImageData(0, 0, canvas.width, canvas.height).data ??
      new Uint8ClampedArray();
    return wanted.map((colour) => {
      const [red, green, blue] = [1, 3, 5].map((start) =>
        Number.parseInt(colour.slice(start, start + 2), 16),
      );
      let count = 0;
      for (let index = 0; index < pixels.length; index += 4) {
        if (
          pixels[index] === red &&
          pixels[index + 1] === green &&
          pixels[index + 2] === blue &&
          pixels[index + 3] === 255
        ) {
          count += 1;
        }
      }
      return count;
    });
  }, colours);
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
    // The answer opens with its verdict: the first option and the hosts each option needs.
    const verdict = page.locator('[data-testid=answer] > :first-child');
    await expect(verdict.getAttribute('data-testid')).resolves.toBe('verdict');
    await expect(verdict.textContent()).resolves.toMatch(
      /^Run it as \S+ \(score [\d.]+.*instances need/,
    );
    // Then the options side by side, in the answer's order, before the details.
    const glance = page.locator(
      '[data-testid=answer] > :nth-child(2) [data-testid=options-summary]',
    );
    const rows = glance.getByTestId('options-summary-row');
    await expect(rows.count()).resolves.toBe(await options.count());
    await expect(rows.first().getAttribute('data-placement')).resolves.toBe(
      await options.first().getAttribute('data-placement'),
    );
    await expect(rows.first().locator('td').first().textContent()).resolves.toMatch(/^[\d.]+/);
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
    // The questions asked above sent the agent a run of its own (its evidence is not fresh):
    // "run now" is refused while that one is under way, so wait for it to end. The row's
    // busy mark comes from heartbeats, which can lag the job's start: follow the job instead.
    const advisorJobs = stack.advisor
      .requestedRuns()
      .filter((run) => run.hostId === agentHost && run.state === 'accepted')
      .map((run) => run.jobId);
    await expect
      .poll(() => advisorJobs.filter((jobId) => !endedJobs.has(jobId)), { timeout: 150_000 })
      .toEqual([]);
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
  }, 330_000);

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

  it('marks the options tied within measurement error, with the rule that broke the tie', async () => {
    await seedMeasuredHost(stack, TIED_HOST, [PROCESS, withIntervals(CONTAINER, 0.3)]);
    const page = await openDashboard('ask');
    await ask(page, {
      'ask-lifetimeSeconds': '900',
      'ask-instances': '10',
      'ask-hosts': TIED_HOST,
    });
    const tieBreak = page.getByTestId('tie-break');
    await tieBreak.waitFor();
    await expect(tieBreak.getAttribute('data-rule')).resolves.toBe('stronger-isolation');
    await expect(tieBreak.textContent()).resolves.toContain('tied within measurement error');
    const container = page.locator('[data-testid=option][data-placement=container]');
    await expect(container.getByTestId('tied').textContent()).resolves.toBe('tied');
    await expect(container.getByTestId('option-score').textContent()).resolves.toMatch(
      /points \[[\d.]+–[\d.]+\]$/,
    );
    const first = page.getByTestId('option').first();
    await expect(first.getByTestId('tied').count()).resolves.toBe(1);
    await expect(first.getAttribute('data-placement')).resolves.not.toBe('container');
    await screenshot(page, 'dashboard-ask-tied');
    await page.close();
  });

  it('shows each comparison with the bare process with its interval and verdict, and marks uncalibrated results', async () => {
    await seedMeasuredHost(stack, ROUNDS_HOST, [
      PROCESS,
      withIntervals(CONTAINER, 0.02),
      withIntervals(GVISOR, 0.03, 1),
    ]);
    const page = await openDashboard('measurements');
    await page.locator('#m-workload').selectOption('cpu-sha256');
    await page.locator('#m-host').selectOption(ROUNDS_HOST);
    const table = page.getByTestId('summary-throughput');
    const comparisonOf = (runtime: string): Locator =>
      table
        .locator(`tr[data-host-id="${ROUNDS_HOST}"][data-runtime="${runtime}"]`)
        .getByTestId('comparison');
    // 0.99 ± 2% lies within the 3% margin; 0.98 ± 3% reaches past it below and above 1.
    await expect
      .poll(() => comparisonOf('runc').textContent(), { timeout: 20_000 })
      .toBe('0.99× [0.97–1.01] same');
    await expect(comparisonOf('runsc').textContent()).resolves.toBe(
      '0.98× [0.95–1.01] unclear uncalibrated',
    );
    await expect(
      comparisonOf('runsc').getByTestId('uncalibrated').getAttribute('title'),
    ).resolves.toBe('1 of 1 results came from runs whose calibration canary missed');
    await expect(comparisonOf('runc').getByTestId('uncalibrated').count()).resolves.toBe(0);
    await expect(comparisonOf('node').textContent()).resolves.toBe('');

    const chart = page.getByTestId('comparison-chart-throughput');
    const label = await chart.getAttribute('aria-label');
    expect(label).toContain('container/runc 0.99× [0.97–1.01] same');
    expect(label).toContain('container/runsc 0.98× [0.95–1.01] unclear');
    expect(label).not.toContain('process/node');
    await chart.locator('canvas').waitFor();
    // The whiskers and points are drawn in their verdict's colour: same blue, unclear amber.
    const [same, unclear] = await pixelsOfColours(chart, ['#2563eb', '#d97706']);
    expect(same).toBeGreaterThan(0);
    expect(unclear).toBeGreaterThan(0);
    await screenshot(page, 'dashboard-measurements-comparisons');

    // Version 1 results carry no comparison: no column, no chart.
    await page.locator('#m-host').selectOption(HOST);
    await expect
      .poll(() => page.getByTestId('chart-throughput').getAttribute('aria-label'), {
        timeout: 20_000,
      })
      .not.toContain('runsc');
    await expect(chart.count()).resolves.toBe(0);
    await expect(table.getByTestId('comparison').count()).resolves.toBe(0);
    await expect(table.locator('thead').textContent()).resolves.not.toContain('paired');
    await page.close();
  });

  it('draws density at load against N with its knee and SLO, and the interference table', async () => {
    const container = {
      hostId: LOAD_HOST,
      platform: 'container',
      runtime: 'runc',
      accel: 'none',
    } as const;
    await seedResults(stack, [
      ...densityLoadResults(
        container,
        [
          { instances: 1, throughput: 6200, sloShare: 1, memoryMiB: 12 },
          { instances: 2, throughput: 6100, sloShare: 0.97, memoryMiB: 12.2 },
          { instances: 4, throughput: 5800, sloShare: 0.93, memoryMiB: 12.5 },
          { instances: 8, throughput: 3100, sloShare: 0.48, memoryMiB: 13 },
        ],
        4,
        0.9,
      ),
      ...interferenceResults(container, {
        'cpu-hog': { ratio: 0.71, low: 0.66, high: 0.77, verdict: 'slower' },
        'fsync-storm': { ratio: 0.99, low: 0.97, high: 1.01, verdict: 'same' },
        'fork-storm': { ratio: 0.9, low: 0.84, high: 0.98, verdict: 'slower' },
      }),
    ]);
    const page = await openDashboard('measurements');
    await page.locator('#m-host').selectOption(LOAD_HOST);
    const curve = page.locator(
      `[data-testid=density-curve][data-host-id="${LOAD_HOST}"][data-platform=container][data-runtime=runc]`,
    );
    await curve.waitFor({ timeout: 20_000 });
    const knee = curve.getByTestId('density-knee');
    await expect(knee.getAttribute('data-instances')).resolves.toBe('4');
    await expect(knee.textContent()).resolves.toMatch(/^knee: 4 instances — .* 90% of one/);
    await expect(
      curve
        .locator('[data-testid=density-steps] tr[data-instances="4"]')
        .getByTestId('knee-step')
        .count(),
    ).resolves.toBe(1);

    // Each chart names its figures and the knee; the SLO chart the SLO too.
    const throughput = curve.getByTestId('chart-density-throughput');
    const memory = curve.getByTestId('chart-density-memory');
    const share = curve.getByTestId('chart-slo-share');
    await expect(throughput.getAttribute('aria-label')).resolves.toMatch(
      /throughput per instance \(hash\/s\) at N instances: 1: 6,200; 2: 6,100; 4: 5,800; 8: 3,100; knee: 4 instances$/,
    );
    await expect(memory.getAttribute('aria-label')).resolves.toContain('8: 13; knee: 4 instances');
    await expect(share.getAttribute('aria-label')).resolves.toContain(
      '8: 0.48; knee: 4 instances; SLO 0.90 of one alone',
    );
    // The knee is drawn on every chart (violet), the SLO on the share chart (red).
    for (const chart of [throughput, memory, share]) {
      await chart.locator('canvas').waitFor();
      await expect
        .poll(async () => (await pixelsOfColours(chart, ['#7c3aed']))[0])
        .toBeGreaterThan(0);
    }
    const [slo] = await pixelsOfColours(share, ['#b91c1c']);
    expect(slo).toBeGreaterThan(0);

    // A row per antagonist: the ratio beside it over alone, or "not measured".
    const interference = page.getByTestId('interference');
    const row = (antagonist: string): Locator =>
      interference.locator(
        `[data-testid=interference-row][data-host-id="${LOAD_HOST}"][data-platform=container][data-antagonist=${antagonist}]`,
      );
    await expect(row('cpu-hog').getByTestId('interference-comparison').textContent()).resolves.toBe(
      '0.71× [0.66–0.77] slower',
    );
    await expect(
      row('memory-bandwidth').getByTestId('interference-comparison').textContent(),
    ).resolves.toBe('not measured');
    await expect(row('memory-bandwidth').getAttribute('data-measured')).resolves.toBe('false');
    await expect(interference.getByTestId('interference-row').count()).resolves.toBe(4);
    await screenshot(page, 'dashboard-density-interference');
    await page.close();
  });
});
