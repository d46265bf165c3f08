import type {
  PublishedFigures,
  ResultList,
  ResultValues,
  ResultView,
  ValueSeries,
} from '../../contracts/advisor-api.ts';
import {
  DENSITY_LOAD_WORKLOAD,
  INSTANCE_WORKLOAD,
  INTERFERENCE_WORKLOAD,
  isWorkloadName,
  SENSITIVITY_WORKLOADS,
} from '../../contracts/workloads.ts';
import { getJson, withQuery } from './api.ts';
import {
  comparisonChart,
  densityCharts,
  distributionChart,
  type Distribution,
  type LabelledComparison,
} from './charts.ts';
import { densityCurves, kneeLabel, type DensityCurve } from './density-curves.ts';
import { dataTable, el, labelledSelect, scrolling, setOptions } from './dom.ts';
import {
  formatComparison,
  formatNumber,
  formatPercent,
  formatRatio,
  optionName,
  type ComparisonFigures,
} from './format.ts';
import { interferenceRows, interferenceText, type InterferenceRows } from './interference.ts';

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

/** The pseudo-workloads with views of their own, not choices of the workload filter. */
const OWN_VIEWS: readonly string[] = [
  INSTANCE_WORKLOAD,
  DENSITY_LOAD_WORKLOAD,
  INTERFERENCE_WORKLOAD,
];

/** What names an option on a host: the key the filters and the labels read. */
type OptionOnHost = Pick<ValueSeries, 'hostId' | 'platform' | 'runtime' | 'accel'>;

/** An option's name, and its host's when the view shows more than one host. */
const labelOf = (option: OptionOnHost, hosts: ReadonlySet<string>): string =>
  optionName(option.platform, option.runtime, option.accel) +
  (hosts.size > 1 ? ` @ ${option.hostId}` : '');

/** The data attributes that name an option on a host, for rows and sections. */
const optionAttributes = (option: OptionOnHost): Record<string, string> => ({
  'data-host-id': option.hostId,
  'data-platform': option.platform,
  'data-runtime': option.runtime,
  'data-accel': option.accel,
});

/**
 * One option's density at load: the knee's label; throughput per instance, memory per
 * instance and the worst instance's share of one alone (with the SLO line) against N, the
 * knee marked on each; and a table of the steps.
 */
function densityCurveView(curve: DensityCurve, label: string): HTMLElement {
  const throughputUnit = curve.throughputUnit ?? '';
  const memoryUnit = curve.memoryUnit ?? 'MiB';
  return el(
    'section',
    {
      class: 'density-curve',
      'data-testid': 'density-curve',
      ...optionAttributes(curve),
    },
    el('h4', { text: label }),
    curve.knee === undefined
      ? el('p', {
          class: 'knee-label',
          'data-testid': 'density-knee',
          text: 'No knee recorded: the run gave no density at the SLO.',
        })
      : el(
          'p',
          { class: 'knee-label', 'data-testid': 'density-knee', 'data-instances': curve.knee },
          el('strong', { text: kneeLabel(curve.knee) }),
          el('span', {
            class: 'note',
            text: ` — the most at once whose worst instance kept ${
              curve.slo === undefined ? 'the SLO share' : formatPercent(curve.slo)
            } of one instance's throughput alone`,
          }),
        ),
    densityCharts(curve, label),
    scrolling(
      dataTable(
        { class: 'density-steps', 'data-testid': 'density-steps' },
        'Each step, the median of its results',
        [
          'instances at once',
          `throughput per instance (${throughputUnit})`,
          "worst instance's share of one alone",
          `memory per instance (${memoryUnit})`,
        ],
        el(
          'tbody',
          {},
          ...curve.steps.map((step) =>
            el(
              'tr',
              { 'data-instances': step.instances },
              el(
                'th',
                { scope: 'row' },
                String(step.instances),
                step.instances === curve.knee && ' ',
                step.instances === curve.knee &&
                  el('span', { class: 'badge knee', 'data-testid': 'knee-step', text: 'knee' }),
              ),
              el('td', {
                text: step.throughput === undefined ? '–' : formatNumber(step.throughput),
              }),
              el('td', { text: step.sloShare === undefined ? '–' : formatRatio(step.sloShare) }),
              el('td', { text: step.memory === undefined ? '–' : formatNumber(step.memory) }),
            ),
          ),
        ),
      ),
    ),
  );
}

/** Density at load: each option's curves on each host, or why there are none. */
function densitySection(curves: readonly DensityCurve[]): HTMLElement {
  const hosts = new Set(curves.map((curve) => curve.hostId));
  return el(
    'section',
    {
      class: 'metric-panel',
      'data-testid': 'panel-density-load',
      'aria-labelledby': 'panel-density-load-title',
    },
    el('h3', {
      id: 'panel-density-load-title',
      text: 'Density at load: N instances running one workload at once',
    }),
    ...(curves.length === 0
      ? [
          el('p', {
            'data-testid': 'no-values-density-load',
            text: 'No density at load matches the filters.',
          }),
        ]
      : curves.map((curve) => densityCurveView(curve, labelOf(curve, hosts)))),
  );
}

/** Noisy neighbours: per option and host, a row per antagonist, beside it over alone. */
function interferenceSection(rows: readonly InterferenceRows[]): HTMLElement {
  const hosts = new Set(rows.map((row) => row.hostId));
  return el(
    'section',
    {
      class: 'metric-panel',
      'data-testid': 'panel-interference',
      'aria-labelledby': 'panel-interference-title',
    },
    el('h3', {
      id: 'panel-interference-title',
      text: 'Noisy neighbours: throughput beside an antagonist over alone',
    }),
    rows.length === 0
      ? el('p', {
          'data-testid': 'no-values-interference',
          text: 'No interference measurement matches the filters.',
        })
      : scrolling(
          dataTable(
            { class: 'interference', 'data-testid': 'interference' },
            "The victim's throughput beside each antagonist over the same option alone: the newest paired ratio, its 95% interval and verdict",
            ['option', 'antagonist', 'beside / alone [95%]', 'results'],
            rows.map((row) =>
              el(
                'tbody',
                { ...optionAttributes(row) },
                ...row.antagonists.map((cell, index) =>
                  el(
                    'tr',
                    {
                      'data-testid': 'interference-row',
                      ...optionAttributes(row),
                      'data-antagonist': cell.antagonist,
                      'data-measured': String(cell.series !== undefined),
                    },
                    index === 0 &&
                      el('th', {
                        scope: 'rowgroup',
                        rowspan: row.antagonists.length,
                        text: labelOf(row, hosts),
                      }),
                    el('th', { scope: 'row', text: cell.antagonist }),
                    el('td', {
                      'data-testid': 'interference-comparison',
                      class: cell.series === undefined ? 'note' : undefined,
                      title:
                        cell.series === undefined
                          ? undefined
                          : `median ${formatNumber(cell.series.p50)} ${cell.series.unit} beside it`,
                      text: interferenceText(cell),
                    }),
                    el('td', {
                      text: cell.series === undefined ? '–' : String(cell.series.results),
                    }),
                  ),
                ),
              ),
            ),
          ),
        ),
  );
}

/** Whether a summary is of this series: the same host, option, workload and metric. */
const isSummaryOf = (summary: ResultView, series: ValueSeries): boolean =>
  summary.hostId === series.hostId &&
  summary.platform === series.platform &&
  summary.runtime === series.runtime &&
  summary.accel === series.accel &&
  summary.workload === series.workload &&
  summary.metric === series.metric;

/** The newest paired comparison with the bare process a summary carries (version 2 only). */
function comparisonOf(summary: ResultView | undefined): ComparisonFigures | undefined {
  if (summary === undefined) return undefined;
  const { ratio, ratioLow, ratioHigh, verdict } = summary;
  if (ratio === undefined || ratioLow === undefined || ratioHigh === undefined) return undefined;
  return { ratio, ratioLow, ratioHigh, ...(verdict === undefined ? {} : { verdict }) };
}

/**
 * A series' comparison as a table cell, "1.02× [0.99–1.05] same", and a mark when some of its
 * results came from runs whose calibration canary missed; empty for a series without either.
 */
function comparisonCell(summary: ResultView | undefined): HTMLTableCellElement {
  const comparison = comparisonOf(summary);
  const uncalibrated = summary?.uncalibratedResults ?? 0;
  return el(
    'td',
    {
      'data-testid': 'comparison',
      title:
        comparison === undefined || summary?.ratioRounds === undefined
          ? undefined
          : `the newest paired comparison, over ${summary.ratioRounds} rounds`,
    },
    comparison !== undefined && formatComparison(comparison),
    comparison !== undefined && uncalibrated > 0 && ' ',
    summary !== undefined &&
      uncalibrated > 0 &&
      el('span', {
        class: 'badge uncalibrated',
        'data-testid': 'uncalibrated',
        title: `${uncalibrated} of ${summary.results} results came from runs whose calibration canary missed`,
        text: 'uncalibrated',
      }),
  );
}

const sensitivityOf = (workload: string): string | undefined =>
  isWorkloadName(workload)
    ? Object.entries(SENSITIVITY_WORKLOADS).find(([, workloads]) =>
        workloads.includes(workload),
      )?.[0]
    : undefined;

/**
 * The Measurements view: per workload, each platform side by side (throughput relative to the
 * bare process, start-up, memory per instance, density) as the distribution of every result's
 * value, with a table of quantiles and the published figures beside this fleet's, filtered by
 * host, runtime and accel. Series measured in rounds (version 2 results) add their newest
 * paired ratio to the bare process, its 95% interval and verdict, in the table and as a chart
 * of whiskers, and say when some of their results came from uncalibrated runs. Then each
 * option's density at load as curves against N with its knee and SLO, and its throughput
 * beside each noisy neighbour over alone.
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
  const filterChoices = (aggregates: readonly ResultView[]): void => {
    const distinct = (pick: (row: ResultView) => string): string[] =>
      [...new Set(aggregates.map(pick))].sort();
    const workloads = distinct((row) => row.workload).filter(
      (workload) => !OWN_VIEWS.includes(workload),
    );
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

  const keep = (chosen: typeof selected, series: OptionOnHost): boolean =>
    (chosen.host === ALL || series.hostId === chosen.host) &&
    (chosen.runtime === ALL || series.runtime === chosen.runtime) &&
    (chosen.accel === ALL || series.accel === chosen.accel);

  const panelView = (
    chosen: typeof selected,
    spec: Panel,
    series: readonly ValueSeries[],
    baseline: (series: ValueSeries) => number | undefined,
    summaryOf: (series: ValueSeries) => ResultView | undefined,
  ): HTMLElement => {
    const hosts = new Set(series.map((each) => each.hostId));
    const groups: (Distribution & {
      readonly series: ValueSeries;
      readonly summary: ResultView | undefined;
    })[] = series.flatMap((each) => {
      const base = spec.id === 'throughput' ? baseline(each) : 1;
      if (base === undefined || base === 0) return [];
      return [
        {
          label: labelOf(each, hosts),
          values: each.values.map((value) => value.value / base),
          series: each,
          summary: summaryOf(each),
        },
      ];
    });
    const comparisons = groups.flatMap((group): LabelledComparison[] => {
      const comparison = comparisonOf(group.summary);
      return comparison === undefined ? [] : [{ label: group.label, ...comparison }];
    });
    const hasComparisonColumn = groups.some(
      (group) =>
        comparisonOf(group.summary) !== undefined || (group.summary?.uncalibratedResults ?? 0) > 0,
    );
    const figures = (published?.figures ?? []).filter(
      (figure) =>
        figure.metric === spec.published &&
        (spec.id !== 'throughput' || figure.sensitivity === sensitivityOf(chosen.workload)),
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
      comparisons.length > 0 &&
        comparisonChart(
          comparisons,
          `${spec.title}: the newest paired ratio to the bare process, with its 95% interval`,
          `comparison-chart-${spec.id}`,
        ),
      groups.length > 0 &&
        scrolling(
          dataTable(
            { 'data-testid': `summary-${spec.id}` },
            'This fleet, every result',
            [
              'option',
              'results',
              'min',
              'p50',
              'mean',
              'p95',
              'max',
              ...(hasComparisonColumn
                ? [comparisons.length > 0 ? 'paired ratio [95%], newest' : 'calibration']
                : []),
            ],
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
                  hasComparisonColumn && comparisonCell(group.summary),
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

  /**
   * Refreshes overlap (a filter changed, new results landed): only the one started last may
   * set the filters' choices and draw, so an older answer, whose list may lack a host that
   * came since, never resets a filter or draws over the newer view.
   */
  let latest = 0;
  const refresh = async (): Promise<void> => {
    latest += 1;
    const generation = latest;
    status.textContent = 'Loading…';
    published ??= await getJson<PublishedFigures>('v1/published');
    const { results } = await getJson<ResultList>('v1/results');
    if (generation !== latest) return;
    filterChoices(results);
    const chosen = selected;
    if (chosen.workload === ALL && results.length === 0) {
      status.textContent = 'No measurement has been stored yet.';
      content.replaceChildren();
      return;
    }
    const host = chosen.host === ALL ? undefined : chosen.host;
    const [throughput, instance] = await Promise.all([
      chosen.workload === ALL
        ? Promise.resolve<ResultValues>({ series: [], truncated: false })
        : getJson<ResultValues>(
            withQuery('v1/results/values', {
              workload: chosen.workload,
              metric: 'throughput',
              host,
              limit: VALUES_PER_SERIES,
            }),
          ),
      getJson<ResultValues>(
        withQuery('v1/results/values', {
          workload: INSTANCE_WORKLOAD,
          host,
          limit: VALUES_PER_SERIES,
        }),
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
    if (generation !== latest) return;
    const kept = results.filter((row) => keep(chosen, row));
    content.replaceChildren(
      ...PANELS.map((spec) =>
        panelView(
          chosen,
          spec,
          (spec.workload === 'chosen' ? throughput : instance).series.filter(
            (series) => series.metric === spec.metric && keep(chosen, series),
          ),
          processMean,
          (series) => results.find((summary) => isSummaryOf(summary, series)),
        ),
      ),
      densitySection(densityCurves(kept)),
      interferenceSection(interferenceRows(kept)),
    );
    status.textContent =
      throughput.truncated || instance.truncated
        ? 'Only the newest values are shown: the list was cut at its bound.'
        : `Up to ${VALUES_PER_SERIES} newest results per platform, runtime, accel and host.`;
  };

  return { refresh };
}
