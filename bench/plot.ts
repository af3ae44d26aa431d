// Draws the benchmark's plots as SVG files: per section, throughput (median requests/s, min–max) and latency percentiles.
//
// Usage: node dist/bench/plot.js RESULTS.json
//   reads the file's top-level `plotRuns` and writes RESULTS-<section>-throughput.svg and -latency.svg next to it
//
// vega and vega-lite are ESM only. They are loaded with import(), which module node16 keeps as a real import() in the
// CommonJS output. The 'none' renderer draws SVG without the `canvas` package, and nothing is fetched: the data is
// inline and the font is the generic sans-serif.

import { readFileSync, writeFileSync } from 'node:fs'
import type { TopLevelSpec } from 'vega-lite' with { 'resolution-mode': 'import' }

export interface PlotRun {
  /** Which part of the bench: e.g. 'pixel' (one server core) or 'scaling'. */
  section: string
  /** e.g. 'spoor', 'nginx', 'bare-uws', 'node-pino', 'spoor-post-10'. */
  contender: string
  loadGenerator: 'wrk' | 'autocannon'
  round: number
  requestsPerSecond: number
  /** Events per second where one request carries several events (POST batches); otherwise equal to requestsPerSecond. */
  eventsPerSecond: number
  latencyUs: { p50: number, p90: number, p99: number, 'p99.9': number }
}

const LOAD_GENERATORS: Array<PlotRun['loadGenerator']> = ['wrk', 'autocannon']
const PERCENTILES = ['p50', 'p90', 'p99', 'p99.9'] as const
const WIDTH = 720
const HEIGHT = 360
const LOOK = { background: 'white', config: { font: 'sans-serif', title: { anchor: 'start' as const }, header: { labelFontSize: 12 } } }
/** Makes a single view WIDTH wide in all, axes and legend included; vega-lite cannot fit a faceted one. */
const FIT = { autosize: { type: 'fit', contains: 'padding' } } as const

/** The runs of one contender under one load generator, one per round. */
interface Group {
  contender: string
  loadGenerator: PlotRun['loadGenerator']
  runs: PlotRun[]
}

/** Writes `${base}-${section}-throughput.svg` and `${base}-${section}-latency.svg` for each section present; returns the paths written. */
export async function writePlots (runs: PlotRun[], base: string): Promise<string[]> {
  const written: string[] = []
  for (const section of unique(runs.map(r => r.section))) {
    const groups = byContender(runs.filter(r => r.section === section))
    const plots: Array<[string, TopLevelSpec]> = [
      ['throughput', throughputSpec(section, groups)],
      ['latency', latencySpec(section, groups)]
    ]
    for (const [kind, spec] of plots) {
      const path = `${base}-${section}-${kind}.svg`
      writeFileSync(path, await render(spec))
      written.push(path)
    }
  }
  return written
}

async function render (spec: TopLevelSpec): Promise<string> {
  const [vega, vegaLite] = await Promise.all([import('vega'), import('vega-lite')])
  const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: 'none' })
  try {
    return await view.toSVG()
  } finally {
    view.finalize()
  }
}

function throughputSpec (section: string, groups: Group[]): TopLevelSpec {
  const rows = groups.map(g => {
    const rps = g.runs.map(r => r.requestsPerSecond)
    return { contender: g.contender, loadGenerator: g.loadGenerator, median: median(rps), min: Math.min(...rps), max: Math.max(...rps) }
  })
  // POST batches carry several events a request: their bar stays requests, and their events go under the title.
  const events = groups
    .map(g => ({ g, events: median(g.runs.map(r => r.eventsPerSecond)) }))
    .filter(({ g, events }) => events !== median(g.runs.map(r => r.requestsPerSecond)))
    .map(({ g, events }) => `${g.contender} (${g.loadGenerator}): ${short(events)} events per second`)
  const x = { field: 'contender', type: 'nominal', sort: unique(groups.map(g => g.contender)), title: null, axis: { labelAngle: 0 } } as const
  const xOffset = { field: 'loadGenerator', type: 'nominal', sort: LOAD_GENERATORS } as const
  return {
    ...LOOK,
    ...FIT,
    title: { text: `${section}: requests per second, median of ${rounds(groups)}, min–max`, subtitle: events },
    width: WIDTH,
    height: HEIGHT,
    data: { values: rows },
    encoding: { x, xOffset },
    layer: [
      {
        mark: 'bar',
        encoding: {
          y: { field: 'median', type: 'quantitative', title: 'requests per second' },
          // Blues, so that they are not read as the latency plot's contender colours.
          color: { field: 'loadGenerator', type: 'nominal', sort: LOAD_GENERATORS, scale: { domain: LOAD_GENERATORS, range: ['#4c78a8', '#9ecae9'] }, title: 'load generator' }
        }
      },
      {
        mark: { type: 'rule', color: 'black', strokeWidth: 1.5 },
        encoding: { y: { field: 'min', type: 'quantitative' }, y2: { field: 'max' } }
      },
      {
        mark: { type: 'text', baseline: 'bottom', dy: -3, fontSize: 10 },
        encoding: { y: { field: 'max', type: 'quantitative' }, text: { field: 'median', format: '.3~s' } }
      }
    ]
  }
}

function latencySpec (section: string, groups: Group[]): TopLevelSpec {
  const rows = groups.flatMap(g => PERCENTILES.map(p => ({
    contender: g.contender,
    loadGenerator: g.loadGenerator,
    percentile: p,
    us: median(g.runs.map(r => r.latencyUs[p]))
  })))
  const generators = LOAD_GENERATORS.filter(l => groups.some(g => g.loadGenerator === l))
  const title = `${section}: latency percentiles, median of ${rounds(groups)}` + (generators.length === 1 ? ` (${generators[0]})` : '')
  const layer = {
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'percentile', type: 'ordinal', sort: PERCENTILES, title: 'percentile', axis: { labelAngle: 0 } },
      y: { field: 'us', type: 'quantitative', scale: { type: 'log', nice: false, padding: 12 }, title: 'latency (µs, log scale)' },
      color: { field: 'contender', type: 'nominal', sort: unique(groups.map(g => g.contender)), title: 'contender' }
    }
  } as const
  if (generators.length === 1) return { ...LOOK, ...FIT, title, width: WIDTH, height: HEIGHT, data: { values: rows }, ...layer }
  return {
    ...LOOK,
    title,
    data: { values: rows },
    facet: { column: { field: 'loadGenerator', type: 'nominal', sort: LOAD_GENERATORS, title: null } },
    // The y axis and the gap between panels take about 120 px; the legend goes below, so the whole is about WIDTH.
    spec: { width: (WIDTH - 120) / 2, height: HEIGHT, ...layer },
    config: { ...LOOK.config, legend: { orient: 'bottom' } }
  }
}

/** Contender and load generator pairs, in the order first seen. */
function byContender (runs: PlotRun[]): Group[] {
  const groups = new Map<string, Group>()
  for (const run of runs) {
    const key = `${run.contender}\0${run.loadGenerator}`
    const group = groups.get(key) ?? { contender: run.contender, loadGenerator: run.loadGenerator, runs: [] }
    group.runs.push(run)
    groups.set(key, group)
  }
  return [...groups.values()]
}

/** "5 rounds", or "3–5 rounds" when some contender ran fewer. */
function rounds (groups: Group[]): string {
  const counts = groups.map(g => g.runs.length)
  const [least, most] = [Math.min(...counts), Math.max(...counts)]
  return least === most ? `${most} round${most === 1 ? '' : 's'}` : `${least}–${most} rounds`
}

function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

function short (n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`
  return String(Math.round(n))
}

function unique<T> (values: T[]): T[] {
  return [...new Set(values)]
}

async function main (): Promise<void> {
  const file = process.argv[2]
  if (file === undefined || !file.endsWith('.json')) throw new TypeError('usage: node dist/bench/plot.js RESULTS.json')
  const { plotRuns } = JSON.parse(readFileSync(file, 'utf8')) as { plotRuns?: PlotRun[] }
  if (!Array.isArray(plotRuns) || plotRuns.length === 0) throw new TypeError(`${file} has no plotRuns`)
  for (const path of await writePlots(plotRuns, file.slice(0, -'.json'.length))) console.log(path)
}

if (require.main === module) {
  main().catch(err => {
    console.error(err)
    process.exit(1)
  })
}
