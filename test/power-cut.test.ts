// A power cut under load: the buffer's file system loses every write not yet synced, at a random moment while POSTs
// flow, and after a restart on what survived every event answered 204 is in HBase exactly once, with the default
// buffer.sync ("always"); with "never" a power cut loses POSTs already answered. The buffer is on
// power-cut-fs (test/fixtures/power-cut-fs.py), a FUSE layer mounted by the test (the suite runs as root, as .ci/run
// does).

import { execFileSync } from 'node:child_process'
import { closeSync, fdatasyncSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { scanPrefix } from '../daemon/hbase/reader'
import { userRowPrefix } from '../daemon/native'
import type { BufferSync } from '../daemon/pipeline/buffer'
import { flushed, startDaemon, tempDir, type Daemon } from './fixtures/daemon'
import { client, countRows, freshTables, SALT_BUCKETS, THRIFT_PORT } from './fixtures/hbase'
import { PowerCutFs } from './fixtures/power-cut-fs'
import { TcpGate } from './fixtures/tcp-gate'

const LOOPS = 8
const PER_POST = 5
/** How long each sync of the buffer's disk takes, as a disk's flush does; commits made meanwhile stay unsynced. */
const SYNC_MS = 20

t.test('power-cut-fs keeps what was synced and drops the rest', async t => {
  const durable = tempDir('power-cut-disk')
  const fs = await PowerCutFs.mount(durable, tempDir('power-cut-mount'), 0)
  t.teardown(async () => { await fs.unmount() })
  const at = (dir: string, name: string): string => join(dir, name)

  const fd = openSync(at(fs.mountpoint, 'written'), 'w')
  writeSync(fd, 'synced')
  fsyncSync(fd)
  writeSync(fd, '+held')
  closeSync(fd)
  const dfd = openSync(at(fs.mountpoint, 'datasynced'), 'w')
  writeSync(dfd, 'datasynced')
  fdatasyncSync(dfd)
  closeSync(dfd)
  // A shared mmap through the page cache: the first page msync'ed, the second only written.
  execFileSync('/usr/bin/python3', ['-c', [
    'import mmap, os, sys',
    'fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)',
    'os.ftruncate(fd, 8192)',
    'm = mmap.mmap(fd, 8192)',
    'm[0:6] = b"msync\'d"[:6]',
    'm.flush(0, 4096)',
    'm[4096:4100] = b"held"',
    'm.close()',
    'os.close(fd)'
  ].join('\n'), at(fs.mountpoint, 'mapped')])

  t.equal(readFileSync(at(fs.mountpoint, 'written'), 'utf8'), 'synced+held', 'a held write reads back before the cut')
  t.equal(readFileSync(at(durable, 'written'), 'utf8'), 'synced', 'only the synced write is on the disk')
  t.equal((await fs.crash(0)).files > 0, true, 'the cut drops held writes')
  await fs.unmount()
  t.equal(readFileSync(at(durable, 'written'), 'utf8'), 'synced', 'after the cut: what fsync synced')
  t.equal(readFileSync(at(durable, 'datasynced'), 'utf8'), 'datasynced', 'and what fdatasync synced')
  const mapped = readFileSync(at(durable, 'mapped'))
  t.equal(mapped.subarray(0, 6).toString(), 'msync\'', 'a page written through mmap and msync\'ed survives')
  t.same(mapped.subarray(4096, 4100), Buffer.alloc(4), 'one written through mmap without msync is lost')
})

interface Outcome {
  acked: number
  missing: string[]
  duplicated: string[]
}

/**
 * POSTs from concurrent loops, a power cut once a random number of events is answered 204, a restart on what survived.
 * With `flushing`, HBase is reachable during the load, so batches are also flushed and deleted from the buffer
 * (acknowledged) while the power is cut.
 */
async function powerCut (t: Test, sync: BufferSync, flushing = false): Promise<Outcome> {
  const fs = await PowerCutFs.mount(tempDir('power-cut-disk'), tempDir('power-cut-mount'), SYNC_MS)
  // The collector on the mount goes first: the layer exits once nothing has a file open on it.
  let first: Daemon | undefined
  t.teardown(async () => {
    await first?.kill()
    await fs.unmount()
  })
  const hbase = await freshTables(`power_cut_${sync}`)
  // Unless flushing, HBase is cut off until the restart, so that the buffer holds the only copy of every event: one
  // flushed to HBase before the cut would hide the loss of its commit.
  const gate = await TcpGate.open({ host: '127.0.0.1', port: THRIFT_PORT })
  t.teardown(async () => await gate.close())
  if (!flushing) gate.down()
  const config = {
    hbase: { ...hbase, port: gate.port },
    buffer: { sync },
    flush: { retry_min_ms: 50, retry_max_ms: 200, timeout_ms: 2000, probe_interval_ms: 100 }
  }
  const uid = `power-${sync}`
  const target = 500 + Math.floor(Math.random() * 2000)
  first = await startDaemon(config, fs.mountpoint)
  const url = first.url

  const acked = new Set<string>()
  let refused = 0
  let cut = false
  let enough: () => void = () => {}
  const reached = new Promise<void>(resolve => { enough = resolve })
  async function loop (id: number): Promise<void> {
    for (let n = 0; ; n++) {
      const events = Array.from({ length: PER_POST }, (_, j) => ({ uid, a: 'x', d: `${id}-${n}-${j}` }))
      try {
        const res = await fetch(`${url}/e`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(events) })
        // Every 204 here was sent before the cut: the collector is killed at the cut.
        if (res.status === 204) {
          for (const e of events) acked.add(e.d)
          if (acked.size >= target) enough()
        } else refused++
      } catch {
        if (cut) return
        refused++
      }
    }
  }
  const loops = Array.from({ length: LOOPS }, async (_, i) => await loop(i))
  await reached
  cut = true
  const crash = await fs.crash(first.pid)
  await first.kill()
  await Promise.all(loops)
  await fs.unmount()
  t.equal(refused, 0, 'no POST was refused before the cut')
  t.comment(`buffer.sync=${sync}${flushing ? ', flushing' : ''}: cut after ${acked.size} events answered 204 (target ${target}); ${crash.pages} pages of ${crash.files} files not synced were lost`)

  // The restart after a power cut is after a reboot: a new boot id, which tells lmdb-js to open at the last commit
  // it synced. LMDB_RESTORE=safe makes it do that on this boot.
  gate.up()
  const second = await startDaemon(config, fs.durableDir, { LMDB_RESTORE: 'safe' })
  t.teardown(async () => { await second.stop() })
  await flushed(second, 120000)
  const left = second.logs.find(l => l.msg === 'flushing batches left in the buffer by the last run')?.batches ?? 0
  t.comment(`the restart found ${String(left)} batches in the buffer`)
  const c = await client()
  let stored: string[]
  try {
    stored = (await scanPrefix(c, hbase.user_table as string, userRowPrefix(uid, SALT_BUCKETS), 1_000_000)).map(r => r.cells.d)
  } finally {
    await c.close()
  }
  t.equal(await countRows(hbase.time_table as string), stored.length, 'both tables hold the same events')
  const seen = new Set<string>()
  const duplicated = stored.filter(d => seen.has(d) || (seen.add(d), false))
  const missing = [...acked].filter(d => !seen.has(d))
  t.comment(`buffer.sync=${sync}${flushing ? ', flushing' : ''}: ${stored.length} events in HBase, ${missing.length} answered 204 and lost`)
  return { acked: acked.size, missing, duplicated }
}

t.test('with buffer.sync = "always" (the default), every event answered 204 survives a power cut, once', async t => {
  for (let round = 1; round <= 2; round++) {
    await t.test(`round ${round}`, async t => {
      const { acked, missing, duplicated } = await powerCut(t, 'always')
      t.ok(acked >= 500)
      t.same(missing, [], 'every event answered 204 is in HBase')
      t.same(duplicated, [], 'and none twice')
    })
  }
})

t.test('with buffer.sync = "always", a power cut while batches are flushed and acknowledged loses nothing and stores nothing twice', async t => {
  const { acked, missing, duplicated } = await powerCut(t, 'always', true)
  t.ok(acked >= 500)
  t.same(missing, [], 'every event answered 204 is in HBase')
  t.same(duplicated, [], 'and none twice, though the batches whose deletes were lost are flushed again')
})

t.test('with buffer.sync = "never", a power cut loses events already answered 204', async t => {
  const { acked, missing, duplicated } = await powerCut(t, 'never')
  t.ok(missing.length > 0, `${missing.length} of ${acked} events answered 204 were lost with their unsynced commits`)
  t.same(duplicated, [], 'what survived is in HBase once')
})
