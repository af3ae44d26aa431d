// A batch HBase rejects for good goes to the dead-letter store with its reason, is counted and logged, and is listed by `spoor buffer`.

import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import t from 'tap'
import { CLI, flushed, startDaemon } from './fixtures/daemon'
import { client, freshTables } from './fixtures/hbase'

const run = promisify(execFile)

t.test('a table without the event family dead-letters the batch', async t => {
  const hbase = await freshTables('dead')
  // A by-time table whose only family is not `e`: every put to it fails with NoSuchColumnFamilyException.
  const timeTable = `${hbase.time_table as string}_wrong`
  const c = await client()
  try {
    await c.createTable(timeTable, [{ name: Buffer.from('x') }])
  } finally {
    await c.close()
  }
  const daemon = await startDaemon({ hbase: { ...hbase, time_table: timeTable } })
  t.teardown(async () => { await daemon.stop() })
  const res = await fetch(`${daemon.url}/e`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '[{"uid":"dl","a":"x"},{"uid":"dl","a":"y"}]' })
  t.equal(res.status, 204, 'the POST was accepted: the buffer committed it')
  const health = await flushed(daemon)
  t.equal(health.metrics.batchesDeadLettered, 1)
  t.equal(health.metrics.batchesAcknowledged, 0)
  t.ok(daemon.logs.some(l => l.code === 'SPOOR_E_DEAD_LETTER' && /NoSuchColumnFamily/.test(l.reason)), 'logged with its reason')
  t.equal(await daemon.stop(), 0)
  const { stdout } = await run(process.execPath, [CLI, 'buffer', '--config', daemon.configPath])
  t.match(stdout, /^unflushed: 0 batches, 0 bytes$/m)
  t.match(stdout, /^dead letter 1: \d+ bytes at .*NoSuchColumnFamily/m)
  t.match(stdout, /^dead letters: 1$/m)
})
