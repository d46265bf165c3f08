import type { PublishedFigures, ResultValues, ValueSeries } from '../contracts/advisor-api.ts';
import { SENSITIVITY_WORKLOADS } from '../services/advisor/engine/evidence.ts';
import { getJson, withQuery } from './api.ts';
import { distributionChart, type Distribution } from './charts.ts';
import { dataTable, el, labelledSelect, scrolling, setOptions } from './dom.ts';
import { formatNumber, optionName } from './format.ts';

/** An evidence aggregate as GET /v1/results gives it (the fields the page reads). */
interface Aggregate {
  readonly hostId: string;
  readonly platform: string;
  readonly runtime: string;
  readonly accel: string;
  readonly workload: string;
  readonly metric: string;
  readonly mean: number;
}

type PublishedMetric = PublishedFigures['figures'][number]['metric'];

/** A panel of the view: one metric, its chart, its figures and the published ones beside. */
interface Panel {
  readonly id: string;
  readonly title: string;
  readonly workload: 'instance' | 'chosen';
  readonly metric: string;
  readonly unit: string;
  readonly published?: PublishedMetric;
}

const PANELS: readonly Panel[] = [
  {
    id: 'throughput',
    title: 'Throughput relative to the bare process',
    workload: 'chosen',
    metric: 'throughput',
    unit: '× process',
    published: 'throughput-ratio',
  },
  {
    id: 'startup',
    title: 'Start-up latency',
    workload: 'instance',
    metric: 'startup',
    unit: 'ms',
    published: 'startup',
  },
  {
    id: 'memory-peak',
    title: 'Memory per instance (peak)',
    workload: 'instance',
    metric: 'memory-peak',
    unit: 'MiB',
  },
  {
    id: 'memory-overhead',
    title: 'Memory overhead per instance',
    workload: 'instance',
    metric: 'memory-overhead',
    unit: 'MiB',
    published: 'memory-overhead',
  },
  {
    id: 'density',
    title: 'Density (instances at once)',
    workload: 'instance',
    metric: 'density',
    unit: 'instances',
  },
];

/** Values kept per series: enough for a distribution, bounded for the page. */
const VALUES_PER_SERIES = 200;

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const position = (sorted.length - 1) * q;
  const low = Math.floor(position);
  const high = Math.ceil(position);
  return (sorted[low] ?? NaN) + ((sorted[high] ?? NaN) - (sorted[low] ?? NaN)) * (position - low);
}

const ALL = '';

const sensitivityOf = (workload: string): string | undefined =>
  Object.entries(SENSITIVITY_WORKLOADS).find(([, workloads]) => workloads.includes(workload))?.[0];

/**
 * The Measurements view: per workload, each platform side by side (throughput relative to the
 * bare process, start-up, memory per instance, density) as the distribution of every result's
 * value, with a table of quantiles and the published figures beside this fleet's, filtered by
 * host, runtime and accel.
 */
export function createMeasurementsView(panel: HTMLElement): { refresh(): Promise<void> } {
  const controls = el('form', {
    class: 'filters',
    'aria-label': 'Filters',
    id: 'measurements-filters',
  });
  const status = el('p', {
    class: 'status',
    'data-testid': 'measurements-status',
    role: 'status',
    'aria-live': 'polite',
  });
  const content = el('div', { id: 'measurements', 'data-testid': 'measurements' });
  panel.append(el('h2', { text: 'Measurements' }), controls, status, content);
  let selected = { workload: ALL, host: ALL, runtime: ALL, accel: ALL };
  let published: PublishedFigures | undefined;

  const filters = {
    workload: labelledSelect('m-workload', 'Workload'),
    host: labelledSelect('m-host', 'Host'),
    runtime: labelledSelect('m-runtime', 'Runtime'),
    accel: labelledSelect('m-accel', 'Accel'),
  };
  controls.append(...Object.values(filters).map((filter) => filter.field));
  const readSelected = (): typeof selected => ({
    workload: filters.workload.select.value,
    host: filters.host.select.value,
    runtime: filters.runtime.select.value,
    accel: filters.accel.select.value,
  });
  for (const filter of Object.values(filters)) {
    filter.select.addEventListener('change', () => {
      selected = readSelected();
      refresh().catch((error: unknown) => {
        status.textContent = `Could not load the measurements: ${String(error)}`;
      });
    });
  }

  /** The filters' choices: what the evidence has, keeping what is chosen where it still is. */
  const filterChoices = (aggregates: readonly Aggregate[]): void => {
    const distinct = (pick: (row: Aggregate) => string): string[] =>
      [...new Set(aggregates.map(pick))].sort();
    const workloads = distinct((row) => row.workload).filter((workload) => workload !== 'instance');
    if (!workloads.includes(selected.workload)) {
      selected = { ...selected, workload: workloads[0] ?? ALL };
    }
    const choices = (values: readonly string[], everything: string): [string, string][] => [
      [ALL, everything],
      ...values.map((value): [string, string] => [value, value]),
    ];
    setOptions(
      filters.workload.select,
      workloads.map((workload) => [workload, workload]),
      selected.workload,
    );
    setOptions(
      filters.host.select,
      choices(
        distinct((row) => row.hostId),
        'every host',
      ),
      selected.host,
    );
    setOptions(
      filters.runtime.select,
      choices(
        distinct((row) => row.runtime),
        'every runtime',
      ),
      selected.runtime,
    );
    setOptions(
      filters.accel.select,
      choices(
        distinct((row) => row.accel),
        'every accel',
      ),
      selected.accel,
    ); // A choice the evidence no longer has falls back to the first option.
    selected = readSelected();
  };

  const keep = (series: ValueSeries): boolean =>
    (selected.host === ALL || series.hostId === selected.host) &&
    (selected.runtime === ALL || series.runtime === selected.runtime) &&
    (selected.accel === ALL || series.accel === selected.accel);

  const panelView = (
    spec: Panel,
    series: readonly ValueSeries[],
    baseline: (series: ValueSeries) => number | undefined,
  ): HTMLElement => {
    const hosts = new Set(series.map((each) => each.hostId));
    const groups: (Distribution & { readonly series: ValueSeries })[] = series.flatMap((each) => {
      const base = spec.id === 'throughput' ? baseline(each) : 1;
      if (base === undefined || base === 0) return [];
      const label =
        optionName(each.platform, each.runtime, each.accel) +
        (hosts.size > 1 ? ` @ ${each.hostId}` : '');
      return [{ label, values: each.values.map((value) => value.value / base), series: each }];
    });
    const figures = (published?.figures ?? []).filter(
      (figure) =>
        figure.metric === spec.published &&
        (spec.id !== 'throughput' || figure.sensitivity === sensitivityOf(selected.workload)),
    );
    const sourceOf = (id: string): PublishedFigures['sources'][number] | undefined =>
      published?.sources.find((source) => source.id === id);
    return el(
      'section',
      {
        class: 'metric-panel',
        'data-testid': `panel-${spec.id}`,
        'aria-labelledby': `panel-${spec.id}-title`,
      },
      el('h3', { id: `panel-${spec.id}-title`, text: `${spec.title} (${spec.unit})` }),
      groups.length === 0
        ? el('p', {
            'data-testid': `no-values-${spec.id}`,
            text: 'No measurement matches the filters.',
          })
        : distributionChart(groups, `${spec.title} (${spec.unit})`, `chart-${spec.id}`),
      groups.length > 0 &&
        scrolling(
          dataTable(
            { 'data-testid': `summary-${spec.id}` },
            'This fleet, every result',
            ['option', 'results', 'min', 'p50', 'mean', 'p95', 'max'],
            el(
              'tbody',
              {},
              ...groups.map((group) => {
                const sorted = [...group.values].sort((a, b) => a - b);
                const mean = sorted.reduce((sum, value) => sum + value, 0) / sorted.length;
                return el(
                  'tr',
                  {
                    'data-platform': group.series.platform,
                    'data-runtime': group.series.runtime,
                    'data-host-id': group.series.hostId,
                  },
                  el('th', { scope: 'row', text: group.label }),
                  el('td', { text: String(sorted.length) }),
                  ...[
                    sorted[0] ?? NaN,
                    quantile(sorted, 0.5),
                    mean,
                    quantile(sorted, 0.95),
                    sorted.at(-1) ?? NaN,
                  ].map((value) => el('td', { text: formatNumber(value) })),
                );
              }),
            ),
          ),
        ),
      figures.length > 0 &&
        scrolling(
          dataTable(
            { class: 'published', 'data-testid': `published-${spec.id}` },
            [
              el('span', { class: 'badge published', text: 'published' }),
              ' figures, from the project’s copy of the sources',
            ],
            ['option', 'value', 'claim', 'source'],
            el(
              'tbody',
              {},
              ...figures.map((figure) =>
                el(
                  'tr',
                  {},
                  el('th', {
                    scope: 'row',
                    text: optionName(figure.placement, figure.runtime, figure.accel),
                  }),
                  el('td', {
                    text: `${formatNumber(figure.value)} ${figure.unit === 'ratio' ? '× bare' : figure.unit}`,
                  }),
                  el('td', {
                    text: `${figure.claim}${figure.reading === undefined ? '' : ` (${figure.reading})`}${figure.unverified ? ', unverified' : ''}`,
                  }),
                  el('td', {
                    title: sourceOf(figure.source)?.citation ?? '',
                    text: `${sourceOf(figure.source)?.short ?? figure.source}: ${sourceOf(figure.source)?.conditions ?? ''}`,
                  }),
                ),
              ),
            ),
          ),
        ),
    );
  };

  const refresh = async (): Promise<void> => {
    status.textContent = 'Loading…';
    published ??= await getJson<PublishedFigures>('v1/published');
    const { results } = await getJson<{ results: Aggregate[] }>('v1/results');
    filterChoices(results);
    if (selected.workload === ALL && results.length === 0) {
      status.textContent = 'No measurement has been stored yet.';
      content.replaceChildren();
      return;
    }
    const host = selected.host === ALL ? undefined : selected.host;
    const [throughput, instance] = await Promise.all([
      selected.workload === ALL
        ? Promise.resolve<ResultValues>({ series: [], truncated: false })
        : getJson<ResultValues>(
            withQuery('v1/results/values', {
              workload: selected.workload,
              metric: 'throughput',
              host,
              limit: VALUES_PER_SERIES,
            }),
          ),
      getJson<ResultValues>(
        withQuery('v1/results/values', { workload: 'instance', host, limit: VALUES_PER_SERIES }),
      ),
    ]);
    const processMean = (series: ValueSeries): number | undefined =>
      results.find(
        (row) =>
          row.platform === 'process' &&
          row.hostId === series.hostId &&
          row.workload === series.workload &&
          row.metric === series.metric,
      )?.mean;
    content.replaceChildren(
      ...PANELS.map((spec) =>
        panelView(
          spec,
          (spec.workload === 'chosen' ? throughput : instance).series.filter(
            (series) => series.metric === spec.metric && keep(series),
          ),
          processMean,
        ),
      ),
    );
    status.textContent =
      throughput.truncated || instance.truncated
        ? 'Only the newest values are shown: the list was cut at its bound.'
        : `Up to ${VALUES_PER_SERIES} newest results per platform, runtime, accel and host.`;
  };

  return { refresh };
}
