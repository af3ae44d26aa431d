// Replaying a buffer rewrites the same cells: flushing the same batches twice leaves the row counts unchanged.

import { cpSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { EventBuffer } from '../daemon/pipeline/buffer'
import { encoderOptions } from '../daemon/native'
import { defaults } from '../daemon/config'
import { Encoder } from '../daemon/native'
import { flushed, startDaemon, tempDir } from './fixtures/daemon'
import { countRows, freshTables, SALT_BUCKETS } from './fixtures/hbase'

t.test('the same buffer flushed twice', async t => {
  const hbase = await freshTables('replay')
  const dataDir = tempDir('replay')
  const config = defaults()
  config.hbase.saltBuckets = SALT_BUCKETS
  const encoder = new Encoder(encoderOptions(config))
  const uidOut = Buffer.alloc(32)
  const ip = Uint8Array.from([192, 0, 2, 1]).buffer
  const buffer = new EventBuffer(dataDir)
  for (let b = 0; b < 3; b++) {
    for (let i = 0; i < 100; i++) t.equal(encoder.pixel(`a=view&it=${i}&uid=u${i % 10}`, 'UA', 'https://a.example/', '', ip, Date.now(), uidOut), 0)
    await buffer.append(encoder.takeBatch()!)
  }
  t.equal(buffer.batchCount, 3)
  await buffer.close()
  const copy = tempDir('replay-copy')
  cpSync(join(dataDir, 'buffer'), copy, { recursive: true })

  const first = await startDaemon({ hbase }, dataDir)
  await flushed(first)
  t.equal(await first.stop(), 0)
  t.equal(await countRows(hbase.user_table as string), 300)
  t.equal(await countRows(hbase.time_table as string), 300)

  rmSync(join(dataDir, 'buffer'), { recursive: true })
  cpSync(copy, join(dataDir, 'buffer'), { recursive: true })
  const second = await startDaemon({ hbase }, dataDir)
  t.ok(second.logs.some(l => l.msg === 'flushing batches left in the buffer by the last run' && l.batches === 3), 'the restored batches are flushed again')
  const health = await flushed(second)
  t.equal(health.metrics.eventsDelivered, 300)
  t.equal(await second.stop(), 0)
  t.equal(await countRows(hbase.user_table as string), 300, 'no new rows in the by-user table')
  t.equal(await countRows(hbase.time_table as string), 300, 'no new rows in the by-time table')
})
