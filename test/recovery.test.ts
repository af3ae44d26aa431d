// HBase comes back during a long backoff: the flush's probe notices within flush.probe_interval_ms and every waiting
// retry runs at once, instead of waiting out a backoff that can reach flush.retry_max_ms.

import t from 'tap'
import { flushed, startDaemon, until } from './fixtures/daemon'
import { countRows, freshTables, THRIFT_PORT } from './fixtures/hbase'
import { TcpGate } from './fixtures/tcp-gate'

t.test('a flush waiting out a long backoff retries as soon as HBase answers again', async t => {
  const tables = await freshTables('recovery')
  const gate = await TcpGate.open({ host: '127.0.0.1', port: THRIFT_PORT })
  t.teardown(async () => await gate.close())
  // The first retry waits a random time of up to 60 s and the later ones up to 10 minutes: without the probe this
  // test would wait that long (and time out); the probe asks every 100 ms.
  const daemon = await startDaemon({
    hbase: { ...tables, port: gate.port },
    flush: { retry_min_ms: 60000, retry_max_ms: 600000, timeout_ms: 2000, probe_interval_ms: 100 }
  })
  t.teardown(async () => { await daemon.stop() })

  gate.down()
  const events = Array.from({ length: 50 }, (_, i) => ({ uid: 'recovery', a: 'view', d: String(i) }))
  const posted = await fetch(`${daemon.url}/e`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(events) })
  t.equal(posted.status, 204, 'committed to the buffer while HBase is cut off')
  await until('a failed flush waiting to retry', async () => (await daemon.health()).metrics.flushRetries >= 1)
  t.equal((await daemon.health()).buffer.batches, 1, 'the batch waits in the buffer')

  gate.up()
  const back = Date.now()
  await flushed(daemon)
  t.comment(`flushed ${Date.now() - back} ms after HBase answered again`)
  // Log lines arrive on the daemon's stdout beside its answers, not before them: wait for the line.
  await until('the probe\'s log line', () => daemon.logs.some(l => l.msg === 'HBase answers again; the waiting flushes retry now'))
  const probe = daemon.logs.find(l => l.msg === 'HBase answers again; the waiting flushes retry now')
  t.ok(probe, 'the probe woke the waiting retry')
  t.equal(probe?.waiting, 1)
  t.equal(await countRows(tables.user_table as string), 50, 'every event is in the by-user table')
  t.equal(await countRows(tables.time_table as string), 50, 'and in the by-time table')
  t.equal((await daemon.health()).metrics.batchesAcknowledged, 1)
})

t.test('while HBase stays away the probe keeps asking and the retries keep waiting', async t => {
  const tables = await freshTables('recovery_away')
  const gate = await TcpGate.open({ host: '127.0.0.1', port: THRIFT_PORT })
  gate.down()
  t.teardown(async () => await gate.close())
  const daemon = await startDaemon({
    hbase: { ...tables, port: gate.port },
    flush: { retry_min_ms: 60000, retry_max_ms: 600000, timeout_ms: 2000, probe_interval_ms: 100 }
  })
  const posted = await fetch(`${daemon.url}/e`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '[{"uid":"away","a":"view"}]' })
  t.equal(posted.status, 204)
  await until('a failed flush waiting to retry', async () => (await daemon.health()).metrics.flushRetries >= 1)
  // The retry waits up to a minute; meanwhile only the probe connects, every 100 ms, and is reset each time.
  const before = gate.connections
  await until('three more probes', () => gate.connections >= before + 3)
  t.equal((await daemon.health()).buffer.batches, 1, 'the batch still waits')
  t.equal(daemon.logs.some(l => l.msg === 'HBase answers again; the waiting flushes retry now'), false, 'no probe succeeded')
  t.equal(await daemon.stop(), 0, 'SIGTERM ends the probe and the wait; the batch stays in the buffer')
  await until('the last log line', () => daemon.logs.some(l => l.msg === 'stopped'))
  t.equal(daemon.logs.find(l => l.msg === 'stopped')?.left, 1, 'one batch left for the next start')
})
