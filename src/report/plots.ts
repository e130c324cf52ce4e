import type * as vega from 'vega';

/** Vega specs for the comparison report, rendered to SVG headless (no browser, no canvas). */

export interface LossPoint {
  variant: string;
  epoch: number;
  split: 'train' | 'validation';
  mean: number;
  std: number;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

/** Mean loss per epoch (line) ± one std across seeds (band), one colour per gate, dashed for training loss. */
export function lossCurveSpec(points: readonly LossPoint[], title: string): vega.Spec {
  const rows = points.map((p) => ({ ...p, low: p.mean - p.std, high: p.mean + p.std }));
  return {
    $schema: 'https://vega.github.io/schema/vega/v5.json',
    description: title,
    width: 560,
    height: 320,
    padding: 8,
    title: { text: title, anchor: 'start', fontSize: 14 },
    data: [{ name: 'loss', values: rows }],
    scales: [
      { name: 'x', type: 'linear', domain: { data: 'loss', field: 'epoch' }, range: 'width', nice: false, zero: false },
      { name: 'y', type: 'linear', domain: { data: 'loss', fields: ['low', 'high'] }, range: 'height', nice: true, zero: false },
      { name: 'colour', type: 'ordinal', domain: { data: 'loss', field: 'variant' }, range: PALETTE },
      { name: 'dash', type: 'ordinal', domain: ['validation', 'train'], range: [[1, 0], [6, 4]] },
    ],
    axes: [
      { orient: 'bottom', scale: 'x', title: 'epoch', tickMinStep: 1, format: 'd' },
      { orient: 'left', scale: 'y', title: 'loss (mean over tasks)', grid: true },
    ],
    legends: [
      { stroke: 'colour', title: 'gate', symbolType: 'stroke', labelLimit: 260 },
      { strokeDash: 'dash', title: 'split', symbolType: 'stroke' },
    ],
    marks: [
      {
        type: 'group',
        name: 'series',
        from: { facet: { name: 'curve', data: 'loss', groupby: ['variant', 'split'] } },
        marks: [
          {
            type: 'area',
            name: 'band',
            from: { data: 'curve' },
            encode: {
              enter: {
                x: { scale: 'x', field: 'epoch' },
                y: { scale: 'y', field: 'low' },
                y2: { scale: 'y', field: 'high' },
                fill: { scale: 'colour', field: 'variant' },
                fillOpacity: { value: 0.12 },
              },
            },
          },
          {
            type: 'line',
            name: 'curve-line',
            from: { data: 'curve' },
            encode: {
              enter: {
                x: { scale: 'x', field: 'epoch' },
                y: { scale: 'y', field: 'mean' },
                stroke: { scale: 'colour', field: 'variant' },
                strokeDash: { scale: 'dash', field: 'split' },
                strokeWidth: { value: 2 },
              },
            },
          },
        ],
      },
    ],
  };
}

export interface HeatmapInput {
  title: string;
  /** weights[t][e]: task t's weight on expert e. */
  weights: readonly (readonly number[])[];
  /** Ground-truth group per task, shown in the row labels when known. */
  groups?: ArrayLike<number>;
}

/** Tasks × experts heat map of gate weights in [0, 1]; cells annotated when the grid is small. */
export function heatmapSpec(input: HeatmapInput): vega.Spec {
  const T = input.weights.length;
  const n = T > 0 ? input.weights[0]!.length : 0;
  const taskLabel = (t: number): string => (input.groups ? `task ${t} · group ${input.groups[t]}` : `task ${t}`);
  const cells = input.weights.flatMap((row, t) =>
    row.map((w, e) => ({ task: taskLabel(t), expert: `${e}`, weight: w, label: w > 0.005 ? w.toFixed(2) : '' })),
  );
  const cell = Math.max(6, Math.min(32, Math.floor(480 / Math.max(T, n, 1))));
  const annotate = cell >= 24;
  const marks: vega.Mark[] = [
    {
      type: 'rect',
      name: 'heat-cells',
      from: { data: 'cells' },
      encode: {
        enter: {
          x: { scale: 'x', field: 'expert' },
          width: { scale: 'x', band: 1 },
          y: { scale: 'y', field: 'task' },
          height: { scale: 'y', band: 1 },
          fill: { scale: 'colour', field: 'weight' },
          stroke: { value: '#ffffff' },
          strokeWidth: { value: 0.5 },
        },
      },
    },
  ];
  if (annotate) {
    marks.push({
      type: 'text',
      name: 'heat-values',
      from: { data: 'cells' },
      encode: {
        enter: {
          x: { scale: 'x', field: 'expert', band: 0.5 },
          y: { scale: 'y', field: 'task', band: 0.5 },
          text: { field: 'label' },
          align: { value: 'center' },
          baseline: { value: 'middle' },
          fontSize: { value: 9 },
          fill: { signal: "datum.weight > 0.5 ? '#ffffff' : '#222222'" },
        },
      },
    });
  }
  return {
    $schema: 'https://vega.github.io/schema/vega/v5.json',
    description: input.title,
    width: cell * n,
    height: cell * T,
    padding: 8,
    title: { text: input.title, anchor: 'start', fontSize: 13 },
    data: [{ name: 'cells', values: cells }],
    scales: [
      { name: 'x', type: 'band', domain: Array.from({ length: n }, (_, e) => `${e}`), range: 'width' },
      { name: 'y', type: 'band', domain: Array.from({ length: T }, (_, t) => taskLabel(t)), range: 'height' },
      { name: 'colour', type: 'linear', domain: [0, 1], range: ['#ffffff', '#08306b'], interpolate: 'rgb', zero: true },
    ],
    axes: [
      { orient: 'top', scale: 'x', title: 'expert', labelAngle: 0 },
      { orient: 'left', scale: 'y', labelFontSize: T > 40 ? 6 : 10 },
    ],
    legends: [{ fill: 'colour', title: 'gate weight', type: 'gradient', gradientLength: Math.max(60, Math.min(200, cell * T)) }],
    marks,
  };
}

export interface IntervalPoint {
  series: string;
  x: number;
  /** Mean and the ends of its confidence interval (equal to the mean when there is none). */
  y: number;
  low: number;
  high: number;
}

/** Lines of a metric over x (e.g. the number of tasks, log₂ axis), one per series, with CI error bars. */
export function intervalLinesSpec(points: readonly IntervalPoint[], opts: { title: string; xTitle: string; yTitle: string; logX?: boolean }): vega.Spec {
  const xs = [...new Set(points.map((p) => p.x))].sort((a, b) => a - b);
  return {
    $schema: 'https://vega.github.io/schema/vega/v5.json',
    description: opts.title,
    width: 520,
    height: 320,
    padding: 8,
    title: { text: opts.title, anchor: 'start', fontSize: 14 },
    data: [{ name: 'points', values: points.map((p) => ({ ...p })) }],
    scales: [
      opts.logX
        ? { name: 'x', type: 'log', base: 2, domain: xs.length > 0 ? [xs[0]! / 1.3, xs[xs.length - 1]! * 1.3] : [1, 2], range: 'width', nice: false, zero: false }
        : { name: 'x', type: 'linear', domain: xs.length > 0 ? [xs[0]!, Math.max(xs[xs.length - 1]!, xs[0]! + 1)] : [0, 1], range: 'width', nice: false, zero: false },
      { name: 'y', type: 'linear', domain: { data: 'points', fields: ['low', 'high'] }, range: 'height', nice: true, zero: false },
      { name: 'colour', type: 'ordinal', domain: { data: 'points', field: 'series' }, range: PALETTE },
    ],
    axes: [
      { orient: 'bottom', scale: 'x', title: opts.xTitle, values: xs, format: 'd' },
      { orient: 'left', scale: 'y', title: opts.yTitle, grid: true },
    ],
    legends: [{ stroke: 'colour', title: 'gate', symbolType: 'stroke', labelLimit: 300 }],
    marks: [
      {
        type: 'group',
        name: 'series',
        from: { facet: { name: 'line', data: 'points', groupby: ['series'] } },
        marks: [
          {
            type: 'line',
            name: 'series-line',
            from: { data: 'line' },
            sort: { field: 'datum.x' },
            encode: { enter: { x: { scale: 'x', field: 'x' }, y: { scale: 'y', field: 'y' }, stroke: { scale: 'colour', field: 'series' }, strokeWidth: { value: 2 } } },
          },
          {
            type: 'rule',
            name: 'series-ci',
            from: { data: 'line' },
            encode: { enter: { x: { scale: 'x', field: 'x' }, y: { scale: 'y', field: 'low' }, y2: { scale: 'y', field: 'high' }, stroke: { scale: 'colour', field: 'series' }, strokeWidth: { value: 1.5 } } },
          },
          {
            type: 'symbol',
            name: 'series-points',
            from: { data: 'line' },
            encode: { enter: { x: { scale: 'x', field: 'x' }, y: { scale: 'y', field: 'y' }, fill: { scale: 'colour', field: 'series' }, size: { value: 36 } } },
          },
        ],
      },
    ],
  };
}

/** Renders a Vega spec to a standalone SVG document without a browser. */
/** Why no SVG could be drawn: the plotting stack (vega) is an optional peer dependency. */
export const PLOTS_UNAVAILABLE = 'plots skipped: the optional dependency vega is not installed (npm install vega)';

let vegaModule: Promise<typeof vega | null> | undefined;

function loadVega(): Promise<typeof vega | null> {
  vegaModule ??= import('vega').then(
    (m) => m,
    () => null,
  );
  return vegaModule;
}

/** The figure as an SVG document, or null when vega is not installed (see PLOTS_UNAVAILABLE). */
export async function renderSvg(spec: vega.Spec): Promise<string | null> {
  const v = await loadVega();
  if (!v) return null;
  const view = new v.View(v.parse(spec), { renderer: 'none', logLevel: v.Warn });
  try {
    const svg = await view.toSVG();
    return `<?xml version="1.0" encoding="UTF-8"?>\n${svg}\n`;
  } finally {
    view.finalize();
  }
}
