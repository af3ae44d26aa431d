// The charts: uPlot line and bar charts, each a small spec over numbers a report or the counters already hold.

import uPlot from 'uplot'

const COLORS = ['#2563eb', '#16a34a', '#d97706', '#9333ea', '#dc2626']

function width (el: HTMLElement): number {
  return Math.max(320, Math.min(el.clientWidth, 1100))
}

export interface Line { label: string, values: number[] }

/** A line chart over time; `xs` in ms since the epoch, drawn in the viewer's time zone. */
export function lineChart (target: HTMLElement, xs: number[], lines: Line[], format: (v: number) => string, height = 260): uPlot {
  const opts: uPlot.Options = {
    width: width(target),
    height,
    series: [{}, ...lines.map((l, i) => ({ label: l.label, stroke: COLORS[i % COLORS.length], width: 2, points: { show: xs.length < 50 }, value: (_: uPlot, v: number | null) => v == null ? '–' : format(v) }))],
    axes: [{}, { values: (_: uPlot, splits: number[]) => splits.map(format), size: 60 }],
    scales: { y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
    cursor: { drag: { x: false, y: false } }
  }
  return new uPlot(opts, [xs.map(x => x / 1000), ...lines.map(l => l.values)], target)
}

/** A bar chart of labelled values, in the order given. */
export function barChart (target: HTMLElement, labels: string[], values: number[], label: string, format: (v: number) => string, height = 260): uPlot {
  const xs = labels.map((_, i) => i)
  const opts: uPlot.Options = {
    width: width(target),
    height,
    series: [
      { value: (_: uPlot, i: number | null) => i == null ? '–' : labels[i] ?? '' },
      { label, fill: `${COLORS[0]}cc`, stroke: COLORS[0], paths: uPlot.paths.bars!({ size: [0.7, 80] }), points: { show: false }, value: (_: uPlot, v: number | null) => v == null ? '–' : format(v) }
    ],
    scales: { x: { time: false, range: [-0.5, labels.length - 0.5] }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
    axes: [
      { values: (_: uPlot, splits: number[]) => splits.map(i => Number.isInteger(i) ? labels[i] ?? '' : ''), incrs: [1], gap: 4 },
      { values: (_: uPlot, splits: number[]) => splits.map(format), size: 60 }
    ],
    legend: { show: true },
    cursor: { drag: { x: false, y: false } }
  }
  return new uPlot(opts, [xs, values], target)
}
