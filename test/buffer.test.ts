// The LMDB buffer on its own: append order, acknowledgement, dead letters and sequence numbers across restarts.

import { existsSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { EventBuffer } from '../daemon/pipeline/buffer'
import { tempDir } from './fixtures/daemon'

const batch = (n: number): Buffer => Buffer.alloc(n, n % 256)

t.test('append, next, ack', async t => {
  const dir = tempDir('buffer')
  const buffer = new EventBuffer(dir)
  t.ok(existsSync(join(dir, 'buffer', 'v1')), 'the format version is in the path')
  const a = await buffer.append(batch(10))
  const b = await buffer.append(batch(20))
  t.equal(a, 1n)
  t.equal(b, 2n)
  t.equal(buffer.size, 30)
  t.equal(buffer.batchCount, 2)
  t.equal(buffer.next(0n), 1n)
  t.equal(buffer.next(1n), 2n)
  t.equal(buffer.next(2n), undefined)
  t.same(buffer.get(1n), batch(10))
  t.same(buffer.get(2n), batch(20))
  await buffer.ack([{ seq: 1n, length: 10 }])
  t.equal(buffer.size, 20)
  t.equal(buffer.next(0n), 2n)
  await buffer.ack([{ seq: 1n, length: 10 }])
  t.equal(buffer.size, 20, 'a second ack of the same batch changes nothing')
  await buffer.close()
})

t.test('after() gives the batches ready after a point, within a count and a byte cap; ack takes several at once', async t => {
  const buffer = new EventBuffer(tempDir('buffer'))
  for (const size of [10, 20, 30, 40]) await buffer.append(batch(size))
  t.same(buffer.after(0n, 64, 1000), { seqs: [1n, 2n, 3n, 4n], bytes: 100, full: false })
  t.same(buffer.after(1n, 2, 1000), { seqs: [2n, 3n], bytes: 50, full: true }, 'at most the count given, and full when more are ready')
  t.same(buffer.after(2n, 2, 1000), { seqs: [3n, 4n], bytes: 70, full: false }, 'not full when no more are ready')
  t.same(buffer.after(0n, 64, 35), { seqs: [1n, 2n], bytes: 30, full: true }, 'no more bytes than the cap, full when the next does not fit')
  t.same(buffer.after(3n, 64, 5), { seqs: [4n], bytes: 40, full: true }, 'the first alone even when it is larger')
  t.same(buffer.after(4n, 64, 1000), { seqs: [], bytes: 0, full: false })
  t.ok(buffer.ageMs(1n) >= 0 && buffer.ageMs(99n) === 0, 'ages of batches in the buffer, 0 for one that is not')
  await buffer.ack([{ seq: 1n, length: 10 }, { seq: 3n, length: 30 }, { seq: 3n, length: 30 }])
  t.equal(buffer.size, 60, 'two removed in one transaction; the repeated one counted once')
  t.equal(buffer.batchCount, 2)
  t.same(buffer.after(0n, 64, 1000).seqs, [2n, 4n])
  await buffer.close()
})

t.test('what is not acknowledged is there after a restart, and sequence numbers keep growing', async t => {
  const dir = tempDir('buffer')
  const first = new EventBuffer(dir)
  for (let i = 1; i <= 5; i++) await first.append(batch(i))
  await first.ack([{ seq: 5n, length: 5 }])
  await first.ack([{ seq: 1n, length: 1 }])
  await first.close()
  const second = new EventBuffer(dir)
  t.equal(second.batchCount, 3)
  t.equal(second.size, 2 + 3 + 4)
  t.equal(second.next(0n), 2n)
  t.equal(await second.append(batch(6)), 5n, 'one past the highest batch left')
  await second.close()
})

t.test('dead letters keep the batch and the reason, and are never overwritten', async t => {
  const dir = tempDir('buffer')
  const first = new EventBuffer(dir)
  await first.append(batch(1))
  await first.append(batch(2))
  await first.deadLetter(2n, 'io: NoSuchColumnFamilyException')
  t.equal(first.batchCount, 1)
  t.equal(first.size, 1)
  await first.ack([{ seq: 1n, length: 1 }])
  await first.close()
  const second = new EventBuffer(dir)
  t.equal(second.batchCount, 0)
  t.equal(await second.append(batch(3)), 3n, 'numbering continues past the dead letters')
  const dead = [...second.deadLetters()]
  t.equal(dead.length, 1)
  t.equal(dead[0].seq, 2n)
  t.equal(dead[0].reason, 'io: NoSuchColumnFamilyException')
  t.same(Buffer.from(dead[0].batch), batch(2))
  await second.close()
})

t.test('an emptied buffer whose file grew is replaced by a fresh one; one that holds anything is not', async t => {
  const MiB = 1024 * 1024
  const dir = tempDir('buffer')
  const buffer = new EventBuffer(dir)
  const seqs: bigint[] = []
  for (let i = 0; i < 40; i++) seqs.push(await buffer.append(Buffer.alloc(MiB, i)))
  const grown = buffer.fileBytes
  t.ok(grown >= 40 * MiB, `the file grew to ${(grown / MiB).toFixed(0)} MiB`)
  t.equal(await buffer.reset(MiB), 0, 'not while batches are left')
  for (const seq of seqs.slice(0, 39)) await buffer.ack([{ seq, length: MiB }])
  await buffer.deadLetter(seqs[39], 'io: NoSuchColumnFamilyException')
  t.equal(buffer.batchCount, 0)
  t.equal(await buffer.reset(MiB), 0, 'not while a dead letter is kept')
  t.ok(buffer.fileBytes >= grown, 'the file keeps its size')
  t.equal(await buffer.requeueDeadLetters(), 1)
  const requeued = buffer.next(0n) as bigint
  await buffer.ack([{ seq: requeued, length: MiB }])
  t.equal(await buffer.reset(1024 * MiB), 0, 'not below the size given')

  // Appends that arrive during the replacement wait for it, and sequence numbers go on.
  const before = buffer.fileBytes
  const [replaced, next] = await Promise.all([buffer.reset(MiB), buffer.append(batch(7))])
  t.equal(replaced, before, 'it says how large the file it replaced was')
  t.equal(next, requeued + 1n, 'sequence numbers go on after the replacement')
  t.ok(buffer.fileBytes < MiB, `the fresh file is small (${buffer.fileBytes} bytes)`)
  t.equal(buffer.next(0n), next)
  t.same(buffer.get(next), batch(7))
  t.equal(buffer.batchCount, 1)
  await buffer.close()
  const reopened = new EventBuffer(dir)
  t.equal(reopened.batchCount, 1, 'the fresh environment opens after a restart')
  await reopened.close()
})
