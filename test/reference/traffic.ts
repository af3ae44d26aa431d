// Reference for the traffic report: plain counting over the events a test sent, with no Spark and no HBase.

/** One delivery of an event as the collector stored it: a retried event is two deliveries with one id. */
export interface Delivery {
  /** Server receive time, ms. */
  ts: number
  id: string
  uid: string
  /** The platform the event names (p), if any. */
  p?: string
  /** The canonical user the uid resolves to (docs/identity.md), worked out by the test from the ids it sent. */
  visitor: string
  sid?: string
  url?: string
  ref?: string
  a: string
  co?: string
  /** The enrichment of the user agent, as the flush stores it ('' when it has none). */
  br: string
  os: string
  dt: string
  bot: boolean
}

export interface RefRanked { key: string, visitors: number, events: number }

const HOUR = 3_600_000
const DAY = 24 * HOUR
const UNKNOWN = '(unknown)'

function ranked (events: Delivery[], key: (e: Delivery) => string | undefined, top: number): RefRanked[] {
  const by = new Map<string, { uids: Set<string>, events: number }>()
  for (const e of events) {
    const k = key(e)
    if (k === undefined || k === '') continue
    const entry = by.get(k) ?? { uids: new Set(), events: 0 }
    entry.uids.add(e.visitor)
    entry.events++
    by.set(k, entry)
  }
  return [...by].map(([k, v]) => ({ key: k, visitors: v.uids.size, events: v.events }))
    .sort((x, y) => y.events - x.events || (x.key < y.key ? -1 : x.key > y.key ? 1 : 0))
    .slice(0, top)
}

function host (url: string | undefined): string | undefined {
  if (url === undefined) return undefined
  try {
    return new URL(url).hostname
  } catch {
    return undefined
  }
}

/** The traffic report over [from, to) as docs/reports.md defines it. */
export function trafficReference (deliveries: Delivery[], from: number, to: number, params: { top: number, withBots: boolean, platform?: string }): Record<string, unknown> {
  const earliest = new Map<string, Delivery>()
  for (const d of deliveries) {
    if (d.ts < from || d.ts >= to || (d.bot && !params.withBots) || (params.platform !== undefined && d.p !== params.platform)) continue
    const kept = earliest.get(d.id)
    if (kept === undefined || d.ts < kept.ts) earliest.set(d.id, d)
  }
  const events = [...earliest.values()]

  const sessions = new Map<string, { n: number, first: number, last: number }>()
  for (const e of events) {
    if (e.sid === undefined) continue
    const s = sessions.get(e.sid) ?? { n: 0, first: e.ts, last: e.ts }
    s.n++
    s.first = Math.min(s.first, e.ts)
    s.last = Math.max(s.last, e.ts)
    sessions.set(e.sid, s)
  }
  const totals = {
    visitors: new Set(events.map(e => e.visitor)).size,
    sessions: sessions.size,
    pageViews: events.filter(e => e.a === 'page').length,
    events: events.length,
    bounces: [...sessions.values()].filter(s => s.n === 1).length,
    sessionMs: [...sessions.values()].reduce((sum, s) => sum + s.last - s.first, 0)
  }

  const step = to - from < 2 * DAY ? HOUR : DAY
  const buckets = new Map<number, Delivery[]>()
  for (const e of events) {
    const start = Math.floor(e.ts / step) * step
    buckets.set(start, [...(buckets.get(start) ?? []), e])
  }
  const series = [...buckets].sort(([x], [y]) => x - y).map(([start, es]) => ({
    start,
    visitors: new Set(es.map(e => e.visitor)).size,
    sessions: new Set(es.filter(e => e.sid !== undefined).map(e => e.sid)).size,
    pageViews: es.filter(e => e.a === 'page').length,
    events: es.length
  }))

  const orUnknown = (v: string | undefined): string => v === undefined || v === '' ? UNKNOWN : v
  return {
    totals,
    series,
    pages: ranked(events.filter(e => e.a === 'page'), e => e.url?.replace(/[?#].*$/, ''), params.top),
    referrers: ranked(events, e => host(e.ref), params.top),
    countries: ranked(events, e => orUnknown(e.co), params.top),
    browsers: ranked(events, e => orUnknown(e.br), params.top),
    oses: ranked(events, e => orUnknown(e.os), params.top),
    devices: ranked(events, e => orUnknown(e.dt), params.top)
  }
}
