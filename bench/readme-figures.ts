// The benchmark figures of the README and of docs/benchmarks.md, written from the newest results of `npm run bench`
// in bench/results/.
//
// Usage: npm run docs:figures   (or node dist/bench/readme-figures.js on a build): rewrites the block between the
// figures markers in both files: the README's table, and the targets with their measured ratios in
// docs/benchmarks.md. test/docs.test.ts fails when a block differs from what this would write.
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
const ROWS = ['bare-uws', 'nginx', 'spoor', 'spoor-no-flush', 'spoor-post-1', 'spoor-post-100', 'node-pino']

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

/** The pixel section's table rows, wrk, medians: req/s, p99, server CPU per request. */
function pixelRows (r: Results): string[] {
  const wrk = (contender: string): ContenderSummary | undefined => r.summary.contenders.find(c => c.section === 'pixel' && c.contender === contender && c.generator === 'wrk')
  return ROWS.flatMap(name => {
    const c = wrk(name)
    if (c === undefined) return []
    const rate = c.eventsPerSecond.median === c.requestsPerSecond.median ? k(c.requestsPerSecond.median) : `${k(c.requestsPerSecond.median)} (${k(c.eventsPerSecond.median)} events/s)`
    return [`| ${label(name)} | ${rate} | ${ms(c.latencyUs.p99.median)} | ${us(c.serverCpuUsPerRequest.median)} |`]
  })
}

/** The block's text, without its markers, from the results in `dir` (bench/results/). */
export function figures (dir: string): string {
  const all = runResults(dir)
  const pixel = all.find(f => f.results.summary.contenders.some(c => c.section === 'pixel'))
  if (pixel === undefined) throw new Error(`no results of bench/run.ts with the pixel section in ${dir}`)
  const r = pixel.results
  const rows = pixelRows(r)
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

/** docs/benchmarks.md's block: every target of the newest run with the pixel section, measured and met or missed. */
export function targetFigures (dir: string): string {
  const pixel = runResults(dir).find(f => f.results.summary.contenders.some(c => c.section === 'pixel'))
  if (pixel === undefined) throw new Error(`no results of bench/run.ts with the pixel section in ${dir}`)
  const r = pixel.results
  const met = (m: boolean | null): string => m === null ? 'not run' : m ? 'met' : '**missed**'
  return [
    `The run of ${r.date} ([summary](../bench/results/${pixel.file.replace(/\.json$/, '.md')}), [raw JSON](../bench/results/${pixel.file})), on commit`,
    `${r.source.commit.slice(0, 7)}${r.source.uncommitted.length > 0 ? ' with uncommitted changes' : ''}, ${r.machine.virtualized ? `a ${r.machine.cores}-core virtual machine` : `${r.machine.cores} cores`}, \`${r.commands.benchmark}\`, ${r.elapsedSeconds} s:`,
    '',
    '| target | measured | |',
    '| --- | --- | --- |',
    ...r.summary.targets.map(t => `| ${t.name.replace('empty_gif', '`empty_gif`')} | ${t.measured} | ${met(t.met)} |`),
    '',
    `The pixel, wrk, one core each, median of ${r.settings.rounds} round${r.settings.rounds === 1 ? '' : 's'}:`,
    '',
    '| | req/s | p99 | server CPU per request |',
    '| --- | --- | --- | --- |',
    ...pixelRows(r),
    ...profileTable(dir)
  ].join('\n')
}

interface ProfileFile { benchmark: 'spoor-profile', date: string, commit: string, command: string, profiles: Array<{ contender: string, cpuUsPerRequest: number, steps: Array<{ step: string, usPerRequest: number }> }> }

/** The newest profile of bench/profile.ts at full load (not a paced one) as one table: µs per request by step and server. */
function profileTable (dir: string): string[] {
  const found = readdirSync(dir).filter(f => f.endsWith('-profile.json')).map(file => ({ file, p: JSON.parse(readFileSync(join(dir, file), 'utf8')) as ProfileFile }))
    .filter(f => f.p.benchmark === 'spoor-profile' && !f.p.command.includes('--rate')).sort((a, b) => b.p.date.localeCompare(a.p.date) || b.file.localeCompare(a.file))[0]
  if (found === undefined) return []
  const { p, file } = found
  const steps = [...new Set(p.profiles.flatMap(x => x.steps.map(s => s.step)))]
  const cell = (x: ProfileFile['profiles'][number], step: string): string => {
    const us = x.steps.find(s => s.step === step)?.usPerRequest ?? 0
    return us < 0.005 ? '' : us.toFixed(2)
  }
  return [
    '',
    `Where each server's CPU goes at full load, µs per request by step ([profile](../bench/results/${file.replace(/\.json$/, '.md')}), ${p.date}, commit ${p.commit}, \`${p.command}\`):`,
    '',
    `| step | ${p.profiles.map(x => label(x.contender)).join(' | ')} |`,
    `| --- | ${p.profiles.map(() => '---').join(' | ')} |`,
    ...steps.map(step => `| ${step} | ${p.profiles.map(x => cell(x, step)).join(' | ')} |`),
    `| **all** | ${p.profiles.map(x => `**${x.cpuUsPerRequest.toFixed(2)}**`).join(' | ')} |`
  ]
}

/** `text` with the block between the markers replaced by `block`; throws when the markers are missing. */
export function withFigures (text: string, block: string, file = 'README.md'): string {
  const from = text.indexOf(BEGIN)
  const to = text.indexOf(END)
  if (from < 0 || to < from) throw new Error(`${file} has no figures block: ${BEGIN} … ${END}`)
  return `${text.slice(0, from + BEGIN.length)}\n${block}\n${text.slice(to)}`
}

/** The block as the file holds it now, without its markers. */
export function currentFigures (text: string, file = 'README.md'): string {
  const from = text.indexOf(BEGIN)
  const to = text.indexOf(END)
  if (from < 0 || to < from) throw new Error(`${file} has no figures block: ${BEGIN} … ${END}`)
  return text.slice(from + BEGIN.length, to).replace(/^\n/, '').replace(/\n$/, '')
}

if (require.main === module) {
  const root = join(__dirname, '..', '..')
  const results = join(root, 'bench', 'results')
  for (const [file, block] of [['README.md', figures(results)], [join('docs', 'benchmarks.md'), targetFigures(results)]]) {
    const path = join(root, file)
    const before = readFileSync(path, 'utf8')
    const after = withFigures(before, block, file)
    if (after !== before) writeFileSync(path, after)
    console.log(`${file}: figures ${after !== before ? 'rewritten' : 'unchanged'}`)
  }
}
