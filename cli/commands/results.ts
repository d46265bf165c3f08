import { Command, Option } from 'commander';
import type { SeriesSummary } from '../../contracts/advisor-api.ts';
import { loadConfig } from '../../lib/config.ts';
import { ADVISOR_CLIENT_SETTINGS } from '../../services/advisor/client-settings.ts';
import { printTable } from '../output.ts';
import { STORE_SETTINGS, withSettings } from '../options.ts';

/** Every setting `berth results` reads: the store's, and the running advisor's it asks first. */
const RESULTS_SETTINGS = [...STORE_SETTINGS, ...ADVISOR_CLIENT_SETTINGS];

/**
 * The settings it takes as options: its `--host` picks the host whose results are shown, so
 * the advisor's address comes from BERTH_ADVISOR_HOST alone.
 */
const RESULTS_OPTIONS = RESULTS_SETTINGS.filter((name) => name !== 'advisorHost');

/** The order rows are printed in, whichever way they came. */
const ORDER = ['hostId', 'workload', 'metric', 'platform', 'runtime', 'accel'] as const;

function bySeries(a: SeriesSummary, b: SeriesSummary): number {
  for (const field of ORDER) {
    if (a[field] !== b[field]) return a[field] < b[field] ? -1 : 1;
  }
  return 0;
}

/**
 * The newest comparison with the process platform as `1.02× [0.99–1.05] same`; '' for a
 * series without one (version 1 results, the process platform itself).
 */
function comparisonText(summary: SeriesSummary): string {
  const { ratio, ratioLow, ratioHigh, verdict } = summary;
  if (ratio === undefined || ratioLow === undefined || ratioHigh === undefined) return '';
  return `${ratio.toFixed(2)}× [${ratioLow.toFixed(2)}–${ratioHigh.toFixed(2)}] ${verdict ?? ''}`.trimEnd();
}

/** Whether a series' results were measured in more than one host state of its host. */
const acrossHostStates = (summary: SeriesSummary): boolean => (summary.hostStates ?? 0) > 1;

/**
 * "measured across 2 host states" for a series whose results carry more than one host
 * fingerprint (the host changed between them, so its figures are not of one host state);
 * '' for the others.
 */
const hostStatesText = (summary: SeriesSummary): string =>
  acrossHostStates(summary) ? `measured across ${summary.hostStates} host states` : '';

/**
 * Prints the summaries as a table (or JSON), the same from the advisor and from the store;
 * with a `vs process` column when any series has a comparison, and a `host states` column
 * when any series was measured across more than one host state.
 */
function printSummaries(summaries: readonly SeriesSummary[], asJson: boolean): void {
  const compared = summaries.some((summary) => summary.ratio !== undefined);
  const moved = summaries.some(acrossHostStates);
  printTable(
    [...summaries].sort(bySeries).map((summary) => ({
      host: summary.hostId,
      platform: summary.platform,
      runtime: summary.runtime,
      accel: summary.accel,
      workload: summary.workload,
      metric: summary.metric,
      unit: summary.unit,
      results: summary.results,
      mean: Number(summary.mean.toPrecision(6)),
      ...(compared ? { 'vs process': comparisonText(summary) } : {}),
      ...(moved ? { 'host states': hostStatesText(summary) } : {}),
      last: new Date(summary.latestAt).toISOString(),
    })),
    asJson,
  );
}

export function resultsCommand(): Command {
  const command = new Command('results')
    .description(
      'summarise stored results (deduplicated) per host, platform and runtime, workload and metric; asks the running advisor, or reads the store',
    )
    .addOption(
      new Option('--host <id>', 'only this host (the advisor is asked at BERTH_ADVISOR_HOST)'),
    )
    .addOption(new Option('--platform <name>', 'only this platform'))
    .addOption(new Option('--workload <name>', 'only this workload'))
    .option('--json', 'print JSON instead of a table');
  return withSettings(command, RESULTS_OPTIONS).action(async () => {
    const { host, platform, workload, json, ...flags } = command.opts<{
      host?: string;
      platform?: string;
      workload?: string;
      json?: boolean;
    }>();
    const config = loadConfig(RESULTS_SETTINGS, flags);
    const note = (line: string): void => {
      process.stderr.write(`note: ${line}\n`);
    };
    const { ResultListV1 } = await import('../../contracts/advisor-api.ts');
    const { advisorUrl, askAdvisor } = await import('../../services/advisor/client.ts');
    const answer = await askAdvisor(config, {
      method: 'GET',
      path: '/v1/results',
      query: { host, platform, workload },
      answer: ResultListV1,
    });
    if (answer !== undefined) {
      note(`answered by the advisor at ${advisorUrl(config)}`);
      if (answer.problem !== undefined) note(answer.problem);
      printSummaries(answer.results, json === true);
      return;
    }
    const { openStore } = await import('../../lib/storage/open-store.ts');
    const { loadSeriesSummaries } = await import('../../lib/storage/results.ts');
    const store = await openStore(config);
    try {
      const summaries = await loadSeriesSummaries(store, {
        ...(host === undefined ? {} : { hostIds: [host] }),
        ...(platform === undefined ? {} : { platform }),
        ...(workload === undefined ? {} : { workload }),
      });
      note(`read from the ${store.backend} store at ${store.location}`);
      printSummaries(summaries, json === true);
    } finally {
      await store.close();
    }
  });
}
