import type * as vega from 'vega';

/** Vega specs that show how a MoE layer uses its experts: over training, and per class (specialisation). */

export interface UtilizationPoint {
  /** Position in training: an epoch (fractional for checkpoints inside an epoch). */
  epoch: number;
  expert: number;
  /** Fraction of the routed examples that went to this expert in the window ending here. */
  share: number;
  /** Series name when several runs share one plot (e.g. 'none', 'soft', 'hard'). */
  run?: string;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];

/**
 * Share of examples per expert over training, one line per expert (one panel per run), with the
 * uniform share 1/n dashed: balanced routing hugs the dashed line, collapse shows as one line near 1.
 * Panels are titled `panelPrefix + run`.
 */
export function utilizationSpec(points: readonly UtilizationPoint[], numExperts: number, title: string, panelPrefix = ''): vega.Spec {
  const rows = points.map((p) => ({ ...p, run: p.run ?? '', expertLabel: `expert ${p.expert}` }));
  const runs = [...new Set(rows.map((r) => r.run))];
  const panelWidth = 360;
  const panelHeight = 220;
  return {
    $schema: 'https://vega.github.io/schema/vega/v5.json',
    description: title,
    padding: 8,
    title: { text: title, anchor: 'start', fontSize: 14 },
    data: [
      { name: 'usage', values: rows },
      { name: 'runs', values: runs.map((run, i) => ({ run, column: i })) },
    ],
    scales: [
      { name: 'colour', type: 'ordinal', domain: Array.from({ length: numExperts }, (_, e) => `expert ${e}`), range: PALETTE },
    ],
    legends: [{ stroke: 'colour', title: 'expert', symbolType: 'stroke', orient: 'right' }],
    layout: { columns: Math.min(3, Math.max(1, runs.length)), padding: 24 },
    marks: [
      {
        type: 'group',
        name: 'panel',
        from: { facet: { name: 'panelData', data: 'usage', groupby: ['run'] } },
        encode: { enter: { width: { value: panelWidth }, height: { value: panelHeight } } },
        title: { text: { signal: `parent.run ? ${JSON.stringify(panelPrefix)} + parent.run : ''` }, fontSize: 12 },
        scales: [
          // fixed pixel ranges: inside a faceted group the 'width'/'height' range shorthands are not the panel's
          { name: 'x', type: 'linear', domain: { data: 'panelData', field: 'epoch' }, range: [0, panelWidth], nice: false, zero: false },
          { name: 'y', type: 'linear', domain: [0, 1], range: [panelHeight, 0] },
        ],
        axes: [
          { orient: 'bottom', scale: 'x', title: 'epoch' },
          { orient: 'left', scale: 'y', title: 'share of examples', grid: true, format: '%' },
        ],
        marks: [
          {
            type: 'rule',
            name: 'uniform-share',
            encode: {
              enter: {
                x: { value: 0 },
                x2: { value: panelWidth },
                y: { scale: 'y', value: 1 / Math.max(1, numExperts) },
                stroke: { value: '#555555' },
                strokeDash: { value: [4, 4] },
              },
            },
          },
          {
            type: 'group',
            from: { facet: { name: 'expertLine', data: 'panelData', groupby: ['expertLabel'] } },
            marks: [
              {
                type: 'line',
                name: 'share-line',
                from: { data: 'expertLine' },
                encode: {
                  enter: {
                    x: { scale: 'x', field: 'epoch' },
                    y: { scale: 'y', field: 'share' },
                    stroke: { scale: 'colour', field: 'expertLabel' },
                    strokeWidth: { value: 2 },
                  },
                },
              },
            ],
          },
        ],
      },
    ],
  };
}

export interface RoutingTableInput {
  title: string;
  /** Row labels (classes or datasets). */
  rowLabels: readonly string[];
  /** shares[r][e]: fraction of row r's examples routed to expert e. */
  shares: readonly (readonly number[])[];
}

/** Rows (classes or datasets) × experts heat map of routing shares: specialised experts show as dark, isolated cells. */
export function routingTableSpec(input: RoutingTableInput): vega.Spec {
  const n = input.shares[0]?.length ?? 0;
  const cells = input.shares.flatMap((row, r) => row.map((share, e) => ({ row: input.rowLabels[r] ?? `${r}`, expert: `${e}`, share, label: share >= 0.005 ? share.toFixed(2) : '' })));
  const cell = Math.max(10, Math.min(36, Math.floor(520 / Math.max(n, input.rowLabels.length, 1))));
  return {
    $schema: 'https://vega.github.io/schema/vega/v5.json',
    description: input.title,
    width: cell * n,
    height: cell * input.rowLabels.length,
    padding: 8,
    title: { text: input.title, anchor: 'start', fontSize: 13 },
    data: [{ name: 'cells', values: cells }],
    scales: [
      { name: 'x', type: 'band', domain: Array.from({ length: n }, (_, e) => `${e}`), range: 'width' },
      { name: 'y', type: 'band', domain: [...input.rowLabels], range: 'height' },
      { name: 'colour', type: 'linear', domain: [0, 1], range: ['#ffffff', '#08306b'], interpolate: 'rgb', zero: true },
    ],
    axes: [
      { orient: 'top', scale: 'x', title: 'expert', labelAngle: 0 },
      { orient: 'left', scale: 'y' },
    ],
    legends: [{ fill: 'colour', title: 'share routed', type: 'gradient' }],
    marks: [
      {
        type: 'rect',
        name: 'share-cells',
        from: { data: 'cells' },
        encode: {
          enter: {
            x: { scale: 'x', field: 'expert' },
            width: { scale: 'x', band: 1 },
            y: { scale: 'y', field: 'row' },
            height: { scale: 'y', band: 1 },
            fill: { scale: 'colour', field: 'share' },
            stroke: { value: '#ffffff' },
            strokeWidth: { value: 0.5 },
          },
        },
      },
      ...(cell >= 24
        ? [
            {
              type: 'text' as const,
              name: 'share-values',
              from: { data: 'cells' },
              encode: {
                enter: {
                  x: { scale: 'x', field: 'expert', band: 0.5 },
                  y: { scale: 'y', field: 'row', band: 0.5 },
                  text: { field: 'label' },
                  align: { value: 'center' as const },
                  baseline: { value: 'middle' as const },
                  fontSize: { value: 9 },
                  fill: { signal: "datum.share > 0.5 ? '#ffffff' : '#222222'" },
                },
              },
            },
          ]
        : []),
    ],
  };
}

/** shares[r][e] from per-example rows and first-choice experts (−1 = dropped, ignored). */
export function routingShares(rowOf: ArrayLike<number>, experts: ArrayLike<number>, numRows: number, numExperts: number): number[][] {
  const k = experts.length / Math.max(1, rowOf.length);
  const counts = Array.from({ length: numRows }, () => new Array<number>(numExperts).fill(0));
  for (let i = 0; i < rowOf.length; i++) {
    const e = experts[i * k]!;
    if (e >= 0) counts[rowOf[i]!]![e]!++;
  }
  return counts.map((row) => {
    const total = row.reduce((a, b) => a + b, 0);
    return row.map((c) => (total > 0 ? c / total : 0));
  });
}
