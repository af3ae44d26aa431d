// Behind a load balancer: the client IP comes from X-Forwarded-For or Forwarded only when the peer is a trusted proxy.

import t from 'tap'
import { HBaseClient } from '../daemon/hbase/client'
import { scanPrefix } from '../daemon/hbase/reader'
import { userRowPrefix } from '../daemon/native'
import { flushed, startDaemon } from './fixtures/daemon'
import { client, freshTables, SALT_BUCKETS } from './fixtures/hbase'

async function storedIps (table: string, uid: string): Promise<string[]> {
  const c: HBaseClient = await client()
  try {
    return (await scanPrefix(c, table, userRowPrefix(uid, SALT_BUCKETS), 100)).map(r => r.cells.ip).sort()
  } finally {
    await c.close()
  }
}

t.test('a trusted peer: the rightmost untrusted forwarded address', async t => {
  const hbase = await freshTables('fwd')
  const daemon = await startDaemon({ hbase, server: { trusted_proxies: ['127.0.0.1', '10.0.0.0/8'] } })
  t.teardown(async () => { await daemon.stop() })
  await fetch(`${daemon.url}/p.gif?uid=xff&a=1`, { headers: { 'x-forwarded-for': '198.51.100.7, 203.0.113.9, 10.1.2.3' } })
  await fetch(`${daemon.url}/p.gif?uid=xff&a=2`, { headers: { forwarded: 'for=192.0.2.60;proto=https, for="[2001:db8:cafe::17]:4711"' } })
  await fetch(`${daemon.url}/e`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-for': '198.51.100.200' }, body: '[{"uid":"xff","a":"3"}]' })
  await fetch(`${daemon.url}/p.gif?uid=xff&a=4`)
  await flushed(daemon)
  t.same(await storedIps(hbase.user_table as string, 'xff'), ['127.0.0.0', '198.51.100.0', '2001:db8:cafe::', '203.0.113.0'])
})

t.test('an untrusted peer: the socket address, whatever the headers say', async t => {
  const hbase = await freshTables('nofwd')
  const daemon = await startDaemon({ hbase, server: { trusted_proxies: ['10.0.0.0/8'] } })
  t.teardown(async () => { await daemon.stop() })
  await fetch(`${daemon.url}/p.gif?uid=spoof&a=1`, { headers: { 'x-forwarded-for': '203.0.113.9' } })
  await fetch(`${daemon.url}/p.gif?uid=spoof&a=2`, { headers: { forwarded: 'for=192.0.2.60' } })
  await flushed(daemon)
  t.same(await storedIps(hbase.user_table as string, 'spoof'), ['127.0.0.0', '127.0.0.0'])
})
