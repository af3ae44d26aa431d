// Overview: the stored traffic report of a window, its headline numbers, a line chart over time and the ranked sections.

import { lineChart } from '../charts'
import { h, num, table, tile, type Child } from '../dom'
import { count, dateTime, day, duration, percent } from '../format'
import { field, reportPage } from '../report-page'
import type { Ranked, TrafficReport as Traffic } from '../../../daemon/reports/report-types'

/** Section, title, its first column, its count column. */
const RANKED: Array<[keyof Traffic, string, string, string]> = [
  ['pages', 'Top pages', 'page', 'page views'], ['referrers', 'Referrer hosts', 'host', 'events'], ['countries', 'Countries', 'country', 'events'],
  ['browsers', 'Browsers', 'browser', 'events'], ['oses', 'Operating systems', 'operating system', 'events'], ['devices', 'Device types', 'device type', 'events']
]

function draw (r: Traffic): Child[] {
  const t = r.totals
  if (t.events === 0) return [h('div', { class: 'state empty' }, h('p', {}, 'This report is stored, but the window held no events' + (r.meta.params.withBots ? '.' : ' (bots left out).') + ' Pick another window.'))]
  const bounce = t.sessions === 0 ? undefined : t.bounces / t.sessions
  const avg = t.sessions === 0 ? undefined : t.sessionMs / t.sessions
  const tiles = h('div', { class: 'tiles' },
    tile('visitors', 'Visitors', num(t.visitors), 'people, logins joining their devices'),
    tile('sessions', 'Sessions', num(t.sessions)),
    tile('pageViews', 'Page views', num(t.pageViews)),
    tile('events', 'Events', num(t.events)),
    tile('bounceRate', 'Bounce rate', bounce === undefined ? h('span', {}, '–') : num(bounce, percent(bounce), `${t.bounces} of ${t.sessions} sessions had one event`)),
    tile('sessionLength', 'Avg. session', avg === undefined ? h('span', {}, '–') : num(avg, duration(avg), `${Math.round(avg)} ms`)))
  const chart = h('div', { class: 'chart', 'aria-label': 'visitors, sessions and page views over time' })
  const stamp = r.meta.step === 'hour' ? dateTime : day
  const seriesTable = table('series', [r.meta.step === 'hour' ? 'hour' : 'day', 'visitors', 'sessions', 'page views', 'events'],
    r.series.map(s => [stamp(s.start), num(s.visitors), num(s.sessions), num(s.pageViews), num(s.events)]))
  const ranked = RANKED.map(([section, title, first, third]) => {
    const rows = r[section] as Ranked[]
    return h('section', { class: 'ranked' }, h('h2', {}, title),
      rows.length === 0
        ? h('p', { class: 'state empty', 'data-section': section }, 'None in this window.')
        : table(section, [first, 'visitors', third], rows.map(x => [h('span', { class: 'key' }, x.key), num(x.visitors), num(x.events)])))
  })
  requestAnimationFrame(() => {
    lineChart(chart, r.series.map(s => s.start), [
      { label: 'visitors', values: r.series.map(s => s.visitors) },
      { label: 'sessions', values: r.series.map(s => s.sessions) },
      { label: 'page views', values: r.series.map(s => s.pageViews) }
    ], count)
  })
  return [
    tiles,
    h('h2', {}, `By ${r.meta.step}`),
    chart,
    h('details', {}, h('summary', {}, 'The chart\'s numbers'), seriesTable),
    h('div', { class: 'grid' }, ...ranked)
  ]
}

export async function overview (): Promise<void> {
  await reportPage<Traffic>('traffic', 'traffic', q => [field('platform', 'Platform', q, 'every platform'), field('top', 'Top', q, '10')], r => draw(r))
}
