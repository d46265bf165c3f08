import uPlot from 'uplot';
import type { ScorePart } from '../contracts/advice.ts';
import { el } from './dom.ts';
import { formatNumber } from './format.ts';

/** Colours of the chart series, told apart also by position and by the table beside them. */
const PALETTE = ['#2563eb', '#db2777', '#059669', '#d97706', '#7c3aed', '#0891b2', '#dc2626'];

const FALLBACK_WIDTH = 320;

/** Draws a chart into `holder` once it is in the page, and resizes it with its holder. */
function mount(holder: HTMLElement, height: number, make: (width: number) => uPlot): void {
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
  const height = 150;
  mount(
    holder,
    height,
    (width) =>
      new uPlot(
        {
          width,
          height,
          legend: { show: false },
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
        holder,
      ),
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
  const height = 240;
  mount(
    holder,
    height,
    (width) =>
      new uPlot(
        {
          width,
          height,
          legend: { show: false },
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
        holder,
      ),
  );
  return holder;
}
