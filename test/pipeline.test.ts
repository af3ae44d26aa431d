// The collector end to end on the real HBase: pixels and POST batches become rows in both tables, read back by the CLI.

import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import t from 'tap'
import { GIF } from '../daemon/http/intake'
import { CLI, flushed, startDaemon } from './fixtures/daemon'
import { countRows, freshTables } from './fixtures/hbase'

const run = promisify(execFile)
const N = 60
const M = 40

// Both ways of serving: serving threads, and with server.threads = 1 the server in the main thread.
for (const [threads, label] of [[2, 'two serving threads'], [1, 'served in the main thread']] as const) {
  t.test(`N pixels and M posted events become N+M rows in each table, ${label}`, async t => {
    const hbase = await freshTables(`pipeline_${threads}`)
    const daemon = await startDaemon({ hbase, server: { threads } })
    t.teardown(async () => { await daemon.stop() })
    const from = Date.now()

    for (let i = 0; i < N; i++) {
      const q = new URLSearchParams({ uid: 'alice', eid: `p${i}`, sid: 's1', p: 'site-a', a: 'view', it: `q${i % 7}`, ch: 'databases', ct: String(1764000000000 + i), d: `{"i":${i}}`, ref: 'https://search.example/' })
      const res = await fetch(`${daemon.url}/p.gif?${q}`, { headers: { 'user-agent': 'spoor-test/1.0', referer: `https://site-a.example/q/${i}` } })
      t.equal(res.status, 200)
      t.same(Buffer.from(await res.arrayBuffer()), GIF)
      t.equal(GIF.length, 43)
      t.equal(res.headers.get('cache-control'), 'no-store, no-cache, must-revalidate, max-age=0')
    }
    for (let b = 0; b < M / 10; b++) {
      const events = Array.from({ length: 10 }, (_, j) => ({ uid: 'alice', eid: `e${b * 10 + j}`, sid: 's1', p: 'app-b', a: 'like', it: `q${j}`, ch: 'databases', d: { n: j } }))
      const res = await fetch(`${daemon.url}/e`, { method: 'POST', headers: { 'content-type': 'application/json', 'user-agent': 'spoor-app/2.0' }, body: JSON.stringify(events) })
      t.equal(res.status, 204)
    }

    const health = await flushed(daemon)
    const to = Date.now()
    t.equal(health.metrics.eventsAccepted, N + M)
    t.equal(health.metrics.eventsDelivered, N + M)
    t.equal(await countRows(hbase.user_table as string), N + M)
    t.equal(await countRows(hbase.time_table as string), N + M)

    const args = ['--config', daemon.configPath, '--json', '--limit', '1000']
    const user = (await run(process.execPath, [CLI, 'user', 'alice', ...args])).stdout.trim().split('\n').map(l => JSON.parse(l))
    t.equal(user.length, N + M, 'spoor user reads every event back')
    t.ok(user.every((e, i) => i === 0 || e.ts <= user[i - 1].ts), 'newest first')

    const pixel = user.find(e => e.d === '{"i":7}')
    t.match(pixel, { uid: 'alice', sid: 's1', p: 'site-a', a: 'view', it: 'q0', ch: 'databases', ct: '1764000000007', url: 'https://site-a.example/q/7', ref: 'https://search.example/', ua: 'spoor-test/1.0', ip: '127.0.0.0' })
    t.match(pixel.id, /^[0-9a-f]{16}$/)
    t.ok(pixel.ts >= from && pixel.ts <= to, 'the cell timestamp is the server time')
    const posted = user.find(e => e.d === '{"n":3}' && e.p === 'app-b')
    t.match(posted, { uid: 'alice', a: 'like', it: 'q3', ua: 'spoor-app/2.0', ip: '127.0.0.0' })
    t.equal(new Set(user.map(e => e.id)).size, N + M, 'every event has its own id')

    const range = (await run(process.execPath, [CLI, 'range', '--from', String(from), '--to', String(to), ...args])).stdout.trim().split('\n').map(l => JSON.parse(l))
    t.equal(range.length, N + M, 'spoor range reads every event back')
    t.ok(range.every((e, i) => i === 0 || e.ts <= range[i - 1].ts), 'newest first across buckets')
    const half = user[Math.floor(user.length / 2)].ts
    const newer = (await run(process.execPath, [CLI, 'range', '--from', String(half), '--to', String(to), ...args])).stdout.trim().split('\n').map(l => JSON.parse(l))
    t.equal(newer.length, user.filter(e => e.ts >= half).length, 'a narrower range returns just its events')

    const text = (await run(process.execPath, [CLI, 'user', 'alice', '--config', daemon.configPath, '--limit', '2'])).stdout
    t.match(text, /^\d{4}-\d\d-\d\dT.*Z {2}alice {2}(view|like) /m)
    t.match(text, /\(2 events\)/)

    t.equal(await daemon.stop(), 0, 'SIGTERM drains and exits 0')
  })
}

t.test('a new visitor gets a uid cookie, and it sticks', async t => {
  const hbase = await freshTables('cookie')
  const daemon = await startDaemon({ hbase })
  t.teardown(async () => { await daemon.stop() })
  const first = await fetch(`${daemon.url}/p.gif?a=page`)
  const cookie = first.headers.get('set-cookie') ?? ''
  t.match(cookie, /^sp_uid=[0-9a-f]{32}; Max-Age=34128000; Path=\/; SameSite=Lax; HttpOnly$/)
  const uid = cookie.slice(7, 39)
  const second = await fetch(`${daemon.url}/p.gif?a=page`, { headers: { cookie: `sp_uid=${uid}` } })
  t.equal(second.headers.get('set-cookie'), null, 'a known visitor gets no new cookie')
  const posted = await fetch(`${daemon.url}/e`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '[{"a":"x"}]' })
  t.match(posted.headers.get('set-cookie'), /^sp_uid=[0-9a-f]{32};/, 'POST mints one too')
  await flushed(daemon)
  const user = (await run(process.execPath, [CLI, 'user', uid, '--config', daemon.configPath, '--json'])).stdout.trim().split('\n').map(l => JSON.parse(l))
  t.equal(user.length, 2)
  t.ok(user.every(e => e.uid === uid))
})

t.test('CORS preflight and credentials', async t => {
  const hbase = await freshTables('cors')
  const daemon = await startDaemon({ hbase, server: { cors_origins: ['https://site-a.example'] } })
  t.teardown(async () => { await daemon.stop() })
  const pre = await fetch(`${daemon.url}/e`, { method: 'OPTIONS', headers: { origin: 'https://site-a.example', 'access-control-request-method': 'POST' } })
  t.equal(pre.status, 204)
  t.equal(pre.headers.get('access-control-allow-origin'), 'https://site-a.example')
  t.equal(pre.headers.get('access-control-allow-credentials'), 'true')
  const other = await fetch(`${daemon.url}/e`, { method: 'OPTIONS', headers: { origin: 'https://evil.example' } })
  t.equal(other.headers.get('access-control-allow-origin'), null)
  const posted = await fetch(`${daemon.url}/e`, { method: 'POST', headers: { origin: 'https://site-a.example', 'content-type': 'text/plain' }, body: '[{"uid":"c","a":"x"}]' })
  t.equal(posted.status, 204)
  t.equal(posted.headers.get('access-control-allow-origin'), 'https://site-a.example')
  const refused = await fetch(`${daemon.url}/e`, { method: 'POST', headers: { origin: 'https://site-a.example', 'content-type': 'application/xml' }, body: '<x/>' })
  t.equal(refused.status, 415, 'an error keeps its status when CORS headers are added')
  t.equal(refused.headers.get('access-control-allow-origin'), 'https://site-a.example')
})
