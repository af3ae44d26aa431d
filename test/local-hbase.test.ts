// The local HBase refuses to start on ports another instance holds, rather than answer with that instance's data;
// a reset removes what it stored and keeps its logs and config; `spoor hbase start` takes every port from the config.

import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { localZooKeeperPort } from '../daemon/cli/hbase'
import { LocalHBase } from '../daemon/dev/local-hbase'
import { HBaseClient } from '../daemon/hbase/client'
import { CLI, tempDir, toml } from './fixtures/daemon'
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

t.test('spoor hbase start takes every port from the config, so a second HBase runs beside the suite\'s', async t => {
  const exec = promisify(execFile)
  const offset = Number(process.env.SPOOR_TEST_PORT_OFFSET ?? 0)
  const ports = { thrift: 29590 + offset, zk: 22781 + offset, base: 26600 + offset }
  const dir = tempDir('side-by-side')
  const config = join(dir, 'spoor.toml')
  writeFileSync(config, toml({ hbase: { port: ports.thrift, zookeeper_quorum: `127.0.0.1:${ports.zk}`, local_base_port: ports.base } }))
  const spoor = async (...args: string[]): Promise<string> => (await exec(process.execPath, [CLI, ...args, '--config', config, '--hbase-dir', join(dir, 'hbase')])).stdout
  t.teardown(async () => { await spoor('hbase', 'stop') })
  t.ok((await suiteHBase().status()).answering, 'the suite HBase is up')
  t.equal(await spoor('hbase', 'start'), `HBase Thrift2 gateway on 127.0.0.1:${ports.thrift}\n`)
  const second = new LocalHBase({ dir: join(dir, 'hbase'), thriftPort: ports.thrift, zkPort: ports.zk, basePort: ports.base })
  t.same(second.ports, { thrift: ports.thrift, zk: ports.zk, master: ports.base, regionServer: ports.base + 20 })
  t.ok((await second.status()).answering, 'the second HBase answers on its own ports')
  const c = await HBaseClient.connect({ host: '127.0.0.1', port: ports.thrift })
  try {
    t.same(await c.getTableNamesByNamespace('default'), [], 'with its own, empty data')
  } finally {
    await c.close()
  }
  t.ok((await suiteHBase().status()).answering, 'and the suite HBase is untouched')
  t.equal(await spoor('hbase', 'stop'), 'HBase stopped\n')
})

t.test('a local HBase needs a ZooKeeper quorum of one loopback host:port', async t => {
  t.equal(localZooKeeperPort('127.0.0.1:2181'), 2181)
  t.equal(localZooKeeperPort('localhost:12181'), 12181)
  for (const quorum of ['zk1:2181', '127.0.0.1:2181,127.0.0.1:2182', '127.0.0.1', '127.0.0.1:70000']) {
    t.throws(() => localZooKeeperPort(quorum), { code: 'SPOOR_E_USAGE', message: /must be one 127\.0\.0\.1:PORT or localhost:PORT/ }, quorum)
  }
})
