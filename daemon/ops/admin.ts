// The admin listener: Prometheus metrics, health and the dead-letter replay, for the addresses in admin.allow.
//
// It is Node's own HTTP server, not uWS: it answers HTTP/1.0 as well as 1.1 (and 400 to HTTP/1.1 without Host),
// which the public port cannot, so a load balancer's stock health check can use it (docs/operations.md).

import { createServer, type Server } from 'node:http'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { EventBuffer } from '../pipeline/buffer'
import type { Collector, CollectorHooks } from '../pipeline/collector'
import { parseAddresses } from '../http/client-ip'
import type { Config } from '../config'
import { errors } from '../errors'
import type { Logger } from '../log'
import { healthBody } from '../http/server'
import type { SharedState } from '../pipeline/shared-state'

/** The metrics registry, and the hooks that feed its histograms. */
export function createMetrics (state: () => SharedState | undefined, buffer: () => EventBuffer | undefined): { registry: Registry, hooks: CollectorHooks } {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'spoor_' })
  const fromState = (name: string, help: string, read: (s: SharedState) => number, kind: 'counter' | 'gauge' = 'counter'): void => {
    const Metric = kind === 'counter' ? Counter : Gauge
    // eslint-disable-next-line no-new
    new Metric({
      name,
      help,
      registers: [registry],
      collect (this: Counter | Gauge) {
        const s = state()
        if (s == null) return
        this.reset()
        if (this instanceof Gauge) this.set(read(s))
        else this.inc(read(s))
      }
    })
  }
  // eslint-disable-next-line no-new
  new Counter({
    name: 'spoor_requests_total',
    help: 'HTTP requests answered, by route and status.',
    labelNames: ['route', 'status'],
    registers: [registry],
    collect () {
      const s = state()
      if (s == null) return
      this.reset()
      for (const r of s.requests()) this.inc({ route: r.route, status: String(r.status) }, r.count)
    }
  })
  // eslint-disable-next-line no-new
  new Counter({
    name: 'spoor_events_rejected_total',
    help: 'Requests refused, by error code; a refused POST counts once, whatever its number of events.',
    labelNames: ['code'],
    registers: [registry],
    collect () {
      const s = state()
      if (s == null) return
      this.reset()
      for (const [code, n] of Object.entries(s.rejected())) this.inc({ code }, n)
    }
  })
  fromState('spoor_events_accepted_total', 'Events encoded into a batch.', s => s.eventsAccepted)
  fromState('spoor_events_dropped_total', 'Pixel events answered but not recorded: the buffer was over its limit, or the collector was stopping.', s => s.eventsDropped)
  fromState('spoor_events_delivered_total', 'Events HBase acknowledged.', s => s.get('eventsDelivered'))
  fromState('spoor_events_bots_dropped_total', 'Events left out at flush because their user agent is a bot\'s (enrich.drop_bots).', s => s.get('eventsDroppedBots'))
  fromState('spoor_batches_acknowledged_total', 'Batches HBase acknowledged and removed from the buffer.', s => s.get('batchesAcknowledged'))
  fromState('spoor_flush_retries_total', 'Failed flush attempts that will be retried: HBase errors, timeouts and lost connections.', s => s.get('flushRetries'))
  fromState('spoor_batches_dead_lettered_total', 'Batches HBase rejected for good, kept in the dead-letter store.', s => s.get('batchesDeadLettered'))
  fromState('spoor_batches_lost_total', 'Batches the buffer could not commit.', s => s.get('batchesLost'))
  fromState('spoor_buffer_bytes', 'Unflushed bytes in the buffer.', s => s.bufferBytes, 'gauge')
  fromState('spoor_buffer_batches', 'Unflushed batches in the buffer.', s => s.get('bufferBatches'), 'gauge')
  fromState('spoor_flush_in_flight', 'Batches being written to HBase or waiting for a retry.', s => s.get('flushActive'), 'gauge')
  fromState('spoor_serving_threads', 'Serving threads.', s => s.threads, 'gauge')
  fromState('spoor_draining', '1 while the collector drains for shutdown.', s => s.draining ? 1 : 0, 'gauge')
  fromState('spoor_serving_thread_event_loop_lag_seconds', 'Worst p99 event-loop delay of the serving threads over the last second.', s => s.maxThreadLagMs() / 1000, 'gauge')
  // eslint-disable-next-line no-new
  new Gauge({
    name: 'spoor_buffer_oldest_batch_age_seconds',
    help: 'Age of the oldest unflushed batch; batches left by an earlier run count from this start.',
    registers: [registry],
    collect () {
      const b = buffer()
      if (b != null) this.set(b.oldestAgeMs() / 1000)
    }
  })
  const batchEvents = new Histogram({ name: 'spoor_batch_events', help: 'Events per batch committed to the buffer.', buckets: [1, 10, 50, 100, 250, 500, 1000, 2500, 5000], registers: [registry] })
  const batchBytes = new Histogram({ name: 'spoor_batch_bytes', help: 'Bytes per batch committed to the buffer.', buckets: [1024, 8192, 32768, 131072, 262144, 1048576, 4194304], registers: [registry] })
  const flush = new Histogram({ name: 'spoor_flush_duration_seconds', help: 'Time to write one batch to both HBase tables, by outcome.', labelNames: ['outcome'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [registry] })
  return {
    registry,
    hooks: {
      onBatch: (events, bytes) => { batchEvents.observe(events); batchBytes.observe(bytes) },
      onFlush: (outcome, seconds) => flush.observe({ outcome }, seconds)
    }
  }
}

const FORBIDDEN = JSON.stringify({ error: { code: errors.ADMIN_FORBIDDEN.code, message: errors.ADMIN_FORBIDDEN.message } })

/** Serves GET /metrics, GET and HEAD /healthz and POST /dead-letters/replay on admin.host:admin.port. */
export async function startAdmin (config: Config, registry: Registry, collector: () => Collector | undefined, log: Logger): Promise<Server> {
  const allowed = parseAddresses(config.admin.allow, 'admin.allow entry')
  const server = createServer((req, res) => {
    const c = collector()
    if (!allowed.check(req.socket.remoteAddress ?? '')) {
      res.writeHead(errors.ADMIN_FORBIDDEN.status, { 'Content-Type': 'application/json', Connection: 'close' }).end(FORBIDDEN)
    } else if (req.method === 'GET' && req.url === '/metrics') {
      registry.metrics().then(
        text => res.writeHead(200, { 'Content-Type': registry.contentType }).end(text),
        (err: Error) => res.writeHead(500).end(err.message)
      )
    } else if (req.method === 'POST' && req.url === '/dead-letters/replay' && c != null) {
      c.replayDeadLetters().then(
        replayed => res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ replayed })),
        (err: Error) => res.writeHead(500, { 'Content-Type': 'application/json' }).end(JSON.stringify({ error: err.message }))
      )
    } else if ((req.method === 'GET' || req.method === 'HEAD') && req.url === '/healthz') {
      // Before the collector listens it is not ready: a balancer must not send it traffic yet.
      const body = c == null ? { status: 'starting' } : healthBody(c.state, config)
      res.writeHead(body.status === 'ok' ? 200 : 503, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' }).end(JSON.stringify(body))
    } else {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found: the admin listener serves GET /metrics, GET and HEAD /healthz and POST /dead-letters/replay\n')
    }
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(config.admin.port, config.admin.host, () => resolve())
  })
  log.info({ host: config.admin.host, port: config.admin.port }, 'admin listener: /metrics, /healthz')
  return server
}
