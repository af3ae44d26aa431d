// `spoor erase` also erases a person's recommendation signals: those of their login and of their uids, whatever their
// ts, and keeps everyone else's; a signal of theirs delivered again after the erasure stays erased.

import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import t from 'tap'
import { loadConfig } from '../daemon/config'
import { userSignals, type Signal } from '../daemon/hbase/signals'
import { SignalPublisher } from '../daemon/recommend/publisher'
import { topology } from '../daemon/recommend/topology'
import { startConsumer } from './fixtures/consumer'
import { CLI, flushed, startDaemon } from './fixtures/daemon'
import { client, freshTables, SALT_BUCKETS } from './fixtures/hbase'
import { freshRecommend } from './fixtures/rabbitmq'

const run = promisify(execFile)

t.test('erasing a login erases its signals and its devices\' signals, future-dated ones too, and no one else\'s', async t => {
  const events = await freshTables('erasesig')
  const { recommend, hbase } = await freshRecommend('erasesig')
  const daemon = await startDaemon({ hbase: events, recommend })
  t.teardown(async () => { await daemon.stop() })
  const consumer = await startConsumer({ recommend, hbase })
  t.teardown(async () => { await consumer.kill() })
  const publisher = await SignalPublisher.connect({ url: recommend.amqp_url as string, topology: topology(loadConfig(consumer.configPath)) })
  t.teardown(async () => { await publisher.close() })

  // alice logs in on her phone; bob is someone else.
  const res = await fetch(`${daemon.url}/e`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([{ uid: 'alice-phone', lid: 'alice', a: 'identify', eid: 'e1' }, { uid: 'bob-laptop', lid: 'bob', a: 'identify', eid: 'e2' }]) })
  t.equal(res.status, 204)
  await flushed(daemon)

  const now = Date.now()
  const signals: Signal[] = [
    { user: 'alice', item: 'q1', kind: 'view', ts: now - 1000, id: 'a1' },
    { user: 'alice', item: 'q2', kind: 'best', ts: now, id: 'a2' },
    // Dated an hour ahead, as a client with a fast clock would: a delete at HBase's "now" would leave it.
    { user: 'alice', item: 'q3', kind: 'like', ts: now + 3600000, id: 'a3' },
    // An application that keys signals by the device's uid.
    { user: 'alice-phone', item: 'q4', kind: 'view', ts: now, id: 'p1' },
    { user: 'bob', item: 'q1', kind: 'view', ts: now, id: 'b1' }
  ]
  for (const s of signals) await publisher.publish(s)
  await consumer.logged('the signals stored', l => l.msg === 'batch acknowledged' && l.stored >= signals.length)

  const c = await client()
  t.teardown(async () => { await c.close() })
  const table = recommend.signals_table as string
  const ids = async (user: string): Promise<string[]> => (await userSignals(c, table, user, SALT_BUCKETS)).map(s => s.id).sort()
  t.same([await ids('alice'), await ids('alice-phone'), await ids('bob')], [['a1', 'a2', 'a3'], ['p1'], ['b1']])

  const cli = async (...args: string[]): Promise<string> => (await run(process.execPath, [CLI, ...args, '--config', daemon.configPath])).stdout
  t.match(JSON.parse(await cli('erase', '--user', 'l:alice', '--dry-run', '--json')), { ids: ['l:alice', 'u:alice-phone'], signalRows: 4, dryRun: true }, 'the dry run counts them')
  t.same(await ids('alice'), ['a1', 'a2', 'a3'], 'and deletes nothing')

  const text = await cli('erase', '--user', 'l:alice')
  t.match(text, new RegExp(`^ {9}4 {2}signal rows {16}${table}$`, 'm'), 'the erasure says how many signals went')
  t.same([await ids('alice'), await ids('alice-phone'), await ids('bob')], [[], [], ['b1']], 'alice\'s signals are gone, the future-dated one too; bob keeps his')

  // The application sends one of them again, as a retry after the erasure would.
  await publisher.publish(signals[1])
  await consumer.logged('the signal sent again', l => l.msg === 'batch acknowledged' && l.stored >= signals.length + 1)
  t.same(await ids('alice'), [], 'a signal delivered again after the erasure stays erased')

  t.match(JSON.parse(await cli('erase', '--user', 'l:alice', '--json')), { signalRows: 0 }, 'a second erasure finds no signals')
})
