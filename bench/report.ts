// Turns pixel.ts's raw runs into the summary (median and spread per contender, ratios to bare uWS.js) and its Markdown page.

import { CONTENDERS, type Answer, type ContenderName } from './contenders'
import type { HandlerResult } from './handler'
import type { Machine } from './proc'
import type { WrkResult } from './wrk'

/** What either spoor daemon counted over the measured run. */
export interface CollectorCounts {
  /** Pixels answered (wrk may count up to one per connection fewer: those in flight when it stopped). */
  pixels: number
  eventsAccepted: number
  eventsDropped: number
  rejected: Record<string, number>
}

/** The full pipeline's flush of the measured run's events, waited for after the load. */
export interface FlushFigures {
  eventsDelivered: number
  /** Every pixel answered in the measured run was accepted and acknowledged by HBase. */
  deliveredAll: boolean
  /** From the end of the load until nothing was left in memory, in the buffer or in flight. */
  flushTailMs: number
  /** The daemon's CPU from the start of the load until flushed, over the events delivered. */
  cpuUsPerEventInclFlush: number
  /** Both bench HBase JVMs' CPU over the same span, over the events delivered. */
  hbaseCpuUsPerEvent: number
}

export interface RunRecord {
  round: number
  /** Place in the round; the order rotates from round to round. */
  position: number
  contender: ContenderName
  startedAt: string
  loadAverageBefore: [number, number, number]
  /** How long the run waited for the machine to go quiet, and how busy it was then (% of all cores, the bench HBase included). */
  quiet: { waitedMs: number, busyPct: number, gaveUp: boolean }
  serverCommand: string
  serverCpus: string
  wrkCommand: string
  wrk: WrkResult
  /** The server's utime + stime over the measured run, in clock ticks. */
  serverCpuTicks: number
  serverCpuUsPerRequest: number
  /** Busy and steal share of each core over the measured run. */
  cores: Array<{ busyPct: number, stealPct: number }>
  /** The server core's busy share not spent by the server: other processes on its core, a sign of a noisy run. */
  othersOnServerCorePct: number
  exitCode: number | null
  collector?: CollectorCounts
  flush?: FlushFigures
}

export interface Spread {
  median: number
  min: number
  max: number
}

export interface ContenderSummary {
  runs: number
  requestsPerSecond: Spread
  latencyUs: { p50: Spread, p99: Spread, 'p99.9': Spread }
  serverCpuUsPerRequest: Spread
  serverCoreBusyPct: Spread
  othersOnServerCorePct: Spread
}

export interface Ratio {
  /** Of the medians. */
  requestsPerSecond: number
  /** Each round's own pair. */
  requestsPerSecondPerRound: Spread
  serverCpuUsPerRequest: number
  serverCpuUsPerRequestPerRound: Spread
}

export interface Summary {
  contenders: Record<ContenderName, ContenderSummary>
  flush: {
    cpuUsPerEventInclFlush: Spread
    hbaseCpuUsPerEvent: Spread
    flushTailMs: Spread
    eventsDelivered: number
    pixelsAnswered: number
  }
  /** Each spoor contender over bare uWS.js. */
  ratio: { spoor: Ratio, 'spoor-no-flush': Ratio }
  targets: {
    /** The full pipeline costs under 10% of bare uWS throughput: its req/s ratio is at least 0.9. */
    throughputWithin10Pct: boolean
    /** The same read from server CPU per request, which stays meaningful when the load generator or a neighbour is the limit. */
    cpuWithin10Pct: boolean
    /** In-process handler plus encode, p99 under 20 µs. */
    handlerP99Under20Us: boolean
  }
}

export interface Results {
  benchmark: 'pixel'
  date: string
  machine: Machine
  source: { commit: string, uncommitted: string[] }
  settings: {
    rounds: number, seconds: number, warmupSeconds: number, quick: boolean, serverCore: number, loadCore: number, connections: number,
    hbase: string, quietBelowPct: number, quietWaitMaxMs: number
  }
  commands: { benchmark: string, wrk: string, bare: string, spoor: string, handler: string }
  spoorConfig: { spoor: string, 'spoor-no-flush': string }
  request: { path: string, pathBytes: number, headers: Record<string, string> }
  answer: Answer
  runs: RunRecord[]
  handler: HandlerResult
  summary: Summary
}

export function spread (values: number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  const median = sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
  return { median: round(median), min: round(sorted[0]), max: round(sorted[sorted.length - 1]) }
}

function round (n: number): number {
  return Math.abs(n) >= 100 ? Math.round(n) : Math.round(n * 1000) / 1000
}

function contenderSummary (runs: RunRecord[]): ContenderSummary {
  return {
    runs: runs.length,
    requestsPerSecond: spread(runs.map(r => r.wrk.requestsPerSecond)),
    latencyUs: {
      p50: spread(runs.map(r => r.wrk.latencyUs.p50)),
      p99: spread(runs.map(r => r.wrk.latencyUs.p99)),
      'p99.9': spread(runs.map(r => r.wrk.latencyUs['p99.9']))
    },
    serverCpuUsPerRequest: spread(runs.map(r => r.serverCpuUsPerRequest)),
    serverCoreBusyPct: spread(runs.map(r => r.cores[0].busyPct)),
    othersOnServerCorePct: spread(runs.map(r => r.othersOnServerCorePct))
  }
}

function ratio (runs: RunRecord[], contender: ContenderName, of: ContenderSummary, bare: ContenderSummary): Ratio {
  const pairs = runs.filter(r => r.contender === contender).flatMap(r => {
    const b = runs.find(x => x.contender === 'bare-uws' && x.round === r.round)
    return b === undefined ? [] : [[b, r] as const]
  })
  return {
    requestsPerSecond: round(of.requestsPerSecond.median / bare.requestsPerSecond.median),
    requestsPerSecondPerRound: spread(pairs.map(([b, s]) => s.wrk.requestsPerSecond / b.wrk.requestsPerSecond)),
    serverCpuUsPerRequest: round(of.serverCpuUsPerRequest.median / bare.serverCpuUsPerRequest.median),
    serverCpuUsPerRequestPerRound: spread(pairs.map(([b, s]) => s.serverCpuUsPerRequest / b.serverCpuUsPerRequest))
  }
}

export function summarize (runs: RunRecord[], handler: HandlerResult): Summary {
  const contenders = Object.fromEntries(CONTENDERS.map(c => [c, contenderSummary(runs.filter(r => r.contender === c))])) as Record<ContenderName, ContenderSummary>
  const flushes = runs.flatMap(r => r.flush === undefined ? [] : [r.flush])
  const bare = contenders['bare-uws']
  const full = ratio(runs, 'spoor', contenders.spoor, bare)
  return {
    contenders,
    flush: {
      cpuUsPerEventInclFlush: spread(flushes.map(f => f.cpuUsPerEventInclFlush)),
      hbaseCpuUsPerEvent: spread(flushes.map(f => f.hbaseCpuUsPerEvent)),
      flushTailMs: spread(flushes.map(f => f.flushTailMs)),
      eventsDelivered: flushes.reduce((n, f) => n + f.eventsDelivered, 0),
      pixelsAnswered: runs.reduce((n, r) => n + (r.contender === 'spoor' ? r.collector?.pixels ?? 0 : 0), 0)
    },
    ratio: { spoor: full, 'spoor-no-flush': ratio(runs, 'spoor-no-flush', contenders['spoor-no-flush'], bare) },
    targets: {
      throughputWithin10Pct: full.requestsPerSecond >= 0.9,
      cpuWithin10Pct: full.serverCpuUsPerRequest <= 1 / 0.9,
      handlerP99Under20Us: handler.latencyUs.p99 < 20
    }
  }
}

const fmt = (s: Spread, unit = ''): string => `${s.median}${unit} (${s.min}–${s.max})`
const kfmt = (s: Spread): string => `${(s.median / 1000).toFixed(1)}k (${(s.min / 1000).toFixed(1)}–${(s.max / 1000).toFixed(1)}k)`
const met = (b: boolean): string => b ? 'met' : '**missed**'
const LABELS: Record<ContenderName, string> = { 'bare-uws': 'bare uWS.js', spoor: 'spoor, full pipeline', 'spoor-no-flush': 'spoor, flush failing fast' }

export function markdown (r: Results): string {
  const s = r.summary
  const m = r.machine
  const f = s.flush
  const h = r.handler.latencyUs
  const ratioRow = (c: 'spoor' | 'spoor-no-flush'): string => {
    const x = s.ratio[c]
    return `| ${LABELS[c]} / bare | ${x.requestsPerSecond} (rounds ${x.requestsPerSecondPerRound.min}–${x.requestsPerSecondPerRound.max}) | | | | ${x.serverCpuUsPerRequest} (rounds ${x.serverCpuUsPerRequestPerRound.min}–${x.serverCpuUsPerRequestPerRound.max}) | | |`
  }
  const lines = [
    `# Pixel benchmark: ${r.date}, ${m.hostname}`,
    '',
    'Written by `bench/pixel.ts`; every run\'s raw figures, the machine and the exact commands are in the JSON file of the same name.',
    '',
    `- Machine: ${m.cpuModel}, ${m.cores} cores${m.virtualized ? ' (virtual machine)' : ''}, ${m.memoryMiB} MiB, Linux ${m.kernel}; Node ${m.node}; ${m.wrk.split(' [')[0]}; ${m.uws}.`,
    `- Code: commit ${r.source.commit.slice(0, 12)}${r.source.uncommitted.length === 0 ? '' : `, with uncommitted changes: ${r.source.uncommitted.map(l => `\`${l}\``).join(', ')}`}.`,
    `- Command: \`${r.commands.benchmark}\` from the repository root: ${r.settings.rounds} rounds, order rotating, each run ${r.settings.seconds} s measured after ${r.settings.warmupSeconds} s of unmeasured warm-up.`,
    `- Server on core ${r.settings.serverCore} (\`taskset -c ${r.settings.serverCore}\`), wrk on core ${r.settings.loadCore}; the bench HBase ${r.settings.hbase}.`,
    `- Before each run the benchmark waited (up to ${r.settings.quietWaitMaxMs / 1000} s) until the machine, the bench HBase included, used under ${r.settings.quietBelowPct}% of its cores.`,
    `- Load: \`${r.commands.wrk}\``,
    `- Request: ${r.request.pathBytes} bytes of path and query (ten params), with User-Agent, Referer and the uid cookie; both servers answer it with the same ${r.answer.bodyBytes}-byte GIF and headers.`,
    '',
    '## HTTP, median (min–max)',
    '',
    '| | req/s | p50 µs | p99 µs | p99.9 µs | server CPU µs/req | server core busy % | of which others % |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...CONTENDERS.map(c => {
      const x = s.contenders[c]
      return `| ${LABELS[c]} | ${kfmt(x.requestsPerSecond)} | ${fmt(x.latencyUs.p50)} | ${fmt(x.latencyUs.p99)} | ${fmt(x.latencyUs['p99.9'])} | ${fmt(x.serverCpuUsPerRequest)} | ${fmt(x.serverCoreBusyPct)} | ${fmt(x.othersOnServerCorePct)} |`
    }),
    ratioRow('spoor'),
    ratioRow('spoor-no-flush'),
    '',
    `The full pipeline delivered ${f.eventsDelivered} of the ${f.pixelsAnswered} pixels it answered in the measured runs to HBase. ` +
      `Counting the flush after the load, the daemon spent ${fmt(f.cpuUsPerEventInclFlush, ' µs')} of CPU per event, ` +
      `and HBase (both JVMs) ${fmt(f.hbaseCpuUsPerEvent, ' µs')}; the flush finished ${fmt(f.flushTailMs, ' ms')} after the load stopped.`,
    '',
    '## In-process pixel handler + encode',
    '',
    `\`${r.commands.handler}\`: ${r.handler.calls} calls after ${r.handler.warmupCalls} of warm-up, yielding to the event loop every ${r.handler.yieldEvery} so that the batcher drains on its timer.`,
    '',
    '| p50 µs | p90 µs | p99 µs | p99.9 µs | max µs | mean µs | timer floor p50 µs |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    `| ${h.p50} | ${h.p90} | ${h.p99} | ${h['p99.9']} | ${h.max} | ${h.mean} | ${r.handler.timerFloorUs.p50} |`,
    '',
    '## Targets',
    '',
    `- Full pipeline within 10% of bare uWS.js throughput (req/s ratio ≥ 0.9): ${met(s.targets.throughputWithin10Pct)}.`,
    `- The same read from server CPU per request (ratio ≤ 1.11): ${met(s.targets.cpuWithin10Pct)}.`,
    `- In-process handler + encode p99 < 20 µs: ${met(s.targets.handlerP99Under20Us)}.`,
    '',
    '## Every run',
    '',
    '| round | contender | load avg | machine busy % at start | req/s | p50 µs | p99 µs | p99.9 µs | CPU µs/req | core 0 busy/others/steal % | core 1 busy/steal % | errors |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |'
  ]
  for (const run of r.runs) {
    const e = run.wrk.errors
    const errors = e.connect + e.read + e.write + e.status + e.timeout
    const [c0, c1] = run.cores
    const quiet = `${run.quiet.busyPct}${run.quiet.gaveUp ? ' (gave up waiting)' : ''}`
    lines.push(`| ${run.round + 1} | ${run.contender} | ${run.loadAverageBefore[0]} | ${quiet} | ${run.wrk.requestsPerSecond} | ${run.wrk.latencyUs.p50} | ${run.wrk.latencyUs.p99} | ${run.wrk.latencyUs['p99.9']} | ${run.serverCpuUsPerRequest} | ${c0.busyPct}/${run.othersOnServerCorePct}/${c0.stealPct} | ${c1 === undefined ? '–' : `${c1.busyPct}/${c1.stealPct}`} | ${errors} |`)
  }
  lines.push('')
  return lines.join('\n')
}
