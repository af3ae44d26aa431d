// Channels: a channel's traffic by country (a bar chart, countries in the report's order) and its items, from the stored channel report.

import { barChart } from '../charts'
import { firstRows, h, num, table, type Child } from '../dom'
import { count } from '../format'
import { field, reportPage } from '../report-page'
import type { ChannelCounts as Counts, ChannelReport as Channel } from '../../../daemon/reports/report-types'

const actions = (a: Counts['actions']): string => Object.entries(a ?? {}).sort(([x], [y]) => x < y ? -1 : 1).map(([k, n]) => `${k} ${n}`).join(', ')
const counts = (c: Counts): Child[] => [num(c.pageViews), num(c.events), num(c.users), actions(c.actions)]

function draw (r: Channel, q: URLSearchParams): Child[] {
  const channel = r.meta.params.channel
  if (r.channels.length === 0) return [h('div', { class: 'state empty' }, h('p', {}, channel === null ? 'No events with a channel (ch) in this window.' : `Channel ${channel} had no events in this window.`))]
  const chart = h('div', { class: 'chart', 'aria-label': 'events by country' })
  requestAnimationFrame(() => barChart(chart, r.countries.map(c => c.country), r.countries.map(c => c.events), 'events', count))
  const pick = (name: string): HTMLElement => {
    const link = new URLSearchParams(q)
    link.set('channel', name)
    return h('a', { href: `?${link.toString()}` }, name)
  }
  return [
    channel === null
      ? h('section', {}, h('h2', {}, 'Every channel'), h('p', { class: 'hint' }, 'Pick a channel for its own countries and items; a channel whose report is not stored says how to compute it.'),
        table('channels', ['channel', 'page views', 'events', 'people', 'events by action'], r.channels.map(c => [pick(c.channel), ...counts(c)])))
      : h('p', { class: 'lead' }, 'Channel ', h('strong', { 'data-section': 'channel' }, channel)),
    h('h2', {}, 'Events by country'),
    chart,
    table('countries', ['country', 'page views', 'events', 'people', 'events by action'], r.countries.map(c => [c.country, ...counts(c)])),
    h('h2', {}, 'Items'),
    r.items.length === 0
      ? h('p', { class: 'state empty', 'data-section': 'items' }, 'No item ids (it) on these events.')
      : firstRows(table('items', ['country', 'channel', 'item', 'page views', 'events', 'people', 'events by action'], r.items.map(i => [i.country, i.channel, h('span', { class: 'key' }, i.item), ...counts(i)])), 25, 'items')
  ]
}

export async function channels (): Promise<void> {
  await reportPage<Channel>('channel', 'channel', q => [field('channel', 'Channel', q, 'every channel')], draw)
}
