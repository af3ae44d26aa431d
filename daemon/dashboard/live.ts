// The Live page's numbers: the collector's own counters, read from the admin listener's /metrics on the server side.

import type { Config } from '../config'
import { SpoorError } from '../errors'
import type { LiveSample } from './live-sample'

export type { LiveSample } from './live-sample'

interface Sample { name: string, labels: Record<string, string>, value: number }

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\S+)?$/
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/g

/** The samples of the Prometheus text format (version 0.0.4), comments and types left out. */
export function parseMetrics (text: string): Sample[] {
  const out: Sample[] = []
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const m = LINE.exec(line)
    if (m === null) continue
    const labels: Record<string, string> = {}
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1]] = l[2].replace(/\\(.)/g, (_, c: string) => c === 'n' ? '\n' : c)
    out.push({ name: m[1], labels, value: Number(m[3]) })
  }
  return out
}

/** The admin listener's address as a client reaches it: a wildcard bind is reached on loopback. */
export function adminUrl (config: Config): string {
  const host = config.admin.host === '0.0.0.0' ? '127.0.0.1' : config.admin.host === '::' ? '::1' : config.admin.host
  return `http://${host.includes(':') ? `[${host}]` : host}:${config.admin.port}/metrics`
}

/** Reads and parses /metrics; SPOOR_E_ADMIN_UNAVAILABLE when the collector is not running or admin.enabled is off. */
export async function readLive (config: Config): Promise<LiveSample> {
  const url = adminUrl(config)
  if (!config.admin.enabled) throw new SpoorError('ADMIN_UNAVAILABLE', 'admin.enabled is false, so the collector publishes no counters')
  let text: string
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(3000) })
    if (!res.ok) throw new Error(`it answered ${res.status}`)
    text = await res.text()
  } catch (err) {
    throw new SpoorError('ADMIN_UNAVAILABLE', `${url}: ${(err as Error).message}; is the collector (spoor serve) running, and does admin.allow let the dashboard's host in?`)
  }
  const samples = parseMetrics(text)
  const one = (name: string): number => samples.find(s => s.name === name)?.value ?? 0
  const sum = (name: string): number => samples.filter(s => s.name === name).reduce((n, s) => n + s.value, 0)
  const rejected: Record<string, number> = {}
  for (const s of samples) if (s.name === 'spoor_events_rejected_total') rejected[s.labels.code] = s.value
  return {
    at: Date.now(),
    source: url,
    requests: samples.filter(s => s.name === 'spoor_requests_total').map(s => ({ route: s.labels.route, status: s.labels.status, count: s.value })),
    rejected,
    eventsAccepted: one('spoor_events_accepted_total'),
    eventsDelivered: one('spoor_events_delivered_total'),
    eventsDropped: one('spoor_events_dropped_total'),
    eventsBotsDropped: one('spoor_events_bots_dropped_total'),
    batchesAcknowledged: one('spoor_batches_acknowledged_total'),
    batchesDeadLettered: one('spoor_batches_dead_lettered_total'),
    flushRetries: one('spoor_flush_retries_total'),
    flushInFlight: one('spoor_flush_in_flight'),
    bufferBytes: one('spoor_buffer_bytes'),
    bufferBatches: one('spoor_buffer_batches'),
    oldestBatchAgeSeconds: one('spoor_buffer_oldest_batch_age_seconds'),
    eventLoopLagSeconds: one('spoor_serving_thread_event_loop_lag_seconds'),
    draining: one('spoor_draining') === 1,
    flush: { count: sum('spoor_flush_duration_seconds_count'), seconds: sum('spoor_flush_duration_seconds_sum') }
  }
}
