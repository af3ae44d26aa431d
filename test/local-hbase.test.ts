// The local HBase refuses to start on ports another instance holds, rather than answer with that instance's data;
// a reset removes what it stored and keeps its logs and config.

import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { LocalHBase } from '../daemon/dev/local-hbase'
import { tempDir } from './fixtures/daemon'
import { suiteHBase, THRIFT_PORT } from './fixtures/hbase'

t.test('a second instance on the suite HBase ports is refused', async t => {
  const running = suiteHBase()
  t.ok((await running.status()).answering, 'the suite HBase is up')
  const clash = new LocalHBase({ dir: tempDir('clash'), thriftPort: THRIFT_PORT, zkPort: running.ports.zk, basePort: running.ports.master })
  await t.rejects(clash.start(), { message: /^cannot start the local HBase in .*: port \d+ on 127\.0\.0\.1 is already in use/ })
  t.ok((await running.status()).answering, 'and the running one is untouched')
})

t.test('reset removes the data, ZooKeeper state and temporary files of a stopped instance, and keeps its logs', async t => {
  const dir = tempDir('reset')
  for (const sub of ['data/default', 'zk/version-2', 'tmp/master', 'logs', 'conf/master']) mkdirSync(join(dir, sub), { recursive: true })
  writeFileSync(join(dir, 'logs', 'master.log'), 'kept')
  const hbase = new LocalHBase({ dir, thriftPort: 39990, zkPort: 39991, basePort: 39992 })
  await hbase.reset()
  t.same(['data', 'zk', 'tmp'].filter(sub => existsSync(join(dir, sub))), [], 'what HBase stored is gone')
  t.ok(existsSync(join(dir, 'logs', 'master.log')) && existsSync(join(dir, 'conf', 'master')), 'the logs and config stay')
})
