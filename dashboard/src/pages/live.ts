// Live: the collector's own counters every few seconds, without reloading: rates, the buffer, the flush, rejects by code.

import type uPlot from 'uplot'
import { api, errorBox } from '../api'
import { lineChart } from '../charts'
import { h, num, render, table, tile } from '../dom'
import { bytes, count, dateTimeSeconds, duration, rate } from '../format'
import type { LiveSample } from '../../../daemon/dashboard/live-sample'

type Sample = LiveSample

const EVERY_MS = 2000
/** Five minutes of samples on the chart. */
const KEEP = 150

const total = (s: Sample): number => s.requests.reduce((n, r) => n + r.count, 0)

function view (s: Sample, prev: Sample | undefined): HTMLElement[] {
  const dt = prev === undefined ? 0 : (s.at - prev.at) / 1000
  const per = (now: number, before: number | undefined): HTMLElement => dt > 0 && before !== undefined ? num(Math.max(0, (now - before) / dt), rate(Math.max(0, (now - before) / dt))) : h('span', { class: 'num pending' }, '…')
  const flushes = prev === undefined ? 0 : s.flush.count - prev.flush.count
  const latency = flushes > 0 && prev !== undefined ? (s.flush.seconds - prev.flush.seconds) / flushes * 1000 : undefined
  const rejects = Object.entries(s.rejected).sort(([, a], [, b]) => b - a)
  return [
    h('p', { class: 'window-summary' }, `Updated ${dateTimeSeconds(s.at)} from ${s.source}, every ${EVERY_MS / 1000} s.${s.draining ? ' The collector is draining for a stop.' : ''}`),
    h('div', { class: 'tiles' },
      tile('requestsPerSecond', 'Requests', per(total(s), prev === undefined ? undefined : total(prev)), 'per second, every route'),
      tile('eventsPerSecond', 'Events in', per(s.eventsAccepted, prev?.eventsAccepted), 'per second, accepted'),
      tile('deliveredPerSecond', 'Events to HBase', per(s.eventsDelivered, prev?.eventsDelivered), 'per second, acknowledged'),
      tile('bufferBytes', 'Buffer', num(s.bufferBytes, bytes(s.bufferBytes)), `${s.bufferBatches} batch${s.bufferBatches === 1 ? '' : 'es'} not yet flushed`),
      tile('oldestBatch', 'Oldest batch', num(s.oldestBatchAgeSeconds, duration(s.oldestBatchAgeSeconds * 1000)), 'age of the oldest unflushed batch'),
      tile('flushLatency', 'Flush latency', latency === undefined ? h('span', { class: 'num' }, '–') : num(latency, duration(latency)), latency === undefined ? 'no flush in the last interval' : `mean of ${flushes} flush${flushes === 1 ? '' : 'es'} in the last interval`),
      tile('eventLoopLag', 'Event-loop lag', num(s.eventLoopLagSeconds, duration(s.eventLoopLagSeconds * 1000)), 'worst p99 of the serving threads')),
    h('h2', {}, 'Since the collector started'),
    h('div', { class: 'tiles small' },
      tile('eventsAccepted', 'Events accepted', num(s.eventsAccepted)),
      tile('eventsDelivered', 'Events acknowledged', num(s.eventsDelivered)),
      tile('eventsDropped', 'Events dropped', num(s.eventsDropped), 'answered, not recorded'),
      tile('flushRetries', 'Flush retries', num(s.flushRetries)),
      tile('batchesDeadLettered', 'Dead letters', num(s.batchesDeadLettered)),
      tile('flushInFlight', 'Flushes in flight', num(s.flushInFlight))),
    h('h2', {}, 'Rejected requests by code'),
    rejects.length === 0 ? h('p', { class: 'state empty', 'data-section': 'rejected' }, 'None since the collector started.') : table('rejected', ['code', 'requests'], rejects.map(([code, n]) => [code, num(n)])),
    h('h2', {}, 'Requests by route and status'),
    s.requests.length === 0 ? h('p', { class: 'state empty', 'data-section': 'requests' }, 'None since the collector started.') : table('requests', ['route', 'status', 'requests'], s.requests.map(r => [r.route, r.status, num(r.count)]))
  ]
}

export async function live (): Promise<void> {
  const chart = h('div', { class: 'chart', 'aria-label': 'events per second' })
  const body = h('div', { id: 'live' })
  render(body, h('h2', {}, 'Events per second'), chart)
  let prev: Sample | undefined
  let plot: uPlot | undefined
  const xs: number[] = []
  const inRate: number[] = []
  const outRate: number[] = []
  const tick = async (): Promise<void> => {
    try {
      const s = await api<Sample>('live')
      body.replaceChildren(...view(s, prev))
      if (prev !== undefined) {
        const dt = (s.at - prev.at) / 1000
        xs.push(s.at)
        inRate.push(Math.max(0, (s.eventsAccepted - prev.eventsAccepted) / dt))
        outRate.push(Math.max(0, (s.eventsDelivered - prev.eventsDelivered) / dt))
        if (xs.length > KEEP) { xs.shift(); inRate.shift(); outRate.shift() }
        const data: uPlot.AlignedData = [xs.map(x => x / 1000), inRate, outRate]
        if (plot === undefined) plot = lineChart(chart, xs, [{ label: 'in', values: inRate }, { label: 'to HBase', values: outRate }], count, 200)
        else plot.setData(data)
      }
      prev = s
    } catch (err) {
      // The error stays on the page while polling goes on, so it clears once the collector is back.
      body.replaceChildren(errorBox(err))
      prev = undefined
    }
    setTimeout(() => { void tick() }, EVERY_MS)
  }
  await tick()
}
