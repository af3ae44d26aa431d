// Serving on the real parts: signals published through the real RabbitMQ and stored by the consumer in the real
// HBase, a generation trained on the real Spark, and `spoor recommend serve` as its own process. A user the model
// knows gets their group's items; a new signal is folded in before the next answer; a user known only from tracking
// is started from their tracked views, one with nothing from the popular items of their channel and country; a new
// generation is swapped in while requests go on; bad requests get their codes.

import { cpSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { publish, startCommand, startConsumer, type Consumer } from './fixtures/consumer'
import { flushed, startDaemon, tempDir, toml, until } from './fixtures/daemon'
import { freshTables, ZK_PORT } from './fixtures/hbase'
import { freshRecommend } from './fixtures/rabbitmq'
import { REPORTS, spoor } from './fixtures/reports'

const GROUPS = { a: ['a0', 'a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7'], b: ['b0', 'b1', 'b2', 'b3', 'b4', 'b5', 'b6', 'b7'] }

interface Answer {
  user?: string
  item?: string
  path?: string
  generation?: string
  popular?: { channel: string | null, country: string | null }
  tracked?: { items: number, events: number, uids: number }
  items: Array<{ item: string, score: number }>
  error?: { code: string, message: string }
}

let server: Consumer
let base: string
let dir: string
let sections: Record<string, Record<string, unknown>>
let signalCount = 0
const now = Date.now()

async function get (path: string): Promise<{ status: number, body: Answer }> {
  const res = await fetch(`${base}${path}`)
  return { status: res.status, body: await res.json() as Answer }
}

function signal (user: string, item: string, kind = 'like'): string {
  return JSON.stringify({ user, item, kind, ts: Date.now(), id: `${user}-${item}-${signalCount++}` })
}

const items = (a: Answer): string[] => a.items.map(i => i.item)

t.before(async () => {
  const { recommend, hbase: recommendHBase } = await freshRecommend('serve')
  const hbase = { ...recommendHBase, ...await freshTables('serve'), zookeeper_quorum: `127.0.0.1:${ZK_PORT}` }
  dir = tempDir('serve')
  sections = { recommend: { ...recommend, rank: 3, iterations: 15, reg_param: 0.1, alpha: 5, serve_port: 0, reload_ms: 200 }, hbase, reports: REPORTS }
  const consumer = await startConsumer(sections, tempDir('serve-consumer'))
  t.teardown(async () => { await consumer.stop() })

  // 24 users: 0–11 act on four items of group a each, 12–23 on four of group b.
  const lines: string[] = []
  for (let u = 0; u < 24; u++) {
    const group = u < 12 ? 'a' : 'b'
    for (const k of [0, 1, 3, 5]) lines.push(JSON.stringify({ user: `user-${u}`, item: GROUPS[group][(u + k) % 8], kind: 'like', ts: now - 3600000 + u, id: `s-${u}-${k}` }))
  }
  const published = await publish(consumer.configPath, lines.join('\n') + '\n')
  if (published.code !== 0) throw new Error(published.stderr)
  await consumer.logged('every signal stored', l => l.msg === 'batch acknowledged' && l.stored >= lines.length)

  // Tracking before training: visitors from the US on channel news viewed b0 most, then b1; from NL, a0.
  const daemon = await startDaemon({ hbase, server: { trusted_proxies: ['127.0.0.1'] } })
  t.teardown(async () => { await daemon.stop() })
  const track = async (events: Array<Record<string, string>>, address: string): Promise<void> => {
    const res = await fetch(`${daemon.url}/e`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-for': address }, body: JSON.stringify(events) })
    if (res.status !== 204) throw new Error(`tracking answered ${res.status}`)
  }
  await track(['us-1', 'us-2', 'us-3'].flatMap(uid => [{ uid, it: 'b0', ch: 'news', a: 'view' }, ...(uid !== 'us-3' ? [{ uid, it: 'b1', ch: 'news', a: 'view' }] : [])]), '8.8.8.8')
  await track([{ uid: 'nl-1', it: 'a0', ch: 'news', a: 'view' }], '2001:67c:2e8:22::c100:68b')
  await flushed(daemon)

  const configPath = join(dir, 'train.toml')
  writeFileSync(configPath, toml(sections, { data_dir: dir }))
  const trained = await spoor(['recommend', 'train', '--config', configPath])
  if (trained.code !== 0) throw new Error(trained.stderr)

  // After training: dave signs up, having browsed group b under his cookie; his login links it. He sends no signal.
  await track([{ uid: 'dev-dave', it: 'b2', a: 'view', lid: 'dave' }, ...['b3', 'b4', 'b2'].map(it => ({ uid: 'dev-dave', it, a: 'view' }))], '10.0.0.1')
  await flushed(daemon)

  server = await startCommand(['recommend', 'serve'], sections, dir, 'the server to serve a generation', l => l.msg === 'recommendations served' && l.generation !== null)
  base = `http://127.0.0.1:${server.logs.find(l => l.msg === 'recommendations served')!.port as number}`
  t.teardown(async () => { await server.stop() })
  await server.logged('the signal feed', l => l.msg === 'signal feed consuming')
})

t.test('a trained user gets their group\'s items, never one they have', async t => {
  const ready = await get('/ready')
  t.equal(ready.status, 200)
  t.match(ready.body, { ready: true, users: 28, items: 16, feed: true }, '24 signalling users and 4 visitors known from tracking')
  for (const u of [0, 5, 12, 20]) {
    const group = u < 12 ? 'a' : 'b'
    const own = [0, 1, 3, 5].map(k => GROUPS[group][(u + k) % 8])
    const { status, body } = await get(`/recommend/user-${u}?n=3`)
    t.equal(status, 200)
    t.equal(body.path, 'model')
    t.equal(body.items.length, 3)
    t.ok(items(body).every(i => i.startsWith(group) && !own.includes(i)), `user-${u}: ${items(body).join(', ')}`)
    t.ok(body.items[0].score >= body.items[2].score, 'best first')
  }
  t.equal((await get('/recommend/user-0')).body.items.length, 10, 'n defaults to 10')
  t.equal((await get('/recommend/user-0?n=20')).body.items.length, 12, 'all 12 unseen items when n is larger')
})

t.test('similar items and the reason for a recommendation', async t => {
  const similar = await get('/similar/a0?n=3')
  t.equal(similar.status, 200)
  t.ok(items(similar.body).every(i => i.startsWith('a') && i !== 'a0'), items(similar.body).join(', '))
  const rec = (await get('/recommend/user-0?n=1')).body.items[0].item
  const because = await get(`/because/user-0/${rec}`)
  t.equal(because.status, 200)
  const own = [0, 1, 3, 5].map(k => GROUPS.a[k % 8])
  t.equal(because.body.items.length, 3, 'three of the user\'s items by default')
  t.ok(items(because.body).every(i => own.includes(i)), `from user-0's own items: ${items(because.body).join(', ')}`)
})

t.test('a new signal is folded in before the next answer', async t => {
  // erin is new to the model: her first signals make her a user of group b at once.
  const before = await get('/recommend/erin?n=3')
  t.not(before.body.path, 'model', 'erin is not in the model yet')
  const sent = Date.now()
  const published = await publish(join(dir, 'spoor.toml'), ['b0', 'b1', 'b2'].map(i => signal('erin', i)).join('\n') + '\n')
  t.equal(published.code, 0, published.stderr)
  let answer: Answer | undefined
  await until('erin to be folded in', async () => {
    answer = (await get('/recommend/erin?n=3')).body
    return answer.path === 'model'
  }, 30000, 5)
  t.comment(`publish (a CLI process) to a folded answer: ${Date.now() - sent} ms`)
  t.ok(items(answer!).every(i => i.startsWith('b') && !['b0', 'b1', 'b2'].includes(i)), `erin: ${items(answer!).join(', ')}`)

  // user-0 of group a likes many b items: their answer changes with the signals.
  const a = items((await get('/recommend/user-0?n=3')).body)
  t.equal(published.code, 0)
  const more = await publish(join(dir, 'spoor.toml'), ['b0', 'b1', 'b2', 'b3', 'b4', 'b5'].flatMap(i => [signal('user-0', i, 'best'), signal('user-0', i, 'best')]).join('\n') + '\n')
  t.equal(more.code, 0, more.stderr)
  await until('user-0 to move to group b', async () => {
    const now = items((await get('/recommend/user-0?n=3')).body)
    return now.join() !== a.join() && now.some(i => i.startsWith('b'))
  }, 30000, 5)
  t.pass('user-0\'s answer moved towards group b')
})

t.test('cold start: tracking history, then the popular items of the channel and country', async t => {
  const dave = await get('/recommend/dave?n=2')
  t.equal(dave.status, 200)
  t.equal(dave.body.path, 'tracking', 'dave is started from what he browsed before he signed up')
  t.same(dave.body.tracked, { items: 3, events: 4, uids: 1 })
  t.ok(items(dave.body).every(i => i.startsWith('b') && !['b2', 'b3', 'b4'].includes(i)), `dave: ${items(dave.body).join(', ')}`)

  const us = await get('/recommend/nobody?n=2&channel=news&country=US')
  t.match(us.body, { path: 'popular', popular: { channel: 'news', country: 'US' } })
  t.same(us.body.items, [{ item: 'b0', score: 3 }, { item: 'b1', score: 2 }], 'the most viewed by people from the US on news, with their people')
  const nl = await get('/recommend/nobody?n=2&country=NL')
  t.match(nl.body, { path: 'popular', popular: { channel: null, country: 'NL' } })
  t.same(items(nl.body), ['a0'])
  const elsewhere = await get('/recommend/nobody?n=2&channel=sport&country=FR')
  t.match(elsewhere.body, { path: 'popular', popular: { channel: null, country: null } }, 'no list for them: everyone\'s')
  t.equal(elsewhere.body.items.length, 2)
})

t.test('a new generation is swapped in while answers go on, with the signals after its cut-off folded in again', async t => {
  const old = (await get('/ready')).body.generation!
  let answered = 0
  let failures = 0
  let stop = false
  const load = (async () => {
    while (!stop) {
      const r = await get('/recommend/erin?n=3')
      if (r.status === 200 && r.body.path === 'model') answered++
      else failures++
    }
  })()
  // A copy of the generation under a later name: the same cut-off, so erin's signals must be folded in again.
  const name = old.replace(/\d{3}Z$/, m => String(Number(m.slice(0, 3)) + 1).padStart(3, '0') + 'Z')
  try {
    cpSync(join(dir, 'models', old), join(dir, 'models', name), { recursive: true })
    await server.logged('the new generation', l => l.msg === 'model generation served' && l.generation === name)
    await until('answers from it', async () => (await get('/ready')).body.generation === name)
  } finally {
    stop = true
    await load
  }
  t.equal(failures, 0, `every answer during the swap was erin's own (${answered} answers)`)
  const after = await get('/recommend/erin?n=3')
  t.match(after.body, { path: 'model', generation: name })
  t.ok(items(after.body).every(i => i.startsWith('b')), 'erin\'s signals were folded into the new generation')
})

t.test('an erased person\'s vector leaves the model served, and a generation trained before does not bring it back', async t => {
  t.equal((await get('/recommend/erin?n=3')).body.path, 'model')
  const erased = await spoor(['erase', '--user', 'l:erin', '--config', join(dir, 'spoor.toml')])
  t.equal(erased.code, 0, erased.stderr)
  t.match(erased.stdout, /\n +3 +signal rows /, 'her three signals are erased')
  t.match(erased.stdout, /\nrecommendation models: listed in \S+erasures\.jsonl; servers drop the vectors within 200 ms\n/)
  await server.logged('erin to be dropped', l => l.msg === 'erased people dropped from the model served' && l.dropped?.includes('l:erin'))
  t.equal((await get('/recommend/erin?n=3')).body.path, 'popular', 'erin is a stranger again')
  t.equal((await get('/because/erin/b3')).body.error?.code, 'SPOOR_E_RECOMMEND_UNKNOWN_USER')

  const served = (await get('/ready')).body.generation!
  const name = served.replace(/\d{3}Z$/, m => String(Number(m.slice(0, 3)) + 1).padStart(3, '0') + 'Z')
  cpSync(join(dir, 'models', served), join(dir, 'models', name), { recursive: true })
  await server.logged('the generation trained before the erasure', l => l.msg === 'model generation served' && l.generation === name)
  t.equal((await get('/recommend/erin?n=3')).body.path, 'popular', 'she is not in it either')
})

t.test('bad requests get their codes, and the server goes on', async t => {
  const cases: Array<[string, number, string]> = [
    ['/recommend/user-0?n=0', 400, 'SPOOR_E_RECOMMEND_BAD_N'],
    ['/recommend/user-0?n=abc', 400, 'SPOOR_E_RECOMMEND_BAD_N'],
    ['/recommend/user-0?n=101', 400, 'SPOOR_E_RECOMMEND_BAD_N'],
    ['/recommend/%E0%A4%A', 400, 'SPOOR_E_RECOMMEND_BAD_ID'],
    [`/recommend/${'x'.repeat(300)}`, 400, 'SPOOR_E_RECOMMEND_BAD_ID'],
    ['/recommend/a%0Ab', 400, 'SPOOR_E_RECOMMEND_BAD_ID'],
    ['/similar/nosuch', 404, 'SPOOR_E_RECOMMEND_UNKNOWN_ITEM'],
    ['/because/nobody/a0', 404, 'SPOOR_E_RECOMMEND_UNKNOWN_USER'],
    ['/because/user-0/nosuch', 404, 'SPOOR_E_RECOMMEND_UNKNOWN_ITEM'],
    ['/nosuch', 404, 'SPOOR_E_NOT_FOUND']
  ]
  for (const [path, status, code] of cases) {
    const r = await get(path)
    t.equal(r.status, status, path)
    t.equal(r.body.error?.code, code, path)
  }
  const ok = await get('/recommend/user-1?n=1')
  t.equal(ok.status, 200, 'still serving')
  const metrics = await (await fetch(`${base}/metrics`)).text()
  t.match(metrics, /spoor_recommend_answers_total\{path="tracking"\} [1-9]/)
  t.match(metrics, /spoor_recommend_requests_total\{route="recommend",status="400"\} 6/)
  t.match(metrics, /spoor_recommend_signals_folded_total [1-9]/)
})

t.test('without a generation it answers 503 until one is trained', async t => {
  const empty = tempDir('serve-empty')
  const waiting = await startCommand(['recommend', 'serve'], sections, empty, 'the server to listen', l => l.msg === 'recommendations served')
  t.teardown(async () => { await waiting.stop() })
  const port = waiting.logs.find(l => l.msg === 'recommendations served')!.port as number
  const ready = await fetch(`http://127.0.0.1:${port}/ready`)
  t.equal(ready.status, 503)
  const rec = await fetch(`http://127.0.0.1:${port}/recommend/user-0`)
  t.equal(rec.status, 503)
  t.equal(((await rec.json()) as Answer).error?.code, 'SPOOR_E_RECOMMEND_NOT_READY')
  t.equal(await waiting.stop(), 0, 'SIGTERM ends it cleanly')
})
