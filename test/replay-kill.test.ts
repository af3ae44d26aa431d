// A restart finds a large backlog and is killed again while flushing it, three times over: when it finally
// finishes, every event answered 204 is in both event tables exactly once.

import t from 'tap'
import { flushed, startDaemon, tempDir, until } from './fixtures/daemon'
import { countRows, freshTables, THRIFT_PORT } from './fixtures/hbase'
import { TcpGate } from './fixtures/tcp-gate'

const POSTS = 60
const PER_POST = 100
const KILLS = 3

t.test('SIGKILL during the replay of a backlog, again and again, loses and duplicates nothing', async t => {
  const tables = await freshTables('replay_kill')
  const gate = await TcpGate.open({ host: '127.0.0.1', port: THRIFT_PORT })
  t.teardown(async () => await gate.close())
  const dataDir = tempDir('replay-kill')
  // One flush in flight at a time, each of about two batches (64 KiB), so the replay takes long enough to be cut in the middle.
  const config = { hbase: { ...tables, port: gate.port }, flush: { in_flight: 1, max_request_bytes: 65536, retry_min_ms: 20, retry_max_ms: 200, probe_interval_ms: 100 } }

  // The backlog: HBase cut off while the POSTs are committed.
  gate.down()
  let daemon = await startDaemon(config, dataDir)
  const statuses = new Set<number>()
  for (let i = 0; i < POSTS; i++) {
    const events = Array.from({ length: PER_POST }, (_, j) => ({ uid: `replay-${j % 13}`, a: 'view', d: `${i}-${j}` }))
    const res = await fetch(`${daemon.url}/e`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(events) })
    statuses.add(res.status)
  }
  t.same([...statuses], [204], 'every POST committed')
  const backlog = (await daemon.health()).buffer.batches
  t.comment(`backlog of ${backlog} batches, ${POSTS * PER_POST} events`)
  t.ok(backlog >= 10, 'a backlog of many batches')
  await daemon.kill()

  // HBase is back: each restart starts the replay and is killed once part of it is acknowledged.
  gate.up()
  let left = backlog
  for (let k = 0; k < KILLS; k++) {
    daemon = await startDaemon(config, dataDir)
    const start = (await daemon.health()).buffer.batches
    t.ok(start <= left, `restart ${k + 1} finds the ${start} batches not yet acknowledged`)
    await until('part of the replay to be acknowledged', async () => (await daemon.health()).metrics.batchesAcknowledged >= 2, 60000, 10)
    await daemon.kill()
    left = start
  }

  daemon = await startDaemon(config, dataDir)
  t.teardown(async () => { await daemon.stop() })
  await flushed(daemon)
  t.equal(await countRows(tables.user_table as string), POSTS * PER_POST, 'every event in the by-user table, once')
  t.equal(await countRows(tables.time_table as string), POSTS * PER_POST, 'and in the by-time table')
})
