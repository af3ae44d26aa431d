// Reference for the channel report: plain counting over the events a test sent, with no Spark and no HBase.

import { uniqueEvents } from './platforms'

/** One delivery of an event as stored: a retried event is two deliveries with one id. */
export interface ChannelDelivery {
  /** Server receive time, ms. */
  ts: number
  id: string
  /** The canonical user the uid resolves to, worked out by the test from the ids it sent. */
  person: string
  a: string
  it?: string
  ch?: string
  /** The country GeoIP gave the event's address; undefined when it gave none. */
  co?: string
  bot: boolean
}

interface Measure { pageViews: number, events: number, users: number, actions: Record<string, number> }

const UNKNOWN = '(unknown)'
const byName = (a: string, b: string): number => a < b ? -1 : a > b ? 1 : 0

function measure (events: ChannelDelivery[]): Measure {
  const actions: Record<string, number> = {}
  for (const e of events) actions[e.a] = (actions[e.a] ?? 0) + 1
  return { pageViews: events.filter(e => e.a === 'page').length, events: events.length, users: new Set(events.map(e => e.person)).size, actions }
}

function groupBy (events: ChannelDelivery[], key: (e: ChannelDelivery) => string): Map<string, ChannelDelivery[]> {
  const groups = new Map<string, ChannelDelivery[]>()
  for (const e of events) groups.set(key(e), [...(groups.get(key(e)) ?? []), e])
  return groups
}

/** The channel report over [from, to) as docs/reports.md defines it; `channel` undefined means every channel. */
export function channelReference (deliveries: ChannelDelivery[], from: number, to: number, params: { channel?: string, withBots: boolean }): Record<string, unknown> {
  const events = uniqueEvents(deliveries, from, to, params.withBots)
    .filter(e => params.channel === undefined ? e.ch !== undefined && e.ch !== '' : e.ch === params.channel)
  const country = (e: ChannelDelivery): string => e.co ?? UNKNOWN
  const countries = [...groupBy(events, country)].map(([c, es]) => ({ country: c, ...measure(es) }))
    .sort((x, y) => y.events - x.events || byName(x.country, y.country))
  const rank = new Map(countries.map((c, i) => [c.country, i]))
  const items = [...groupBy(events.filter(e => e.it !== undefined && e.it !== ''), e => `${country(e)}\u0000${e.ch as string}\u0000${e.it as string}`)]
    .map(([key, es]) => {
      const [c, channel, item] = key.split('\u0000')
      return { country: c, channel, item, ...measure(es) }
    })
    .sort((x, y) => (rank.get(x.country) as number) - (rank.get(y.country) as number) || y.events - x.events || byName(x.channel, y.channel) || byName(x.item, y.item))
  const channels = [...groupBy(events, e => e.ch as string)].map(([channel, es]) => ({ channel, ...measure(es) }))
    .sort((x, y) => y.events - x.events || byName(x.channel, y.channel))
  return { channels, countries, items }
}
