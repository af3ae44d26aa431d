// SIGKILL under load: after a restart, every event whose POST was answered 204 is in HBase.

import t from 'tap'
import { HBaseClient } from '../daemon/hbase/client'
import { scanPrefix } from '../daemon/hbase/reader'
import { userRowPrefix } from '../daemon/native'
import { flushed, startDaemon } from './fixtures/daemon'
import { client, freshTables, SALT_BUCKETS } from './fixtures/hbase'

const LOOPS = 8
const PER_POST = 5

// Both ways of serving: serving threads, and with server.threads = 1 the server in the main thread.
for (const [threads, label] of [[2, 'two serving threads'], [1, 'served in the main thread']] as const) {
  t.test(`every committed POST (answered 204) survives SIGKILL, ${label}`, async t => {
    const hbase = await freshTables(`crash_${threads}`)
    const first = await startDaemon({ hbase, server: { threads } })
    const acked = new Set<string>()
    let refused = 0
    let killed = false
    let enough: () => void = () => {}
    const reached = new Promise<void>(resolve => { enough = resolve })

    async function loop (id: number): Promise<void> {
      for (let n = 0; ; n++) {
        const events = Array.from({ length: PER_POST }, (_, j) => ({ uid: 'crash', a: 'x', d: `${id}-${n}-${j}` }))
        try {
          const res = await fetch(`${first.url}/e`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(events) })
          if (res.status === 204) {
            for (const e of events) acked.add(e.d)
            if (acked.size >= 2000) enough()
          } else refused++
        } catch {
          if (killed) return
          refused++
        }
      }
    }

    const loops = Array.from({ length: LOOPS }, async (_, i) => await loop(i))
    // Kill once a good number of POSTs have been answered 204 (committed), with the loops still sending.
    await reached
    killed = true
    await first.kill()
    await Promise.all(loops)
    t.ok(acked.size >= 2000, `${acked.size} events committed before SIGKILL`)
    t.equal(refused, 0, 'no POST was refused before the kill')

    const second = await startDaemon({ hbase, server: { threads } }, first.dataDir)
    t.teardown(async () => { await second.stop() })
    await flushed(second, 120000)

    const c: HBaseClient = await client()
    try {
      const rows = await scanPrefix(c, hbase.user_table as string, userRowPrefix('crash', SALT_BUCKETS), 1_000_000)
      const stored = new Set(rows.map(r => r.cells.d))
      const missing = [...acked].filter(d => !stored.has(d))
      t.same(missing, [], 'every committed event is in HBase')
    } finally {
      await c.close()
    }
  })
}
