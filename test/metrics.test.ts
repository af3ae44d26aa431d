// The admin listener's /metrics, parsed by a real Prometheus text parser, moves with traffic; and it is never on the public port.

import { availableParallelism } from 'node:os'
import t from 'tap'
import { flushed, freePort, startDaemon } from './fixtures/daemon'
import { freshTables } from './fixtures/hbase'
import { parseMetrics, value } from './fixtures/prometheus'

t.test('/metrics counts what the collector does', async t => {
  const hbase = await freshTables('metrics')
  const adminPort = await freePort()
  const daemon = await startDaemon({ hbase, admin: { enabled: true, port: adminPort } })
  t.teardown(async () => { await daemon.stop() })
  const scrape = async (): Promise<Awaited<ReturnType<typeof parseMetrics>>> => {
    const res = await fetch(`http://127.0.0.1:${adminPort}/metrics`)
    t.equal(res.status, 200)
    t.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/)
    return await parseMetrics(await res.text())
  }

  const before = await scrape()
  t.equal(value(before, 'spoor_serving_threads'), availableParallelism(), 'one serving thread per core by default')
  for (let i = 0; i < 5; i++) t.equal((await fetch(`${daemon.url}/p.gif?uid=m&a=view`)).status, 200)
  t.equal((await fetch(`${daemon.url}/p.gif?url=%zz`)).status, 400)
  t.equal((await fetch(`${daemon.url}/e`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '[{"uid":"m"},{"uid":"m"}]' })).status, 204)
  await flushed(daemon)

  const after = await scrape()
  t.equal(value(after, 'spoor_requests_total', { route: 'pixel', status: '200' }), 5)
  t.equal(value(after, 'spoor_requests_total', { route: 'pixel', status: '400' }), 1)
  t.equal(value(after, 'spoor_requests_total', { route: 'events', status: '204' }), 1)
  t.equal(value(after, 'spoor_events_rejected_total', { code: 'SPOOR_E_BAD_ESCAPE' }), 1)
  t.equal(value(after, 'spoor_events_accepted_total'), 7)
  t.equal(value(after, 'spoor_events_delivered_total'), 7)
  t.ok(value(after, 'spoor_batches_acknowledged_total') >= 1)
  t.equal(value(after, 'spoor_buffer_bytes'), 0)
  t.equal(value(after, 'spoor_buffer_oldest_batch_age_seconds'), 0)
  t.ok(value(after, 'spoor_batch_events_count') >= 1, 'batch sizes are observed')
  t.equal(value(after, 'spoor_batch_events_sum'), 7)
  t.ok(value(after, 'spoor_flush_duration_seconds_count', { outcome: 'acknowledged' }) >= 1, 'flush latency is observed')
  t.equal(value(after, 'spoor_flush_retries_total'), 0)
  t.equal(value(after, 'spoor_batches_dead_lettered_total'), 0)
  t.ok(after.some(s => s.name === 'spoor_serving_thread_event_loop_lag_seconds'), 'serving threads report their event-loop lag')
  t.ok(after.some(s => s.name.startsWith('spoor_nodejs_eventloop_lag')), 'and the main thread its own')

  const health = await fetch(`http://127.0.0.1:${adminPort}/healthz`)
  t.equal(health.status, 200)
  t.equal((await fetch(`${daemon.url}/metrics`)).status, 404, 'the public port does not serve metrics')
  t.equal((await fetch(`http://127.0.0.1:${adminPort}/p.gif`)).status, 404, 'the admin port does not take events')
})
