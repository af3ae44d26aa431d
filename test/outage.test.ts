// HBase goes down under load: the collector keeps answering, its memory stays flat while the buffer grows on disk,
// POST answers 503 over the high-water mark, and after HBase returns every accepted event arrives exactly once.

import { readFileSync } from 'node:fs'
import autocannon from 'autocannon'
import t from 'tap'
import { flushed, startDaemon, until } from './fixtures/daemon'
import { countRows, freshTables, suiteHBase } from './fixtures/hbase'

/** Anonymous resident memory of a process: its heaps, without the LMDB file pages it maps. */
function rssAnon (pid: number): number {
  return rss(pid, 'RssAnon')
}

function rss (pid: number, field: 'RssAnon' | 'RssFile' | 'VmRSS'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return Number(m?.[1]) * 1024
}

async function load (url: string, requests: number): Promise<autocannon.Result> {
  return await autocannon({ url, connections: 16, amount: requests })
}

t.test('HBase outage under load', async t => {
  const hbase = await freshTables('outage')
  const MiB = 1024 * 1024
  const daemon = await startDaemon({
    hbase,
    buffer: { high_water_bytes: 4 * MiB, max_bytes: 1024 * MiB },
    flush: { retry_min_ms: 50, retry_max_ms: 1000, timeout_ms: 3000 }
  })
  const local = suiteHBase()
  t.teardown(async () => {
    await local.start()
    await daemon.stop()
  })
  const pixel = `${daemon.url}/p.gif?uid=outage&a=view&it=q1&ch=db&url=https%3A%2F%2Fsite.example%2Fq%2F1`

  // Warm up with HBase up, so the heaps have reached their working size.
  const warm = await load(pixel, 20000)
  t.equal(warm.non2xx, 0)
  await flushed(daemon)

  await local.stop()
  const fileBefore = rss(daemon.pid, 'RssFile')
  const totalBefore = rss(daemon.pid, 'VmRSS')
  const rssBefore = rssAnon(daemon.pid)
  const bufferBefore = (await daemon.health()).buffer.bytes
  const down = await load(pixel, 300000)
  t.equal(down.errors, 0, 'no connection errors while HBase is down')
  t.equal(down.non2xx, 0, 'every pixel answered 200 while HBase is down')
  t.equal(down.requests.total, 300000, 'every pixel was answered during the outage')

  const health = await daemon.health()
  const rssAfter = rssAnon(daemon.pid)
  const bufferGrowth = health.buffer.bytes - bufferBefore
  const rssGrowth = rssAfter - rssBefore
  t.comment(`buffer grew ${(bufferGrowth / MiB).toFixed(1)} MiB on disk; anonymous RSS ${(rssBefore / MiB).toFixed(1)} → ${(rssAfter / MiB).toFixed(1)} MiB`)
  t.ok(bufferGrowth > 4 * MiB, 'the buffer grew on disk')
  t.ok(rssGrowth < bufferGrowth / 2, 'memory grew by less than half of what the buffer took on disk')
  t.ok(rssGrowth < 32 * MiB, 'memory stayed within 32 MiB of where it was')

  t.equal(health.status, 'over_high_water')
  t.equal((await fetch(`${daemon.url}/healthz`)).status, 503, 'health fails over the high-water mark')
  const refused = await fetch(`${daemon.url}/e`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '[{"uid":"outage","a":"x"}]' })
  t.equal(refused.status, 503, 'POST is refused over the high-water mark')
  t.equal(refused.headers.get('retry-after'), '5')
  t.equal(((await refused.json()) as { error: { code: string } }).error.code, 'SPOOR_E_BUFFER_FULL')
  const payload = { schema: 'iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4', data: [{ e: 'pv', duid: 'outage', eid: 'sp-1' }] }
  const snowplow = await fetch(`${daemon.url}/com.snowplowanalytics.snowplow/tp2`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(payload) })
  t.equal(snowplow.status, 503, 'so is a Snowplow POST')
  t.equal(snowplow.headers.get('retry-after'), '5')
  t.equal(((await snowplow.json()) as { error: { code: string } }).error.code, 'SPOOR_E_BUFFER_FULL')

  await local.start()
  const done = await flushed(daemon, 300000)
  t.ok(done.metrics.flushRetries > 0, 'flushes failed and were retried during the outage')
  const warnings = daemon.logs.filter(l => l.code === 'SPOOR_E_FLUSH_RETRY').length
  t.ok(warnings <= 2 + done.metrics.flushRetries / 10 && warnings < 20, `${warnings} retry warnings for ${done.metrics.flushRetries} retries: the log is rate-limited`)
  t.ok(daemon.logs.some(l => l.msg === 'flush recovered'), 'the recovery is logged')
  t.equal(done.metrics.batchesDeadLettered, 0, 'nothing was dead-lettered')
  const accepted = done.metrics.eventsAccepted
  t.equal(accepted, 320000, 'every answered pixel was accepted')
  t.equal(await countRows(hbase.user_table as string), accepted, 'every accepted event arrived in the by-user table, none twice')
  t.equal(await countRows(hbase.time_table as string), accepted, 'and in the by-time table')

  // The drained backlog's file is replaced by a fresh one, which gives back its disk and the file pages the flush
  // read into the process's memory.
  await until('the log line of the replacement', () => daemon.logs.some(l => l.msg === 'the buffer is empty again; its file was replaced by a fresh one'))
  t.ok(daemon.logs.some(l => l.msg === 'the buffer is empty again; its file was replaced by a fresh one' && l.freedBytes > 32 * MiB), 'the emptied buffer is replaced')
  const fileAfter = rss(daemon.pid, 'RssFile')
  const totalAfter = rss(daemon.pid, 'VmRSS')
  t.comment(`RSS ${(totalBefore / MiB).toFixed(0)} MiB before the outage, ${(totalAfter / MiB).toFixed(0)} MiB after the drain (file pages ${(fileBefore / MiB).toFixed(0)} → ${(fileAfter / MiB).toFixed(0)} MiB)`)
  t.ok(fileAfter < fileBefore + 8 * MiB, 'the mapped file pages are back to where they were')
  t.ok(totalAfter < totalBefore * 1.2, 'the whole RSS is back within 20% of where it was before the outage')
})
