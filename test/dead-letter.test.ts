// A batch HBase rejects for good goes to the dead-letter store with its reason, is counted, logged and listed,
// and `spoor buffer replay` sends it again once the cause is fixed.

import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import t from 'tap'
import { FAMILY } from '../daemon/hbase/schema'
import { EventBuffer } from '../daemon/pipeline/buffer'
import { CLI, flushed, freePort, startDaemon, tempDir } from './fixtures/daemon'
import { client, countRows, freshTables } from './fixtures/hbase'

const run = promisify(execFile)

t.test('a table without the event family dead-letters the batch, and a replay delivers it', async t => {
  const hbase = await freshTables('dead')
  // A by-time table whose only family is not `e`: every put to it fails with NoSuchColumnFamilyException.
  const timeTable = `${hbase.time_table as string}_wrong`
  const c = await client()
  t.teardown(async () => { await c.close() })
  await c.createTable(timeTable, [{ name: Buffer.from('x') }])
  const daemon = await startDaemon({ hbase: { ...hbase, time_table: timeTable }, admin: { enabled: true, port: await freePort() } })
  t.teardown(async () => { await daemon.stop() })
  const res = await fetch(`${daemon.url}/e`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '[{"uid":"dl","a":"x"},{"uid":"dl","a":"y"}]' })
  t.equal(res.status, 204, 'the POST was accepted: the buffer committed it')
  const health = await flushed(daemon)
  t.equal(health.metrics.batchesDeadLettered, 1)
  t.equal(health.metrics.batchesAcknowledged, 0)
  t.ok(daemon.logs.some(l => l.code === 'SPOOR_E_DEAD_LETTER' && /NoSuchColumnFamily/.test(l.reason)), 'logged with its reason')

  const listed = (await run(process.execPath, [CLI, 'buffer', '--config', daemon.configPath])).stdout
  t.match(listed, /^unflushed: 0 batches, 0 bytes$/m)
  t.match(listed, /^dead letter 1: \d+ bytes at .*NoSuchColumnFamily/m)
  t.match(listed, /^dead letters: 1$/m)

  // Fix the cause, then replay.
  await c.addColumnFamily(timeTable, { name: Buffer.from(FAMILY) })
  const replay = (await run(process.execPath, [CLI, 'buffer', 'replay', '--config', daemon.configPath])).stdout
  t.equal(replay, 'dead letters moved back into the buffer: 1\n')
  const after = await flushed(daemon)
  t.equal(after.metrics.batchesAcknowledged, 1, 'the replayed batch is acknowledged')
  t.equal(after.metrics.eventsDelivered, 2)
  t.equal(await countRows(timeTable), 2)
  t.equal(await countRows(hbase.user_table as string), 2, 'the by-user rows written before are rewritten, not doubled')
  t.match((await run(process.execPath, [CLI, 'buffer', '--config', daemon.configPath])).stdout, /^dead letters: 0$/m)
})

t.test('a bad batch among good ones flushed together: only it becomes a dead letter', async t => {
  const hbase = await freshTables('dead_group')
  const dataDir = tempDir('dead-group')
  // Three good batches, committed while HBase is out of reach.
  const offline = await startDaemon({ hbase: { ...hbase, port: 1 } }, dataDir)
  for (let i = 0; i < 3; i++) {
    const res = await fetch(`${offline.url}/e`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([{ uid: 'grp', a: 'x', d: `${i}-a` }, { uid: 'grp', a: 'x', d: `${i}-b` }]) })
    t.equal(res.status, 204)
  }
  await offline.kill()
  // Then one that is not a batch at all, after them: the next flush takes all four as one group.
  const buffer = new EventBuffer(dataDir)
  t.equal(buffer.batchCount, 3)
  await buffer.append(Buffer.from('SPB1\0\0\0\x05not records'))
  await buffer.close()

  const daemon = await startDaemon({ hbase }, dataDir)
  t.teardown(async () => { await daemon.stop() })
  const health = await flushed(daemon)
  t.equal(health.metrics.batchesAcknowledged, 3, 'the good batches, written one by one once the group was refused')
  t.equal(health.metrics.batchesDeadLettered, 1, 'only the bad one is a dead letter')
  t.equal(health.metrics.eventsDelivered, 6)
  t.equal(await countRows(hbase.user_table as string), 6)
  t.ok(daemon.logs.some(l => l.code === 'SPOOR_E_DEAD_LETTER' && /not format v1/.test(l.reason)), 'logged with its reason')
})

t.test('replay needs the admin listener', async t => {
  const daemon = await startDaemon({ hbase: { port: 1 }, admin: { enabled: false, port: await freePort() } })
  t.teardown(async () => { await daemon.stop() })
  await t.rejects(run(process.execPath, [CLI, 'buffer', 'replay', '--config', daemon.configPath]), {
    message: /spoor: SPOOR_E_ADMIN_UNAVAILABLE: the collector's admin listener did not answer: http:\/\/127\.0\.0\.1:\d+\/dead-letters\/replay: .*is the collector running, with admin\.enabled\?\n$/
  })
})
