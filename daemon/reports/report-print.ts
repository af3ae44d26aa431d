// Prints a stored report for `spoor report show`: aligned tables for people, or JSON or CSV for programs.

import type { ChannelCounts, ChannelReport, PlatformsReport, Ranked, Report, TrafficReport } from './reports'

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

function trafficText (r: TrafficReport): string {
  const m = r.meta
  const t = r.totals
  const out = [
    heading(m, `top ${m.params.top}, ${m.params.platform == null ? '' : `platform ${m.params.platform}, `}${botsText(m.params.withBots)}`),
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

/** The traffic report as one table: section, key, and the counts that section has (empty where it has none). */
function trafficCsv (r: TrafficReport): string {
  const t = r.totals
  const rows: Array<Array<string | number>> = [
    ['section', 'key', 'visitors', 'sessions', 'page_views', 'events', 'bounces', 'session_ms'],
    ['totals', '', t.visitors, t.sessions, t.pageViews, t.events, t.bounces, t.sessionMs],
    ...r.series.map(s => ['series', new Date(s.start).toISOString(), s.visitors, s.sessions, s.pageViews, s.events, '', '']),
    ...RANKED.flatMap(([section]) => (r[section] as Ranked[]).map(x => [section, x.key, x.visitors, '', section === 'pages' ? x.events : '', x.events, '', '']))
  ]
  return csv(rows)
}

function csv (rows: Array<Array<string | number>>): string {
  return rows.map(row => row.map(csvField).join(',')).join('\n')
}

/** The window, parameters and time of computation, as the first line of every report's text. */
function heading (m: { report: string, from: number, to: number, computedAt: string }, params: string): string {
  return `${m.report}  [${new Date(m.from).toISOString()}, ${new Date(m.to).toISOString()})  ${params}; computed ${m.computedAt}`
}

const botsText = (withBots: boolean): string => `bots ${withBots ? 'included' : 'excluded'}`

function platformsText (r: PlatformsReport): string {
  const m = r.meta
  const names = r.platforms.map(p => p.platform)
  const overlap = new Map(r.pairs.flatMap(p => [[`${p.a}\u0000${p.b}`, p.users], [`${p.b}\u0000${p.a}`, p.users]]))
  const out = [
    heading(m, `${m.params.platforms.length === 0 ? 'every platform' : `platforms ${m.params.platforms.join(', ')}`}, ${botsText(m.params.withBots)}`),
    '',
    names.length === 0 ? 'no platform had events' : table(['platform', 'people'], r.platforms.map(p => [p.platform, p.users]))
  ]
  if (names.length > 1) {
    // The overlap matrix: row A, column B holds the people active on both; the diagonal each platform's own.
    out.push('', 'people on both (row and column):',
      table(['', ...names], r.platforms.map(a => [a.platform, ...names.map(b => b === a.platform ? a.users : overlap.get(`${a.platform}\u0000${b}`) ?? 0)])))
  }
  out.push('', `people on all of ${r.all.platforms.join(', ') || 'them'}: ${r.all.users}`)
  return out.join('\n')
}

const actionsText = (a: ChannelCounts['actions']): string => Object.entries(a ?? {}).sort(([x], [y]) => x < y ? -1 : 1).map(([k, n]) => `${k} ${n}`).join(', ')

function channelText (r: ChannelReport): string {
  const m = r.meta
  const counts = (c: ChannelCounts): Array<string | number> => [c.pageViews, c.events, c.users, actionsText(c.actions)]
  const head = ['page views', 'events', 'people', 'events by action']
  return [
    heading(m, `${m.params.channel === null ? 'every channel' : `channel ${m.params.channel}`}, ${botsText(m.params.withBots)}`),
    '',
    r.channels.length === 0 ? 'no events in a channel' : table(['channel', ...head], r.channels.map(c => [c.channel, ...counts(c)])),
    '',
    r.countries.length === 0 ? 'countries: none' : table(['country', ...head], r.countries.map(c => [c.country, ...counts(c)])),
    '',
    r.items.length === 0 ? 'items: none' : table(['country', 'channel', 'item', ...head], r.items.map(i => [i.country, i.channel, i.item, ...counts(i)]))
  ].join('\n')
}

/** One table for the channel report: section, country, channel, item and the counts. */
function channelCsv (r: ChannelReport): string {
  const counts = (c: ChannelCounts): Array<string | number> => [c.pageViews, c.events, c.users, actionsText(c.actions)]
  return csv([
    ['section', 'country', 'channel', 'item', 'page_views', 'events', 'users', 'actions'],
    ...r.channels.map(c => ['channels', '', c.channel, '', ...counts(c)]),
    ...r.countries.map(c => ['countries', c.country, '', '', ...counts(c)]),
    ...r.items.map(i => ['items', i.country, i.channel, i.item, ...counts(i)])
  ])
}

/** One table for the platforms report: each platform, then each pair, then all. */
function platformsCsv (r: PlatformsReport): string {
  return csv([
    ['section', 'platform', 'other_platform', 'users'],
    ...r.platforms.map(p => ['platform', p.platform, '', p.users]),
    ...r.pairs.map(p => ['pair', p.a, p.b, p.users]),
    ['all', r.all.platforms.join(' '), '', r.all.users]
  ])
}

/** A stored report as aligned tables, for people. */
export function reportText (r: Report): string {
  switch (r.meta.report) {
    case 'traffic': return trafficText(r as TrafficReport)
    case 'platforms': return platformsText(r as PlatformsReport)
    case 'channel': return channelText(r as ChannelReport)
  }
}

/** A stored report as one CSV table, for spreadsheets and scripts. */
export function reportCsv (r: Report): string {
  switch (r.meta.report) {
    case 'traffic': return trafficCsv(r as TrafficReport)
    case 'platforms': return platformsCsv(r as PlatformsReport)
    case 'channel': return channelCsv(r as ChannelReport)
  }
}
