// The buffer's disk fills up under load: POST answers 500 for the request whose commit failed and 503 after it,
// pixels are answered and counted as dropped, health fails, nothing crashes, and once there is room again the
// buffer opens cleanly and every event answered 204 reaches HBase. The buffer is on a tmpfs of its own with a size
// limit, mounted by the test (the suite runs as root, as .ci/run does).

import { execFileSync } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { flushed, startDaemon, tempDir, until } from './fixtures/daemon'
import { countRows, freshTables, THRIFT_PORT } from './fixtures/hbase'
import { TcpGate } from './fixtures/tcp-gate'

const MiB = 1024 * 1024

t.test('a full disk under the buffer', async t => {
  const dataDir = tempDir('disk-full')
  const mount = join(dataDir, 'small')
  mkdirSync(mount)
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', mount])
  t.teardown(() => { execFileSync('umount', ['-l', mount]) })

  const tables = await freshTables('disk_full')
  const gate = await TcpGate.open({ host: '127.0.0.1', port: THRIFT_PORT })
  t.teardown(async () => await gate.close())
  // HBase is cut off, so that nothing leaves the buffer while it fills.
  gate.down()
  const config = {
    hbase: { ...tables, port: gate.port },
    flush: { retry_min_ms: 50, retry_max_ms: 200, timeout_ms: 2000, probe_interval_ms: 100 },
    buffer: { high_water_bytes: 512 * MiB, max_bytes: 1024 * MiB, retry_after_seconds: 1 }
  }
  let daemon = await startDaemon(config, mount)
  t.teardown(async () => { await daemon.stop() })

  // POST bodies of 200 events until the disk refuses one; every 204 is an acknowledgement to keep.
  const padding = 'x'.repeat(200)
  let stored = 0
  let status = 204
  let refusal: any
  for (let i = 0; status === 204 && i < 1000; i++) {
    const body = JSON.stringify(Array.from({ length: 200 }, (_, j) => ({ uid: `full-${j % 7}`, a: 'view', d: `${i}-${j}-${padding}` })))
    const res = await fetch(`${daemon.url}/e`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
    status = res.status
    if (status === 204) stored += 200
    else refusal = await res.json()
  }
  t.comment(`${stored} events committed before the disk was full`)
  t.ok(stored > 0)
  t.equal(status, 500, 'the request whose commit failed is answered 500')
  t.equal(refusal.error.code, 'SPOOR_E_BUFFER_WRITE_FAILED')
  // The log is written beside the answer, not before it: wait for the line.
  const isFailure = (l: Record<string, any>): boolean => l.code === 'SPOOR_E_BUFFER_WRITE_FAILED' && /new events are refused/.test(l.msg)
  await until('the log line of the failed commit', () => daemon.logs.some(isFailure))
  t.match(daemon.logs.find(isFailure)?.err?.message, /^buffer commit failed: /, 'a clear log line, with the cause')

  const next = await fetch(`${daemon.url}/e`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '[{"uid":"late","a":"x"}]' })
  t.equal(next.status, 503, 'later POSTs are refused up front')
  t.equal(next.headers.get('retry-after'), '1')
  t.equal(((await next.json()) as any).error.code, 'SPOOR_E_BUFFER_UNWRITABLE')
  const dropped = (await daemon.health()).metrics.eventsDropped
  const pixel = await fetch(`${daemon.url}/p.gif?uid=late&a=view`)
  t.equal(pixel.status, 200, 'pixels are still answered')
  t.equal((await daemon.health()).metrics.eventsDropped, dropped + 1, 'and counted as dropped')
  const health = await fetch(`${daemon.url}/healthz`)
  t.equal(health.status, 503, 'health fails, so a balancer moves traffic away')
  t.equal(((await health.json()) as any).status, 'buffer_unwritable')

  // Room again: the disk grows and HBase comes back. The buffer is reopened by a restart, as after a crash.
  t.equal(await daemon.stop(), 0, 'the collector stops cleanly with a full disk')
  execFileSync('mount', ['-o', 'remount,size=64m', mount])
  gate.up()
  daemon = await startDaemon(config, mount)
  await flushed(daemon)
  t.equal(await countRows(tables.user_table as string), stored, 'every event answered 204 is in HBase, once')
  t.equal(await countRows(tables.time_table as string), stored)
  await until('the buffer to write again', async () => (await fetch(`${daemon.url}/healthz`)).status === 200)
  const after = await fetch(`${daemon.url}/e`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '[{"uid":"after","a":"x"}]' })
  t.equal(after.status, 204, 'POSTs are stored again')
})
