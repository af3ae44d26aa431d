// Recommendation signals on the real RabbitMQ and the real HBase: what is published is stored exactly once, duplicates
// included; every kind of bad input is dead-lettered with its reason while the consumer goes on; an HBase outage
// leaves the signals unacknowledged in RabbitMQ until they are stored.

import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import t from 'tap'
import { allSignals, signalRowKey, userSignals, type Signal } from '../daemon/hbase/signals'
import { SignalPublisher } from '../daemon/recommend/publisher'
import { REJECTIONS } from '../daemon/recommend/signal'
import { topology } from '../daemon/recommend/topology'
import { loadConfig } from '../daemon/config'
import { publish, startConsumer } from './fixtures/consumer'
import { CLI, freePort, tempDir, toml, until } from './fixtures/daemon'
import { client, SALT_BUCKETS, suiteHBase } from './fixtures/hbase'
import { drain, freshRecommend, queueCounts } from './fixtures/rabbitmq'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const run = promisify(execFile)

async function stored (table: string): Promise<Signal[]> {
  const c = await client()
  try {
    return (await allSignals(c, table)).map(({ row: _row, ...s }) => s)
  } finally {
    await c.close()
  }
}

const byId = (a: Signal, b: Signal): number => a.id < b.id ? -1 : a.id > b.id ? 1 : 0

t.test('signals published with `spoor recommend publish` are stored once each, duplicates and configured kinds included', async t => {
  const { recommend, hbase } = await freshRecommend('store')
  const sections = { recommend: { ...recommend, weights: { upvote: 2 } }, hbase }
  const consumer = await startConsumer(sections)
  t.teardown(async () => { await consumer.kill() })

  const now = Date.now()
  const kinds = ['view', 'like', 'answer', 'best', 'upvote']
  const signals: Signal[] = Array.from({ length: 300 }, (_, i) => ({ user: `user-${i % 29}`, item: `q${i % 41}`, kind: kinds[i % kinds.length], ts: now - i * 1000, id: `sig-${i}` }))
  // A 32-hex-digit user is stored under its bytes, as the event tables store such a uid, and read back in lower case.
  signals.push({ user: 'ABCDEF0123456789ABCDEF0123456789', item: 'q7', kind: 'view', ts: now, id: 'hex-1' })
  // ts may be an RFC 3339 date-time as well; it is stored as its milliseconds.
  const lines = signals.map((s, i) => JSON.stringify(i % 3 === 0 ? { ...s, ts: new Date(s.ts).toISOString() } : s))
  // The same signal again: a retry of the application, or RabbitMQ delivering it twice.
  const duplicates = lines.slice(0, 40)
  const published = await publish(consumer.configPath, [...lines, ...duplicates].join('\n') + '\n\n')
  t.equal(published.code, 0, published.stderr)
  t.match(published.stderr, `spoor: ${lines.length + duplicates.length} signals published to ${recommend.exchange as string} and confirmed by RabbitMQ`)

  await consumer.logged('every signal acknowledged', l => l.msg === 'batch acknowledged' && l.stored >= lines.length + duplicates.length)
  const rows = await stored(recommend.signals_table as string)
  const expected = signals.map(s => s.user.startsWith('ABC') ? { ...s, user: s.user.toLowerCase() } : s)
  t.same(rows.sort(byId), [...expected].sort(byId), 'one row per signal id, with its user, item, kind and ts')

  const c = await client()
  t.teardown(async () => { await c.close() })
  const user3 = await userSignals(c, recommend.signals_table as string, 'user-3', SALT_BUCKETS)
  t.same(user3.map(s => s.id).sort(), signals.filter(s => s.user === 'user-3').map(s => s.id).sort(), 'one user\'s signals are one prefix scan')
  t.ok(user3.every(s => s.row.equals(signalRowKey('user-3', s.id, SALT_BUCKETS))), 'keyed salt, user, signal id')
  const hex = await userSignals(c, recommend.signals_table as string, 'abcdef0123456789abcdef0123456789', SALT_BUCKETS)
  t.same(hex.map(s => s.id), ['hex-1'], 'a hex user in either case is one user')

  t.same(await queueCounts(recommend.queue as string), { ready: 0, unacked: 0 }, 'nothing left in the queue')
  t.equal(await consumer.stop(), 0, 'SIGTERM stops it cleanly')
  const stats = consumer.logs.find(l => l.msg === 'stopped')
  t.ok(stats?.stored >= lines.length + duplicates.length && stats?.deadLettered === 0, 'its last log line counts them', { stats })
})

t.test('every kind of bad input goes to the dead-letter queue with its reason, and the consumer goes on', async t => {
  const { recommend, hbase } = await freshRecommend('bad')
  const consumer = await startConsumer({ recommend, hbase })
  t.teardown(async () => { await consumer.kill() })
  const config = loadConfig(consumer.configPath)
  const publisher = await SignalPublisher.connect({ url: recommend.amqp_url as string, topology: topology(config) })
  t.teardown(async () => { await publisher.close() })

  const now = Date.now()
  const good = { user: 'alice', item: 'q1', kind: 'like', ts: now, id: 'ok-1' }
  const json = (fields: Record<string, unknown>): string => JSON.stringify(fields)
  const bad: Array<[string, string | Buffer, keyof typeof REJECTIONS, RegExp]> = [
    ['malformed JSON', '{"user":"alice",', 'bad-json', /^the message is not JSON: /],
    ['not UTF-8', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), 'bad-json', /^the message is not valid UTF-8$/],
    ['an array', '[1,2]', 'not-an-object', /^the message is JSON array, not an object$/],
    ['no user', json({ ...good, user: undefined, id: 'b1' }), 'missing-field', /^the signal has no user$/],
    ['no item', json({ ...good, item: null, id: 'b2' }), 'missing-field', /^the signal has no item$/],
    ['no id', json({ ...good, id: undefined }), 'missing-field', /^the signal has no id$/],
    ['no ts', json({ ...good, ts: undefined, id: 'b3' }), 'missing-field', /^the signal has no ts$/],
    ['a number for a user', json({ ...good, user: 42, id: 'b4' }), 'bad-field', /^user must be a string, not number$/],
    ['an empty item', json({ ...good, item: '', id: 'b5' }), 'bad-field', /^item is empty$/],
    ['a control character', json({ ...good, user: 'al\nice', id: 'b6' }), 'bad-field', /^user "al\\nice" holds a control character$/],
    ['an unknown kind', json({ ...good, kind: 'upvote', id: 'b7' }), 'unknown-kind', /^kind "upvote" is not one of view, like, answer, best$/],
    ['an over-long id', json({ ...good, id: 'x'.repeat(257) }), 'too-long', /^id has 257 bytes, more than recommend\.max_id_bytes \(256\)$/],
    ['an over-long item', json({ ...good, item: 'é'.repeat(200), id: 'b8' }), 'too-long', /^item has 400 bytes/],
    ['a 1 MB message', json({ ...good, id: 'b9', pad: 'x'.repeat(1024 * 1024) }), 'too-large', /^the message has 1048\d{3} bytes, more than recommend\.max_message_bytes \(16384\)$/],
    ['a ts that is no date', json({ ...good, ts: 'yesterday', id: 'b10' }), 'bad-ts', /^ts "yesterday" is not an RFC 3339 date-time/],
    ['a fractional ts', json({ ...good, ts: 1.5, id: 'b11' }), 'bad-ts', /^ts 1\.5 is not an integer of milliseconds since the epoch$/],
    ['a ts in 1999', json({ ...good, ts: Date.UTC(1999, 11, 31), id: 'b12' }), 'bad-ts', /^ts 1999-12-31T00:00:00\.000Z is before 2000-01-01$/],
    ['a ts two days ahead', json({ ...good, ts: now + 2 * 86400000, id: 'b13' }), 'bad-ts', /is more than a day ahead of the consumer's clock/],
    ['a ts in seconds as a string', json({ ...good, ts: String(Math.floor(now / 1000)), id: 'b14' }), 'bad-ts', /is not an RFC 3339 date-time/]
  ]
  t.same([...new Set(bad.map(b => b[2]))].sort(), Object.keys(REJECTIONS).sort(), 'every reason is tried')
  for (const [, body] of bad) await publisher.publish(body)
  await publisher.publish(json(good))
  await publisher.publish(json({ ...good, id: 'ok-2', extra: 'ignored' }))

  await consumer.logged('the good signals after the bad ones', l => l.msg === 'batch acknowledged' && l.stored >= 2 && l.deadLettered >= bad.length)
  t.same((await stored(recommend.signals_table as string)).map(s => s.id).sort(), ['ok-1', 'ok-2'], 'the good signals are stored, and only they')

  const dead = await drain(recommend.dead_letter_queue as string)
  t.equal(dead.length, bad.length, 'each bad message is dead-lettered once')
  for (const [what, body, error, reason] of bad) {
    const letter = dead.find(d => d.content.equals(Buffer.isBuffer(body) ? body : Buffer.from(body)))
    t.ok(letter, `${what}: dead-lettered as it was sent`)
    t.equal(letter?.headers['x-spoor-error'], error, `${what}: ${error}`)
    t.match(letter?.headers['x-spoor-reason'], reason, `${what}: its reason`)
    t.equal(letter?.headers['x-spoor-queue'], recommend.queue)
  }
  t.same(await queueCounts(recommend.queue as string), { ready: 0, unacked: 0 }, 'none of them is requeued')
  t.equal(consumer.logs.filter(l => l.code === 'SPOOR_E_SIGNAL_REJECTED').length, bad.length, 'each is logged with its reason')
  t.equal(await consumer.stop(), 0)
})

t.test('with HBase down the signals stay unacknowledged in RabbitMQ, and are stored once it is back', async t => {
  const { recommend, hbase } = await freshRecommend('outage')
  const consumer = await startConsumer({ recommend, hbase, flush: { timeout_ms: 3000 } })
  const local = suiteHBase()
  t.teardown(async () => {
    await local.start()
    await consumer.kill()
  })
  const config = loadConfig(consumer.configPath)
  const publisher = await SignalPublisher.connect({ url: recommend.amqp_url as string, topology: topology(config) })
  t.teardown(async () => { await publisher.close() })
  const now = Date.now()
  const signal = (i: number): Signal => ({ user: `u${i % 7}`, item: `q${i}`, kind: 'view', ts: now + i, id: `out-${i}` })

  await Promise.all(Array.from({ length: 50 }, async (_, i) => await publisher.publish(signal(i))))
  await consumer.logged('the first 50 stored', l => l.msg === 'batch acknowledged' && l.stored >= 50)

  await local.stop()
  await Promise.all(Array.from({ length: 50 }, async (_, i) => await publisher.publish(signal(50 + i))))
  await consumer.logged('a failed write', l => l.code === 'SPOOR_E_SIGNAL_STORE_RETRY')
  await until('the consumer to hold all 50', async () => (await queueCounts(recommend.queue as string)).unacked === 50, 30000, 500)
  t.pass('the 50 signals written while HBase is down stay unacknowledged, with the consumer')

  await local.start()
  await consumer.logged('the 50 stored after the outage', l => l.msg === 'batch acknowledged' && l.stored >= 100, 120000)
  t.same((await stored(recommend.signals_table as string)).sort(byId), Array.from({ length: 100 }, (_, i) => signal(i)).sort(byId), 'all 100 are stored, once')
  t.same(await queueCounts(recommend.queue as string), { ready: 0, unacked: 0 })
  t.ok(consumer.logs.some(l => l.msg === 'signals stored after retrying'))
  t.equal(await consumer.stop(), 0)
})

t.test('a publish that no queue would take is refused, not confirmed and lost', async t => {
  const { recommend, hbase } = await freshRecommend('unroutable')
  const dir = tempDir('unroutable')
  const configPath = join(dir, 'spoor.toml')
  writeFileSync(configPath, toml({ recommend, hbase }))
  const config = loadConfig(configPath)
  // An application that declares only the exchange, before the consumer ever ran.
  const publisher = await SignalPublisher.connect({ url: recommend.amqp_url as string, topology: topology(config), declareQueues: false })
  t.teardown(async () => { await publisher.close() })
  await t.rejects(publisher.publish({ user: 'a', item: 'b', kind: 'view', ts: Date.now(), id: 'c' }), { code: 'SPOOR_E_PUBLISH_FAILED', message: /no queue is bound to the exchange t\..*\.signals, so RabbitMQ would have dropped the message; run `spoor recommend consume` once/ })
})

t.test('spoor recommend: usage, a missing signals table, and RabbitMQ out of reach', async t => {
  const { recommend, hbase } = await freshRecommend('usage')
  const dir = tempDir('recommend-usage')
  const write = (name: string, sections: Record<string, Record<string, unknown>>): string => {
    const path = join(dir, name)
    writeFileSync(path, toml(sections))
    return path
  }
  const cli = async (path: string, ...args: string[]): Promise<{ code: number, stderr: string }> => await run(process.execPath, [CLI, ...args, '--config', path])
    .then(() => ({ code: 0, stderr: '' }), (err: { code: number, stderr: string }) => err)
  const ok = write('ok.toml', { recommend, hbase })
  t.match(await cli(ok, 'recommend'), { code: 1, stderr: /SPOOR_E_USAGE: the command line is invalid: unknown recommend command ""/ })
  t.match(await cli(ok, 'recommend', 'train-everything'), { code: 1, stderr: /SPOOR_E_USAGE: .*unknown recommend command "train-everything"/ })
  const missing = write('missing.toml', { recommend: { ...recommend, signals_table: 'no_such_signals' }, hbase })
  t.match(await cli(missing, 'recommend', 'consume'), { code: 1, stderr: /SPOOR_E_SIGNALS_TABLE_MISSING: the signals table does not exist: no_such_signals at 127\.0\.0\.1:\d+; create it with `spoor hbase init`/ })
  const free = await freePort()
  const nowhere = write('nowhere.toml', { recommend: { ...recommend, amqp_url: `amqp://user:secret@127.0.0.1:${free}` }, hbase })
  const down = await cli(nowhere, 'recommend', 'publish')
  t.match(down, { code: 1, stderr: /SPOOR_E_AMQP_UNAVAILABLE: RabbitMQ did not answer: amqp:\/\/user:\*\*\*@127\.0\.0\.1:\d+\/?: .*ECONNREFUSED.*; start a local one with `spoor rabbitmq start`/ })
  t.notMatch(down.stderr, /secret/, 'the password is not shown')
})

t.test('the Node example of docs/recommendations.md sends a signal that is stored', async t => {
  const { recommend, hbase } = await freshRecommend('docs')
  // The example names the default exchange; the consumer stores from the default queue, into a table of the test's.
  const consumer = await startConsumer({ recommend: { amqp_url: recommend.amqp_url, signals_table: recommend.signals_table }, hbase })
  t.teardown(async () => { await consumer.kill() })
  const page = readFileSync(join(__dirname, '..', '..', 'docs', 'recommendations.md'), 'utf8')
  const example = /### From Node \(amqplib\)\n\n```js\n([\s\S]*?)```/.exec(page)?.[1]
  t.ok(example, 'the example is there')
  const script = join(tempDir('docs-example'), 'example.js')
  writeFileSync(script, (example ?? '')
    .replace("require('amqplib')", `require(${JSON.stringify(require.resolve('amqplib'))})`)
    .replace('amqp://127.0.0.1:5672', recommend.amqp_url as string))
  const ran = await run(process.execPath, [script])
  t.equal(ran.stderr, '')
  await consumer.logged('the example\'s signal stored', l => l.msg === 'batch acknowledged' && l.stored >= 1)
  t.match(await stored(recommend.signals_table as string), [{ user: 'alice', item: 'q42', kind: 'like' }])
  t.equal(await consumer.stop(), 0)
})
