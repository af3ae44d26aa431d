// The bench's SVG plots, drawn from made-up runs.

import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { writePlots, type PlotRun } from '../bench/plot'

const CONTENDERS = ['bare-uws', 'spoor', 'spoor-post-10']

function run (section: string, contender: string, loadGenerator: PlotRun['loadGenerator'], round: number): PlotRun {
  const requestsPerSecond = 100_000 + 1000 * round
  return {
    section,
    contender,
    loadGenerator,
    round,
    requestsPerSecond,
    eventsPerSecond: contender === 'spoor-post-10' ? 10 * requestsPerSecond : requestsPerSecond,
    latencyUs: { p50: 200 + round, p90: 400, p99: 900, 'p99.9': 2000 }
  }
}

const runs = [0, 1, 2].flatMap(round => CONTENDERS.flatMap(c => [
  run('pixel', c, 'wrk', round),
  run('pixel', c, 'autocannon', round),
  run('scaling', c, 'wrk', round)
]))

t.test('writes a throughput and a latency SVG per section, naming every contender', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'spoor-plot-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const base = join(dir, 'results')
  const written = await writePlots(runs, base)
  t.same(written, ['pixel-throughput', 'pixel-latency', 'scaling-throughput', 'scaling-latency'].map(s => `${base}-${s}.svg`))
  for (const path of written) {
    t.ok(existsSync(path), path)
    const svg = readFileSync(path, 'utf8')
    t.match(svg, /^<svg /, `${path} is SVG`)
    t.match(svg, /<\/svg>$/, `${path} is whole`)
    for (const contender of CONTENDERS) t.ok(svg.includes(contender), `${path} names ${contender}`)
  }
  t.match(readFileSync(`${base}-pixel-throughput.svg`, 'utf8'), 'median of 3 rounds, min–max')
  t.match(readFileSync(`${base}-pixel-throughput.svg`, 'utf8'), 'spoor-post-10 (wrk): 1.01M events per second')
})
