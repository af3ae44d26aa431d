// Graceful stop as systemd drives it: READY after listening, STOPPING and failing health on SIGTERM while requests
// are still served for shutdown.drain_seconds, then every accepted event committed and flushed, and exit 0.

import { once } from 'node:events'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import { join } from 'node:path'
import t from 'tap'
import { rawRequest } from './fixtures/balancers'
import { startDaemon, tempDir, until } from './fixtures/daemon'
import { countRows, freshTables } from './fixtures/hbase'
import { manager } from './fixtures/notify-socket'

// Both ways of serving: serving threads, and with server.threads = 1 the server in the main thread.
for (const [threads, label] of [[2, 'two serving threads'], [1, 'served in the main thread']] as const) {
  t.test(`SIGTERM drains in order and loses nothing, ${label}`, async t => {
    const hbase = await freshTables(`drain_${threads}`)
    const socket = join(tempDir('notify'), 'notify.sock')
    const systemd = await manager(t, socket)
    const daemon = await startDaemon({ hbase, server: { threads }, shutdown: { drain_seconds: 3 } }, undefined, { NOTIFY_SOCKET: socket })
    t.equal(await systemd.next(), 'READY=1', 'READY=1 once the listeners and the buffer are open')
    t.match(await systemd.next(), /^STATUS=\d+ events\/s in, \d+ events\/s to HBase, buffer [\d.]+ MiB$/)

    const post = async (n: number): Promise<number> => (await fetch(`${daemon.url}/e`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(Array.from({ length: n }, (_, i) => ({ uid: 'drain', a: 'x', d: String(i) })))
    })).status
    t.equal(await post(10), 204)
    const early = await rawRequest(daemon.port, 'GET /p.gif?uid=drain&a=early HTTP/1.1\r\nHost: spoor\r\n\r\n', 2000, 300)
    t.ok(early.answered && !/Connection: close/i.test(early.response) && !early.closed, 'before SIGTERM, connections are kept alive')

    const exited = once(daemon.child, 'exit')
    daemon.child.kill('SIGTERM')
    t.equal(await systemd.next(), 'STOPPING=1', 'STOPPING=1 as draining starts')
    await until('health to fail', async () => (await fetch(`${daemon.url}/healthz`)).status === 503, 5000, 20)
    t.equal((await daemon.health()).status, 'draining')
    // Still serving during the drain period, so that nothing is refused before the load balancer has moved on.
    t.equal(await post(5), 204, 'POST is still accepted while draining')
    t.equal((await fetch(`${daemon.url}/p.gif?uid=drain&a=late`)).status, 200)
    // Each answer now ends its connection, so that a load balancer holds no idle one when the socket closes.
    const late = await rawRequest(daemon.port, 'GET /p.gif?uid=drain&a=late2 HTTP/1.1\r\nHost: spoor\r\n\r\n', 2000, 1000)
    t.match(late.response, /^HTTP\/1\.1 200 OK\r\n(.*\r\n)*Connection: close\r\n/, 'a keep-alive request while draining is answered with Connection: close')
    t.ok(late.closed, 'and the collector closes the connection')

    const [code] = await exited
    t.equal(code, 0, 'exits 0')
    t.ok(daemon.logs.some(l => l.msg === 'stopped' && l.left === 0), 'nothing was left in the buffer')
    t.equal(await countRows(hbase.user_table as string), 18, 'every accepted event is in HBase')
  })

  t.test(`a second SIGTERM exits at once and the buffer keeps what was not flushed, ${label}`, async t => {
    const dataDir = tempDir('drain2')
    // An HBase that is not there: nothing can be flushed.
    const daemon = await startDaemon({ hbase: { port: 1 }, server: { threads }, shutdown: { drain_seconds: 30 } }, dataDir)
    const res = await fetch(`${daemon.url}/e`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '[{"uid":"x","a":"y"}]' })
    t.equal(res.status, 204)
    const exited = once(daemon.child, 'exit')
    daemon.child.kill('SIGTERM')
    await until('health to fail', async () => (await fetch(`${daemon.url}/healthz`)).status === 503, 5000, 20)
    daemon.child.kill('SIGTERM')
    const [code] = await exited
    t.equal(code, 1, 'the second signal exits 1 at once')
    const again = await startDaemon({ hbase: { port: 1 }, server: { threads } }, dataDir)
    t.equal((await again.health()).buffer.batches, 1, 'the committed batch is still in the buffer')
    await again.kill()
  })
}

t.test('flushes that hang are cut off by shutdown.timeout_seconds, and the buffer keeps them', async t => {
  // An HBase gateway that accepts connections and never answers.
  const sockets: Socket[] = []
  const blackhole = createServer(socket => { sockets.push(socket) })
  await new Promise<void>(resolve => blackhole.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const s of sockets) s.destroy()
    blackhole.close()
  })
  const dataDir = tempDir('drain3')
  const port = (blackhole.address() as AddressInfo).port
  const daemon = await startDaemon({ hbase: { port }, flush: { timeout_ms: 600000 }, shutdown: { timeout_seconds: 1 } }, dataDir)
  t.equal((await fetch(`${daemon.url}/e`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '[{"uid":"x","a":"y"}]' })).status, 204)
  await until('the flush to be in flight', async () => (await daemon.health()).flush.active === 1, 5000, 20)
  const started = Date.now()
  t.equal(await daemon.stop(), 0, 'exits 0 once the timeout is up')
  t.ok(Date.now() - started < 10000, 'without waiting for the hung flush')
  t.ok(daemon.logs.some(l => l.msg === 'stopped' && l.left === 1), 'the unacknowledged batch stays in the buffer')
})
