// The flush side's batch decoder and retry backoff, on their own.

import t from 'tap'
import { backoff } from '../daemon/pipeline/flush'
import { BatchFormatError, decodeBatch, eventCells } from './reference/batch'
import { encodeBatch } from './reference/encoder'

const opts = { saltBuckets: 16, maxValueBytes: 2048, anonymizeIp: true }
const batch = encodeBatch([
  { ts: 1000, uid: 'a', eid: '1', fields: { uid: 'a', a: 'view', url: 'https://x.example/' } },
  { ts: 2000, uid: 'b', eid: '2', fields: { uid: 'b', a: 'like', d: '{"n":1}' } }
], opts)

t.test('decodes every record', async t => {
  const events = decodeBatch(batch)
  t.equal(events.length, 2)
  t.equal(events[0].ts, 1000)
  t.match(eventCells(events[0]), { uid: 'a', a: 'view', url: 'https://x.example/' })
  t.match(eventCells(events[1]), { uid: 'b', a: 'like', d: '{"n":1}' })
  t.equal(events[1].userKey.length, 33)
  t.equal(events.reduce((n, e) => n + e.size, 8), batch.length, 'sizes add up to the batch')
})

t.test('refuses what is not a v1 batch', async t => {
  const broken = (mutate: (b: Buffer) => Buffer): Buffer => mutate(Buffer.from(batch))
  t.throws(() => decodeBatch(Buffer.from('nope')), BatchFormatError)
  t.throws(() => decodeBatch(broken(b => { b.write('XXXX', 0); return b })), { message: 'batch is not format v1: bad header' })
  t.throws(() => decodeBatch(broken(b => b.subarray(0, b.length - 3))), { message: /record 1 is cut short/ })
  t.throws(() => decodeBatch(Buffer.concat([batch, Buffer.from([0])])), { message: /trailing bytes/ })
  t.throws(() => decodeBatch(broken(b => { b.writeUInt32BE(3, 4); return b })), { message: /record 2 is cut short/ })
})

t.test('backoff is full jitter, doubling up to the cap', async t => {
  t.equal(backoff(0, 100, 30000, () => 0.999), 99)
  t.equal(backoff(3, 100, 30000, () => 0.5), 400)
  t.equal(backoff(20, 100, 30000, () => 0.999), 29970)
  t.equal(backoff(1000, 100, 30000, () => 0.999), 29970, 'no overflow for long outages')
  t.equal(backoff(5, 100, 30000, () => 0), 0)
})
