// Prints a stored report for `spoor report show`: aligned tables for people, or JSON or CSV for programs.

import type { Ranked, TrafficReport } from './reports'

const RANKED: ReadonlyArray<[keyof TrafficReport, string]> = [
  ['pages', 'top pages'], ['referrers', 'top referrer hosts'], ['countries', 'countries'],
  ['browsers', 'browsers'], ['oses', 'operating systems'], ['devices', 'device types']
]

/** Bounces per session, as a percentage with one decimal; "-" with no sessions. */
function bounceRate (t: TrafficReport['totals']): string {
  return t.sessions === 0 ? '-' : `${(100 * t.bounces / t.sessions).toFixed(1)}%`
}

function averageSession (t: TrafficReport['totals']): string {
  if (t.sessions === 0) return '-'
  const s = Math.round(t.sessionMs / t.sessions / 1000)
  return `${Math.floor(s / 60)}m ${s % 60}s`
}

function table (header: string[], rows: Array<Array<string | number>>): string {
  const text = [header, ...rows.map(r => r.map(String))]
  const widths = header.map((_, i) => Math.max(...text.map(r => r[i].length)))
  // The first column is a label, the others numbers: left- and right-aligned.
  return text.map(r => r.map((cell, i) => i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i])).join('  ')).join('\n')
}

export function reportText (r: TrafficReport): string {
  const m = r.meta
  const t = r.totals
  const out = [
    `${m.report}  [${new Date(m.from).toISOString()}, ${new Date(m.to).toISOString()})  top ${m.params.top}, bots ${m.params.withBots ? 'included' : 'excluded'}; computed ${m.computedAt}`,
    '',
    table(['visitors', 'sessions', 'page views', 'events', 'bounce rate', 'avg session'],
      [[t.visitors, t.sessions, t.pageViews, t.events, bounceRate(t), averageSession(t)]]),
    '',
    table([m.step === 'hour' ? 'hour (UTC)' : 'day (UTC)', 'visitors', 'sessions', 'page views', 'events'],
      r.series.map(s => [new Date(s.start).toISOString().slice(0, m.step === 'hour' ? 16 : 10), s.visitors, s.sessions, s.pageViews, s.events]))
  ]
  for (const [section, title] of RANKED) {
    const rows = r[section] as Ranked[]
    out.push('', rows.length === 0 ? `${title}: none` : table([title, 'visitors', section === 'pages' ? 'page views' : 'events'], rows.map(x => [x.key, x.visitors, x.events])))
  }
  return out.join('\n')
}

function csvField (value: string | number): string {
  const text = String(value)
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text
}

/** One table: section, key, and the counts that section has (empty where it has none). */
export function reportCsv (r: TrafficReport): string {
  const t = r.totals
  const rows: Array<Array<string | number>> = [
    ['section', 'key', 'visitors', 'sessions', 'page_views', 'events', 'bounces', 'session_ms'],
    ['totals', '', t.visitors, t.sessions, t.pageViews, t.events, t.bounces, t.sessionMs],
    ...r.series.map(s => ['series', new Date(s.start).toISOString(), s.visitors, s.sessions, s.pageViews, s.events, '', '']),
    ...RANKED.flatMap(([section]) => (r[section] as Ranked[]).map(x => [section, x.key, x.visitors, '', section === 'pages' ? x.events : '', x.events, '', '']))
  ]
  return rows.map(row => row.map(csvField).join(',')).join('\n')
}
