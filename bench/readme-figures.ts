// The README's benchmark figures, written from the newest results of `npm run bench` in bench/results/.
//
// Usage: npm run docs:figures   (or node dist/bench/readme-figures.js on a build): rewrites the block between the
// README's figures markers. test/docs.test.ts fails when the block differs from what this would write.
//
// The pixel table comes from the newest results file that has the pixel section; the flush and lag sentence from the
// newest that has those sections, which a `--sections pixel` run does not. Newest is by the time its first run started,
// as git keeps no file times.

import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { LABELS, type ContenderSummary, type Results } from './report'

export const BEGIN = '<!-- figures: written by `npm run docs:figures` from the newest bench/results/*.json; do not edit by hand -->'
export const END = '<!-- /figures -->'

/** The pixel section's contenders in the README's table, in its order. */
const ROWS = ['bare-uws', 'nginx', 'spoor', 'spoor-no-flush', 'spoor-post-1', 'node-pino']

interface Found { file: string, results: Results }

/** The results files of `bench/run.ts` (not the reports bench's), newest first. */
function runResults (dir: string): Found[] {
  return readdirSync(dir)
    .filter(f => f.endsWith('.json'))
    .map(file => ({ file, results: JSON.parse(readFileSync(join(dir, file), 'utf8')) as Results }))
    .filter(f => f.results.benchmark === 'spoor')
    .sort((a, b) => started(b).localeCompare(started(a)) || b.file.localeCompare(a.file))
}

function started ({ results }: Found): string {
  return results.runs[0]?.startedAt ?? results.date
}

const us = (n: number): string => `${n.toFixed(1)} µs`
const ms = (microseconds: number): string => `${(microseconds / 1000).toFixed(1)} ms`
const k = (n: number): string => `${(n / 1000).toFixed(1)}k`
const label = (contender: string): string => (LABELS[contender] ?? contender).replace('empty_gif', '`empty_gif`').replace('Node http', 'Node `http`')

/** The block's text, without its markers, from the results in `dir` (bench/results/). */
export function figures (dir: string): string {
  const all = runResults(dir)
  const pixel = all.find(f => f.results.summary.contenders.some(c => c.section === 'pixel'))
  if (pixel === undefined) throw new Error(`no results of bench/run.ts with the pixel section in ${dir}`)
  const r = pixel.results
  const wrk = (contender: string): ContenderSummary | undefined => r.summary.contenders.find(c => c.section === 'pixel' && c.contender === contender && c.generator === 'wrk')
  const rows = ROWS.flatMap(name => {
    const c = wrk(name)
    return c === undefined ? [] : [`| ${label(name)} | ${k(c.requestsPerSecond.median)} | ${ms(c.latencyUs.p99.median)} | ${us(c.serverCpuUsPerRequest.median)} |`]
  })
  const summary = `bench/results/${pixel.file.replace(/\.json$/, '.md')}`
  const lines = [
    `From the latest run (${r.date}, ${r.machine.virtualized ? `a ${r.machine.cores}-core virtual machine` : `${r.machine.cores} cores`}, wrk, one core each, median of ${r.settings.rounds} round${r.settings.rounds === 1 ? '' : 's'};`,
    `[the whole summary](${summary})):`,
    '',
    '| | req/s | p99 | server CPU per request |',
    '| --- | --- | --- | --- |',
    ...rows
  ]
  const flush = all.find(f => f.results.flush !== undefined)?.results.flush
  const lag = all.find(f => f.results.lag !== undefined)
  if (flush !== undefined && lag?.results.lag !== undefined) {
    const l = lag.results.lag.lagMs
    lines.push('', `spoor's flush reaches ${flush.ratio.toFixed(2)}× HBase's own Java \`BufferedMutator\` (${flush.spoor.eventsPerSecond} against ${flush.java.eventsPerSecond} events/s),`,
      `and an event is readable in HBase ${l.p50} ms (p50) or ${l.p99} ms (p99) after its request (${lag.results.date}).`)
  }
  return lines.join('\n')
}

/** `readme` with the block between the markers replaced by `block`; throws when the markers are missing. */
export function withFigures (readme: string, block: string): string {
  const from = readme.indexOf(BEGIN)
  const to = readme.indexOf(END)
  if (from < 0 || to < from) throw new Error(`README.md has no figures block: ${BEGIN} … ${END}`)
  return `${readme.slice(0, from + BEGIN.length)}\n${block}\n${readme.slice(to)}`
}

/** The block as the README holds it now, without its markers. */
export function currentFigures (readme: string): string {
  const from = readme.indexOf(BEGIN)
  const to = readme.indexOf(END)
  if (from < 0 || to < from) throw new Error(`README.md has no figures block: ${BEGIN} … ${END}`)
  return readme.slice(from + BEGIN.length, to).replace(/^\n/, '').replace(/\n$/, '')
}

if (require.main === module) {
  const root = join(__dirname, '..', '..')
  const path = join(root, 'README.md')
  const before = readFileSync(path, 'utf8')
  const after = withFigures(before, figures(join(root, 'bench', 'results')))
  if (after !== before) writeFileSync(path, after)
  console.log(after !== before ? 'README.md: figures rewritten' : 'README.md: figures unchanged')
}
