// The local HBase refuses to start on ports another instance holds, rather than answer with that instance's data.

import t from 'tap'
import { LocalHBase } from '../daemon/local-hbase'
import { tempDir } from './fixtures/daemon'
import { suiteHBase, THRIFT_PORT } from './fixtures/hbase'

t.test('a second instance on the suite HBase ports is refused', async t => {
  const running = suiteHBase()
  t.ok((await running.status()).answering, 'the suite HBase is up')
  const clash = new LocalHBase({ dir: tempDir('clash'), thriftPort: THRIFT_PORT, zkPort: running.ports.zk, basePort: running.ports.master })
  await t.rejects(clash.start(), { message: /^cannot start the local HBase in .*: port \d+ on 127\.0\.0\.1 is already in use/ })
  t.ok((await running.status()).answering, 'and the running one is untouched')
})
