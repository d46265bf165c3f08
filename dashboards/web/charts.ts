import uPlot from 'uplot';
import type { ScorePart } from '../../contracts/advice.ts';
import { kneeLabel, type DensityCurve, type DensityStep } from './density-curves.ts';
import { el } from './dom.ts';
import { formatComparison, formatNumber, formatRatio, type ComparisonFigures } from './format.ts';

/** Colours of the chart series, told apart also by position and by the table beside them. */
const PALETTE = ['#2563eb', '#db2777', '#059669', '#d97706', '#7c3aed', '#0891b2', '#dc2626'];

const FALLBACK_WIDTH = 320;

/**
 * Draws a uPlot chart of `data` into `holder` once it is in the page, without a legend (the
 * label and the tables beside say what it shows), and resizes it with its holder.
 */
function plot(
  holder: HTMLElement,
  height: number,
  options: Omit<uPlot.Options, 'width' | 'height'>,
  data: uPlot.AlignedData,
): void {
  const make = (width: number): uPlot =>
    new uPlot({ width, height, legend: { show: false }, ...options }, data, holder);
  let chart: uPlot | undefined;
  const observer = new ResizeObserver(() => {
    const width = holder.clientWidth;
    if (width === 0) return;
    if (chart === undefined) chart = make(width);
    else if (Math.abs(chart.width - width) > 4) chart.setSize({ width, height });
  });
  observer.observe(holder);
  requestAnimationFrame(() => {
    chart ??= make(holder.clientWidth || FALLBACK_WIDTH);
  });
}

/** An x axis of named columns at 0, 1, 2 …, each labelled with its name. */
const columnAxis = (names: readonly string[]): uPlot.Axis => ({
  splits: () => names.map((_, index) => index),
  values: (_chart, splits) => splits.map((split) => names[split] ?? ''),
});

/**
 * An option's score parts as bars: the points each part adds to the score (of its weight ×
 * 100 at most). The chart is an image to screen readers, labelled with the same figures.
 */
export function scorePartsChart(parts: readonly ScorePart[], option: string): HTMLElement {
  const holder = el('div', {
    class: 'chart score-parts',
    role: 'img',
    'data-testid': 'score-parts-chart',
    'aria-label': `Score parts of ${option}: ${parts
      .map(
        (part) =>
          `${part.name} ${formatNumber(part.points)} of ${formatNumber(part.weight * 100)} points`,
      )
      .join(', ')}`,
  });
  const names = parts.map((part) => part.name);
  const data: uPlot.AlignedData = [
    parts.map((_, index) => index),
    parts.map((part) => part.weight * 100),
    parts.map((part) => part.points),
  ];
  const bars = uPlot.paths.bars?.({ size: [0.6, 48] });
  const barPaths = bars === undefined ? {} : { paths: bars };
  plot(
    holder,
    150,
    {
      cursor: { show: false },
      scales: { x: { time: false, range: [-0.5, parts.length - 0.5] }, y: { range: [0, 25] } },
      axes: [columnAxis(names), { size: 36 }],
      series: [
        {},
        {
          label: 'most',
          fill: '#e5e7eb',
          stroke: '#d1d5db',
          ...barPaths,
          points: { show: false },
        },
        {
          label: 'points',
          fill: '#2563eb',
          stroke: '#1d4ed8',
          ...barPaths,
          points: { show: false },
        },
      ],
    },
    data,
  );
  return holder;
}

export interface Distribution {
  readonly label: string;
  readonly values: readonly number[];
}

/**
 * Every value of each group as a point in its own column (a strip plot), so the spread shows
 * and not only the mean. The groups are the columns, left to right.
 */
export function distributionChart(
  groups: readonly Distribution[],
  title: string,
  testId: string,
): HTMLElement {
  const holder = el('div', {
    class: 'chart distribution',
    role: 'img',
    'data-testid': testId,
    'aria-label': `${title}: ${groups.map((group) => `${group.label}, ${group.values.length} values`).join('; ')}`,
  });
  // One x per point: its column, spread a little inside it so equal values do not hide.
  const points = groups.flatMap((group, column) =>
    group.values.map((value, index) => ({
      column,
      x: column + (group.values.length < 2 ? 0 : (index / (group.values.length - 1) - 0.5) * 0.5),
      value,
    })),
  );
  points.sort((a, b) => a.x - b.x);
  const data: uPlot.AlignedData = [
    points.map((point) => point.x),
    ...groups.map((_, column) =>
      points.map((point) => (point.column === column ? point.value : null)),
    ),
  ];
  const labels = groups.map((group) => group.label);
  plot(
    holder,
    240,
    {
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: false, range: [-0.5, Math.max(groups.length, 1) - 0.5] } },
      axes: [{ ...columnAxis(labels), size: 48 }, { size: 56 }],
      series: [
        {},
        ...groups.map((group, column) => ({
          label: group.label,
          stroke: PALETTE[column % PALETTE.length] ?? '#2563eb',
          paths: () => null,
          points: { show: true, size: 7, fill: PALETTE[column % PALETTE.length] ?? '#2563eb' },
        })),
      ],
    },
    data,
  );
  return holder;
}

/** A series' paired comparison with the bare process, named as its column is. */
export interface LabelledComparison extends ComparisonFigures {
  readonly label: string;
}

/** The colour of a comparison's whisker and point, by its verdict. */
const VERDICT_COLOURS: Readonly<Record<string, string>> = {
  same: '#2563eb',
  faster: '#047857',
  slower: '#b91c1c',
  unclear: '#d97706',
};

const NO_VERDICT_COLOUR = '#4b5563';

/** A dashed line across the plot at the bare process's ratio, 1×. */
const parityLine: uPlot.Series.PathBuilder = (chart) => {
  const y = chart.valToPos(1, 'y', true);
  const line = new Path2D();
  line.moveTo(chart.bbox.left, y);
  line.lineTo(chart.bbox.left + chart.bbox.width, y);
  return { stroke: line };
};

/** What the comparison chart draws, and the colour of each verdict, in words and swatches. */
function comparisonLegend(): HTMLElement {
  return el(
    'figcaption',
    { class: 'legend' },
    'The point is the paired ratio, the whisker its 95% interval, the dashed line 1×. Verdict: ',
    ...Object.entries(VERDICT_COLOURS).flatMap(([verdict, colour]) => [
      el('span', { class: 'swatch', style: `background: ${colour}`, 'aria-hidden': 'true' }),
      ` ${verdict} `,
    ]),
  );
}

/**
 * Each series' paired ratio to the bare process as a point in its own column, with a whisker
 * (capped at both ends) over its 95% interval, coloured by its verdict, over a dashed line at
 * 1×, and a legend of what it draws. The columns are the comparisons, left to right.
 */
export function comparisonChart(
  comparisons: readonly LabelledComparison[],
  title: string,
  testId: string,
): HTMLElement {
  const holder = el('div', {
    class: 'chart comparison',
    role: 'img',
    'data-testid': testId,
    'aria-label': `${title}: ${comparisons.map((comparison) => `${comparison.label} ${formatComparison(comparison)}`).join('; ')}`,
  });
  const whiskers: uPlot.Series.PathBuilder = (chart) => {
    const strokes = new Map<string, Path2D>();
    const fills = new Map<string, Path2D>();
    const cap = 6 * uPlot.pxRatio;
    const radius = 4 * uPlot.pxRatio;
    comparisons.forEach((comparison, column) => {
      const colour =
        (comparison.verdict === undefined ? undefined : VERDICT_COLOURS[comparison.verdict]) ??
        NO_VERDICT_COLOUR;
      const x = chart.valToPos(column, 'x', true);
      const low = chart.valToPos(comparison.ratioLow, 'y', true);
      const high = chart.valToPos(comparison.ratioHigh, 'y', true);
      const ratio = chart.valToPos(comparison.ratio, 'y', true);
      const stroke = strokes.get(colour) ?? new Path2D();
      stroke.moveTo(x, low);
      stroke.lineTo(x, high);
      for (const end of [low, high]) {
        stroke.moveTo(x - cap, end);
        stroke.lineTo(x + cap, end);
      }
      strokes.set(colour, stroke);
      const fill = fills.get(colour) ?? new Path2D();
      fill.moveTo(x + radius, ratio);
      fill.arc(x, ratio, radius, 0, 2 * Math.PI);
      fills.set(colour, fill);
    });
    return { stroke: strokes, fill: fills };
  };
  const lowest = Math.min(1, ...comparisons.map((comparison) => comparison.ratioLow));
  const highest = Math.max(1, ...comparisons.map((comparison) => comparison.ratioHigh));
  const padding = Math.max((highest - lowest) * 0.15, 0.02);
  const data: uPlot.AlignedData = [
    comparisons.map((_, column) => column),
    comparisons.map(() => 1),
    comparisons.map((comparison) => comparison.ratio),
  ];
  plot(
    holder,
    200,
    {
      cursor: { show: false },
      scales: {
        x: { time: false, range: [-0.5, comparisons.length - 0.5] },
        y: { range: [Math.max(0, lowest - padding), highest + padding] },
      },
      axes: [
        { ...columnAxis(comparisons.map((comparison) => comparison.label)), size: 48 },
        {
          size: 64,
          values: (_chart, splits) => splits.map((split) => `${formatNumber(split)}×`),
        },
      ],
      series: [
        {},
        {
          label: 'bare process',
          stroke: '#6b7280',
          dash: [4, 4],
          width: 1,
          paths: parityLine,
          points: { show: false },
        },
        {
          label: 'paired ratio',
          stroke: NO_VERDICT_COLOUR,
          width: 2,
          paths: whiskers,
          points: { show: false },
        },
      ],
    },
    data,
  );
  return el('figure', { class: 'comparisons' }, holder, comparisonLegend());
}

/** Colours of the density curves and of the marks drawn over them. */
const DENSITY_COLOURS = {
  throughput: '#2563eb',
  memory: '#059669',
  sloShare: '#db2777',
  slo: '#b91c1c',
  knee: '#7c3aed',
} as const;

/** Headroom above a density chart's highest value, where the marks' labels go. */
const LABEL_HEADROOM = 1.35;

/**
 * Writes a mark's label on a white box (so a curve under it does not hide it), its left or
 * right end at x as `align` says, its baseline at y.
 */
function markLabel(
  ctx: CanvasRenderingContext2D,
  text: string,
  x: number,
  y: number,
  align: 'left' | 'right',
  colour: string,
): void {
  const ratio = uPlot.pxRatio;
  const width = ctx.measureText(text).width;
  const left = align === 'left' ? x : x - width;
  ctx.fillStyle = '#fff';
  ctx.fillRect(left - 2 * ratio, y - 12 * ratio, width + 4 * ratio, 16 * ratio);
  ctx.fillStyle = colour;
  ctx.textAlign = align;
  ctx.fillText(text, x, y);
}

/**
 * Draws the marks over a density chart once its series are drawn: the knee (one instance or
 * more) as a dashed vertical line at its N, labelled at the top, and the SLO, where given,
 * as a dashed horizontal line at its share, labelled at the right end. Lines are 2 device
 * pixels wide on whole pixels, so their colour is drawn exactly.
 */
function densityMarks(knee: number | undefined, slo: number | undefined): uPlot.Hooks.Arrays {
  const mark = (chart: uPlot): void => {
    const { ctx, bbox } = chart;
    const ratio = uPlot.pxRatio;
    ctx.save();
    ctx.lineWidth = 2 * ratio;
    ctx.setLineDash([6 * ratio, 4 * ratio]);
    ctx.font = `${12 * ratio}px system-ui, sans-serif`;
    if (slo !== undefined) {
      const y = Math.round(chart.valToPos(slo, 'y', true));
      ctx.strokeStyle = DENSITY_COLOURS.slo;
      ctx.beginPath();
      ctx.moveTo(bbox.left, y);
      ctx.lineTo(bbox.left + bbox.width, y);
      ctx.stroke();
      const right = bbox.left + bbox.width - 4 * ratio;
      markLabel(ctx, `SLO ${formatRatio(slo)}`, right, y - 6 * ratio, 'right', DENSITY_COLOURS.slo);
    }
    if (knee !== undefined && knee >= 1) {
      const x = Math.round(chart.valToPos(Math.log2(knee), 'x', true));
      ctx.strokeStyle = DENSITY_COLOURS.knee;
      ctx.beginPath();
      ctx.moveTo(x, bbox.top);
      ctx.lineTo(x, bbox.top + bbox.height);
      ctx.stroke();
      const leftHalf = x < bbox.left + bbox.width / 2;
      markLabel(
        ctx,
        kneeLabel(knee),
        x + (leftHalf ? 6 : -6) * ratio,
        bbox.top + 14 * ratio,
        leftHalf ? 'left' : 'right',
        DENSITY_COLOURS.knee,
      );
    }
    ctx.restore();
  };
  return { draw: [mark] };
}

/**
 * The x scale and axis of a density chart: N instances at log-2 positions (the steps
 * double), a tick at each step labelled with its N, wide enough to hold the knee.
 */
function stepsAxis(
  steps: readonly DensityStep[],
  knee: number | undefined,
): { scale: uPlot.Scale; axis: uPlot.Axis } {
  const positions = steps.map((step) => Math.log2(step.instances));
  const ends = [...positions, ...(knee === undefined || knee < 1 ? [] : [Math.log2(knee)])];
  return {
    scale: { time: false, range: [Math.min(...ends) - 0.35, Math.max(...ends) + 0.35] },
    axis: {
      label: 'instances at once',
      size: 40,
      splits: () => positions,
      values: (_chart, splits) => splits.map((split) => formatNumber(2 ** split)),
    },
  };
}

/** What one density chart draws: a measure of each step, its unit, colour and y range. */
interface StepMeasure {
  readonly field: 'throughput' | 'sloShare' | 'memory';
  readonly name: string;
  readonly unit: string;
  readonly colour: string;
  /** The y axis' tick labels; the numbers as they are when absent. */
  readonly tick?: (value: number) => string;
  /** The highest value the y axis must show besides the steps' (the SLO's share: 1). */
  readonly atLeast?: number;
}

/**
 * One measure of each step against N instances at once (log-2 positions), each step a point
 * joined by a line, with the knee as a dashed vertical line and its label and, where given,
 * the SLO as a dashed horizontal line. The chart is an image to screen readers, labelled with
 * the same figures; a measure no step recorded is a line saying so.
 */
function stepChart(
  curve: DensityCurve,
  measure: StepMeasure,
  slo: number | undefined,
  title: string,
  testId: string,
): HTMLElement {
  const measured = curve.steps.flatMap((step) => {
    const value = step[measure.field];
    return value === undefined ? [] : [{ instances: step.instances, value }];
  });
  if (measured.length === 0) {
    return el('p', { class: 'note', 'data-testid': testId, text: `No ${measure.name} recorded.` });
  }
  const marks = [
    curve.knee === undefined ? 'no knee recorded' : kneeLabel(curve.knee),
    ...(slo === undefined ? [] : [`SLO ${formatRatio(slo)} of one alone`]),
  ];
  const holder = el('div', {
    class: 'chart density-step',
    role: 'img',
    'data-testid': testId,
    'aria-label': `${title}, ${measure.name} (${measure.unit}) at N instances: ${measured
      .map((step) => `${step.instances}: ${formatNumber(step.value)}`)
      .join('; ')}; ${marks.join('; ')}`,
  });
  const { scale, axis } = stepsAxis(curve.steps, curve.knee);
  const highest = Math.max(measure.atLeast ?? 0, slo ?? 0, ...measured.map((step) => step.value));
  const tick = measure.tick ?? formatNumber;
  plot(
    holder,
    200,
    {
      cursor: { drag: { x: false, y: false } },
      scales: { x: scale, y: { range: [0, highest > 0 ? highest * LABEL_HEADROOM : 1] } },
      axes: [
        axis,
        {
          label: measure.unit,
          size: 56,
          values: (_chart, splits) => splits.map((split) => tick(split)),
        },
      ],
      series: [
        {},
        {
          label: measure.name,
          stroke: measure.colour,
          width: 2,
          points: { show: true, size: 7, fill: measure.colour },
        },
      ],
      hooks: densityMarks(curve.knee, slo),
    },
    [measured.map((step) => Math.log2(step.instances)), measured.map((step) => step.value)],
  );
  return el(
    'figure',
    { class: 'density' },
    holder,
    el(
      'figcaption',
      { class: 'legend' },
      el('span', {
        class: 'swatch',
        style: `background: ${measure.colour}`,
        'aria-hidden': 'true',
      }),
      ` ${measure.name}`,
      slo !== undefined &&
        el('span', {
          class: 'swatch',
          style: `background: ${DENSITY_COLOURS.slo}`,
          'aria-hidden': 'true',
        }),
      slo !== undefined && ' SLO',
      el('span', {
        class: 'swatch',
        style: `background: ${DENSITY_COLOURS.knee}`,
        'aria-hidden': 'true',
      }),
      ' knee',
    ),
  );
}

/**
 * An option's density at load as three small charts against N instances at once, side by
 * side: throughput per instance (the median instance's), memory per instance, and the worst
 * instance's share of one alone with the SLO line; the knee marked on each.
 */
export function densityCharts(curve: DensityCurve, label: string): HTMLElement {
  return el(
    'div',
    { class: 'density-charts' },
    stepChart(
      curve,
      {
        field: 'throughput',
        name: 'throughput per instance',
        unit: curve.throughputUnit ?? '',
        colour: DENSITY_COLOURS.throughput,
      },
      undefined,
      label,
      'chart-density-throughput',
    ),
    stepChart(
      curve,
      {
        field: 'memory',
        name: 'memory per instance',
        unit: curve.memoryUnit ?? 'MiB',
        colour: DENSITY_COLOURS.memory,
      },
      undefined,
      label,
      'chart-density-memory',
    ),
    stepChart(
      curve,
      {
        field: 'sloShare',
        name: "worst instance's share of one alone",
        unit: 'share',
        colour: DENSITY_COLOURS.sloShare,
        tick: formatRatio,
        atLeast: 1,
      },
      curve.slo,
      label,
      'chart-slo-share',
    ),
  );
}
