// Snowplow's node tracker sending to a real collector by POST and GET, read back from HBase; and the Snowplow routes' bad input.

import { buildPageView, buildSelfDescribingEvent, buildStructEvent, newTracker, type Payload, type Tracker } from '@snowplow/node-tracker'
import t from 'tap'
import { errors } from '../daemon/errors'
import { HBaseClient } from '../daemon/hbase/client'
import { scanPrefix, scanTimeRange, type Row } from '../daemon/hbase/reader'
import { userRowPrefix } from '../daemon/native'
import { TP2_PATH } from '../daemon/http/snowplow-routes'
import { flushed, startDaemon, until, type Daemon } from './fixtures/daemon'
import { countRows, freshTables, SALT_BUCKETS, THRIFT_PORT } from './fixtures/hbase'
import { get, post, raw } from './fixtures/http'
import { eventId, uid16 } from './reference/encoder'

const PAYLOAD = 'iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4'
const PAGE_CONTEXT = { schema: 'iglu:com.acme/page_kind/jsonschema/1-0-0', data: { kind: 'article' } }
const CLICK = { schema: 'iglu:com.acme/button_click/jsonschema/1-0-0', data: { id: 'buy', n: 2 } }

let hbase: Record<string, unknown>
let daemon: Daemon
const started = Date.now()

t.before(async () => {
  hbase = await freshTables('snowplow')
  daemon = await startDaemon({ hbase })
})
t.teardown(async () => { await daemon?.stop() })

/** The statuses the trackers' events were answered with. */
const answered: number[] = []

/** The statuses of the next `n` events sent: track() hands the event to the emitter asynchronously, so flush() alone may find none. */
async function answers (sp: Tracker, n: number): Promise<number[]> {
  await sp.flush()
  await until(`${n} events answered`, () => answered.length >= n, 10000, 20)
  return answered.splice(0)
}

function tracker (appId: string, eventMethod: 'post' | 'get', encodeBase64: boolean): Tracker {
  return newTracker({ namespace: 'sp', appId, encodeBase64 }, {
    endpoint: '127.0.0.1',
    protocol: 'http',
    port: daemon.port,
    eventMethod,
    // One status per event: a POST may carry several.
    onRequestSuccess: (batch, res) => answered.push(...batch.map(() => res.status)),
    onRequestFailure: (failure, res) => answered.push(...failure.events.map(() => res?.status ?? -1))
  })
}

async function rowsOf (uid: string): Promise<Row[]> {
  return await HBaseClient.using({ host: '127.0.0.1', port: THRIFT_PORT }, async c =>
    await scanPrefix(c, hbase.user_table as string, userRowPrefix(uid, SALT_BUCKETS), 100))
}

/** The stored row of the event the tracker built as `payload`, found by the id its eid gives. */
function rowOf (rows: Row[], uid: string, payload: Payload | undefined): Record<string, string> {
  const id = eventId(uid16(uid), String(payload?.eid)).toString('hex')
  const row = rows.find(r => r.cells.id === id)
  if (row === undefined) throw new Error(`no row with id ${id} (eid ${String(payload?.eid)})`)
  return row.cells
}

t.test('the node tracker by POST, base64 on', async t => {
  const sp = tracker('node-post', 'post', true)
  sp.setUserId('zoe@example')
  sp.setDomainUserId('dom-1')
  sp.setNetworkUserId('net-1')
  const pv = sp.track(buildPageView({ pageUrl: 'https://a.test/article', pageTitle: 'An article', referrer: 'https://search.test/' }), [PAGE_CONTEXT])
  const se = sp.track(buildStructEvent({ category: 'video', action: 'play', label: 'intro.mp4', property: 'hd', value: 12.5 }))
  const ue = sp.track(buildSelfDescribingEvent({ event: CLICK }), [PAGE_CONTEXT])
  t.same(await answers(sp, 3), [200, 200, 200], 'every event answered 200')
  await flushed(daemon)

  const rows = await rowsOf('net-1')
  t.equal(rows.length, 3, 'the network user id is the uid')
  const page = rowOf(rows, 'net-1', pv)
  t.match(page, { uid: 'net-1', lid: 'zoe@example', p: 'node-post', url: 'https://a.test/article', ref: 'https://search.test/', a: 'page', ct: String(pv?.dtm) })
  const pd = JSON.parse(page.d)
  t.match(pd, { e: 'pv', platform: 'srv', page: 'An article', tna: 'sp', contexts: [PAGE_CONTEXT] })
  t.match(pd.tv, /^node-/)
  t.match(rowOf(rows, 'net-1', se), { a: 'play', ch: 'video', it: 'intro.mp4' })
  t.same(JSON.parse(rowOf(rows, 'net-1', se).d).se, { category: 'video', action: 'play', label: 'intro.mp4', property: 'hd', value: '12.5' })
  const click = rowOf(rows, 'net-1', ue)
  t.equal(click.a, 'com.acme/button_click')
  t.match(JSON.parse(click.d), { e: 'ue', ue: CLICK, contexts: [PAGE_CONTEXT] })
})

t.test('the node tracker by GET /i, base64 off', async t => {
  const sp = tracker('node-get', 'get', false)
  sp.setDomainUserId('dom-2')
  sp.setSessionId('sess-2')
  sp.setSessionIndex(4)
  const pv = sp.track(buildPageView({ pageUrl: 'https://a.test/?q=a b&x=ü', pageTitle: 'Ünïcode' }), [PAGE_CONTEXT])
  const ue = sp.track(buildSelfDescribingEvent({ event: CLICK }))
  t.same(await answers(sp, 2), [200, 200], 'every GET answered 200')
  await flushed(daemon)

  const rows = await rowsOf('dom-2')
  t.equal(rows.length, 2, 'the domain user id is the uid without a network user id')
  const page = rowOf(rows, 'dom-2', pv)
  t.match(page, { uid: 'dom-2', sid: 'sess-2', p: 'node-get', url: 'https://a.test/?q=a b&x=ü', a: 'page', ct: String(pv?.dtm) })
  t.notOk('lid' in page, 'no business user id, no lid')
  t.match(JSON.parse(page.d), { e: 'pv', page: 'Ünïcode', vid: '4', contexts: [PAGE_CONTEXT] })
  t.match(JSON.parse(rowOf(rows, 'dom-2', ue).d), { e: 'ue', ue: CLICK })
})

t.test('an event without user ids gets the collector\'s cookie', async t => {
  const res = await fetch(`${daemon.url}/i?e=pv&aid=anon&eid=anon-1&url=https%3A%2F%2Fa.test%2F`)
  t.equal(res.status, 200)
  t.equal(res.headers.get('content-type'), 'image/gif')
  t.equal((await res.arrayBuffer()).byteLength, 43)
  const uid = /^sp_uid=([0-9a-f]{32});/.exec(res.headers.get('set-cookie') ?? '')?.[1]
  t.ok(uid, 'a new uid is set as the cookie')
  const again = await fetch(`${daemon.url}/i?e=pp&aid=anon&eid=anon-2`, { headers: { cookie: `sp_uid=${uid!}` } })
  t.equal(again.headers.get('set-cookie'), null, 'the cookie is used when it comes back')
  await flushed(daemon)
  const rows = await rowsOf(uid!)
  t.same(rows.map(r => r.cells.a).sort(), ['page', 'ping'])
})

t.test('SP-Anonymous: no cookie read or set, no address stored', async t => {
  const body = JSON.stringify({ schema: PAYLOAD, data: [{ e: 'pv', aid: 'anonymous', eid: 'anon-3' }] })
  const res = await fetch(`${daemon.url}${TP2_PATH}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json; charset=UTF-8', 'sp-anonymous': '*', cookie: 'sp_uid=0123456789abcdef0123456789abcdef' },
    body
  })
  t.equal(res.status, 200)
  t.equal(res.headers.get('set-cookie'), null, 'no cookie set')
  await flushed(daemon)
  t.same(await rowsOf('0123456789abcdef0123456789abcdef'), [], 'the cookie was not read')
  const rows = await HBaseClient.using({ host: '127.0.0.1', port: THRIFT_PORT }, async c =>
    await scanTimeRange(c, hbase.time_table as string, SALT_BUCKETS, started, Date.now() + 1000, 1000))
  const stored = rows.map(r => r.cells).filter(e => e.p === 'anonymous')
  t.equal(stored.length, 1)
  t.equal(stored[0].ip, '0.0.0.0')
})

t.test('the preflight', async t => {
  const res = await fetch(`${daemon.url}${TP2_PATH}`, {
    method: 'OPTIONS',
    headers: { origin: 'https://site.test', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' }
  })
  t.equal(res.status, 204)
  t.equal(res.headers.get('access-control-allow-origin'), 'https://site.test')
  t.equal(res.headers.get('access-control-allow-credentials'), 'true')
  t.match(res.headers.get('access-control-allow-headers'), /Content-Type, SP-Anonymous/)
  t.match(res.headers.get('access-control-allow-methods'), /POST/)
  const requests = (await (await fetch(`${daemon.url}/healthz`)).json() as { metrics: { requests: unknown } }).metrics.requests as Array<{ route: string, status: number, count: number }>
  t.same(requests.filter(r => r.route === 'snowplow_preflight'), [{ route: 'snowplow_preflight', status: 204, count: 1 }], 'counted under its own route')
  t.same(requests.filter(r => r.route === 'preflight'), [], 'not under /e\'s preflight')
})

t.test('bad input', async t => {
  const before = await countRows(hbase.user_table as string)
  const payload = (data: unknown): string => JSON.stringify({ schema: PAYLOAD, data })
  const ok = payload([{ e: 'pv', duid: 'bad-input', eid: 'ok-1' }])
  /** A tp2 POST of `body`, its Content-Length that of the body unless `headers` says otherwise. */
  const tp2 = (body: string, headers: Record<string, string> = {}): { head: string, body: string } => ({ head: post(TP2_PATH, body, headers), body })
  const cases: Array<{ name: string, request: { head: string, body?: string }, status: number, code: string }> = [
    { name: 'body too large', request: { head: post(TP2_PATH, 'x', { 'Content-Length': String(2 * 1024 * 1024) }) }, status: 413, code: errors.BODY_TOO_LARGE.code },
    { name: 'no content length', request: { head: post(TP2_PATH, ok, { 'Content-Length': '' }) }, status: 411, code: errors.LENGTH_REQUIRED.code },
    { name: 'wrong content type', request: tp2(ok, { 'Content-Type': 'application/xml' }), status: 415, code: errors.UNSUPPORTED_MEDIA_TYPE.code },
    { name: 'malformed JSON', request: tp2('{"schema":'), status: 400, code: errors.BAD_JSON.code },
    { name: 'no data array', request: tp2(JSON.stringify({ schema: PAYLOAD })), status: 400, code: errors.BAD_SNOWPLOW.code },
    { name: 'not payload_data', request: tp2(ok.replace('payload_data', 'other')), status: 400, code: errors.BAD_SNOWPLOW.code },
    { name: 'an element that is not an object', request: tp2(payload(['pv'])), status: 400, code: errors.BAD_SNOWPLOW.code },
    { name: 'bad base64 in cx', request: tp2(payload([{ e: 'pv', cx: 'e30*' }])), status: 400, code: errors.BAD_SNOWPLOW.code },
    { name: 'non-JSON co', request: tp2(payload([{ e: 'pv', co: '{' }])), status: 400, code: errors.BAD_SNOWPLOW.code },
    { name: 'too many events', request: tp2(payload(Array(501).fill({ e: 'pv' }))), status: 413, code: errors.TOO_MANY_EVENTS.code },
    { name: 'a bad dtm', request: tp2(payload([{ e: 'pv', dtm: 'now' }])), status: 400, code: errors.BAD_FIELD.code },
    { name: 'bad base64 in ue_px on GET', request: { head: get('/i?e=ue&ue_px=%25%25') }, status: 400, code: errors.BAD_SNOWPLOW.code },
    { name: 'a bad escape on GET', request: { head: get('/i?e=pv&url=%zz') }, status: 400, code: errors.BAD_ESCAPE.code },
    { name: 'an oversized query on GET', request: { head: get(`/i?e=pv&url=${'x'.repeat(5000)}`) }, status: 414, code: errors.QUERY_TOO_LONG.code }
  ]
  for (const c of cases) {
    const res = await raw(daemon.port, c.request.head, c.request.body ?? '')
    t.equal(res.status, c.status, `${c.name}: status`)
    t.equal(JSON.parse(res.body).error.code, c.code, `${c.name}: code`)
    t.equal((await fetch(`${daemon.url}/healthz`)).status, 200, `${c.name}: still serving`)
  }

  const plain = await fetch(`${daemon.url}${TP2_PATH}`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: ok })
  t.equal(plain.status, 200, 'text/plain is taken, as for POST /e')
  const health = await flushed(daemon)
  t.equal(await countRows(hbase.user_table as string), before + 1, 'only the good event was added, and the earlier ones are still there')
  t.same((await rowsOf('bad-input')).map(r => r.cells.a), ['page'])
  const requests = health.metrics.requests as Array<{ route: string, status: number, count: number }>
  t.ok(requests.some(r => r.route === 'snowplow_post' && r.status === 200), 'counted as snowplow_post')
  t.ok(requests.some(r => r.route === 'snowplow_pixel' && r.status === 400), 'counted as snowplow_pixel')
})
