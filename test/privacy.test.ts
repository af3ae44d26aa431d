// Enrichment and privacy on the real HBase: GeoIP, user agents and bots, IP anonymisation, DNT and Sec-GPC, the opt-out cookie.

import t from 'tap'
import { HBaseClient } from '../daemon/hbase/client'
import { scanPrefix } from '../daemon/hbase/reader'
import { userRowPrefix } from '../daemon/native'
import { TP2_PATH } from '../daemon/http/snowplow-routes'
import { flushed, startDaemon, type Daemon } from './fixtures/daemon'
import { freshTables, SALT_BUCKETS, THRIFT_PORT } from './fixtures/hbase'

const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36'
const GOOGLEBOT = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)'
const NO_UID = '0'.repeat(32)
/** What the Snowplow Android tracker sends: OkHttp's own agent. */
const OKHTTP = 'okhttp/4.12.0'
/** What the Snowplow iOS tracker sends: the app's URLSession agent. */
const IOS_APP = 'Shop/1.0 CFNetwork/1410.0.3 Darwin/22.6.0'
/** HttpURLConnection's default, as a plain Java client (and Snowplow's Java tracker on it) sends it. */
const JAVA = 'Java/17.0.15'
const PAYLOAD = 'iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4'

async function eventsOf (hbase: Record<string, unknown>, uid: string): Promise<Array<Record<string, string>>> {
  return await HBaseClient.using({ host: '127.0.0.1', port: THRIFT_PORT }, async c =>
    (await scanPrefix(c, hbase.user_table as string, userRowPrefix(uid, SALT_BUCKETS), 1000)).map(r => r.cells))
}

async function pixel (daemon: Daemon, query: string, headers: Record<string, string> = {}): Promise<Response> {
  return await fetch(`${daemon.url}/p.gif?${query}`, { headers: { 'user-agent': CHROME, ...headers }, redirect: 'manual' })
}

async function post (daemon: Daemon, events: unknown[], headers: Record<string, string> = {}): Promise<Response> {
  return await fetch(`${daemon.url}/e`, { method: 'POST', headers: { 'content-type': 'application/json', 'user-agent': CHROME, ...headers }, body: JSON.stringify(events) })
}

t.test('GeoIP places known addresses of the shipped database, from the address before it is anonymised', async t => {
  const hbase = await freshTables('geo')
  // The test's client is the load balancer: the address comes from X-Forwarded-For.
  const daemon = await startDaemon({ hbase, server: { trusted_proxies: ['127.0.0.1'] } })
  t.teardown(async () => { await daemon.stop() })
  await pixel(daemon, 'uid=geo-v4&eid=1', { 'x-forwarded-for': '8.8.8.8' })
  await pixel(daemon, 'uid=geo-v6&eid=1', { 'x-forwarded-for': '2001:67c:2e8:22::c100:68b' })
  await pixel(daemon, 'uid=geo-private&eid=1', { 'x-forwarded-for': '10.1.2.3' })
  await flushed(daemon)
  t.match((await eventsOf(hbase, 'geo-v4'))[0], { co: 'US', rg: 'California', ci: 'Mountain View', ip: '8.8.8.0' })
  t.match((await eventsOf(hbase, 'geo-v6'))[0], { co: 'NL', ip: '2001:67c:2e8::' }, 'IPv6 is cut to its /48')
  const [unknown] = await eventsOf(hbase, 'geo-private')
  t.equal(unknown.co, undefined, 'a private address has no place')
  t.equal(unknown.ip, '10.1.2.0')

  const plain = await startDaemon({ hbase, server: { trusted_proxies: ['127.0.0.1'] }, geoip: { enabled: false }, privacy: { anonymize_ip: false } })
  t.teardown(async () => { await plain.stop() })
  await pixel(plain, 'uid=geo-off&eid=1', { 'x-forwarded-for': '8.8.8.8' })
  await flushed(plain)
  const [off] = await eventsOf(hbase, 'geo-off')
  t.equal(off.co, undefined, 'geoip.enabled = false stores no place')
  t.equal(off.ip, '8.8.8.8', 'privacy.anonymize_ip = false stores the whole address')
})

t.test('user agents are parsed at flush, bots flagged, and dropped when configured', async t => {
  const hbase = await freshTables('agents')
  const daemon = await startDaemon({ hbase })
  t.teardown(async () => { await daemon.stop() })
  await pixel(daemon, 'uid=person&eid=1')
  await pixel(daemon, 'uid=crawler&eid=1', { 'user-agent': GOOGLEBOT })
  await flushed(daemon)
  const [person] = await eventsOf(hbase, 'person')
  t.match(person, { ua: CHROME, br: 'Chrome 131', os: 'Windows 10', dt: 'desktop' })
  t.equal(person.bot, undefined)
  t.match((await eventsOf(hbase, 'crawler'))[0], { ua: GOOGLEBOT, dt: 'bot', bot: '1' })

  const dropping = await startDaemon({ hbase, enrich: { drop_bots: true } })
  t.teardown(async () => { await dropping.stop() })
  await pixel(dropping, 'uid=crawler-2&eid=1', { 'user-agent': GOOGLEBOT })
  await post(dropping, [{ uid: 'person-2', eid: '1' }, { uid: 'crawler-2', eid: '2' }], { 'user-agent': 'curl/8.5.0' })
  await post(dropping, [{ uid: 'person-2', eid: '3' }])
  const health = await flushed(dropping)
  t.same(await eventsOf(hbase, 'crawler-2'), [], 'the bots\' events are not stored')
  t.equal((await eventsOf(hbase, 'person-2')).length, 1, 'the browser\'s is')
  t.equal(health.metrics.eventsDroppedBots, 3)
  t.equal(health.metrics.eventsDelivered, 1)
})

t.test('app clients on an app platform are not bots; crawlers are on any platform, and HTTP libraries elsewhere', async t => {
  const hbase = await freshTables('apps')
  const daemon = await startDaemon({ hbase, enrich: { drop_bots: true } })
  t.teardown(async () => { await daemon.stop() })
  const snowplow = async (ua: string, event: Record<string, string>): Promise<void> => {
    const body = JSON.stringify({ schema: PAYLOAD, data: [{ e: 'pv', tv: 'andr-6.0.0', ...event }] })
    const res = await fetch(`${daemon.url}${TP2_PATH}`, { method: 'POST', headers: { 'content-type': 'application/json; charset=utf-8', 'user-agent': ua }, body })
    t.equal(res.status, 200, `${ua} ${event.duid}`)
  }
  // Snowplow's mobile and server trackers: their platform (p) says what they are, the app id (aid) which app.
  await snowplow(OKHTTP, { p: 'mob', aid: 'shop-android', duid: 'sp-android', eid: 'a1' })
  await snowplow(IOS_APP, { p: 'mob', aid: 'shop-ios', tv: 'ios-6.0.0', duid: 'sp-ios', eid: 'i1' })
  await snowplow(JAVA, { p: 'srv', aid: 'shop-backend', tv: 'java-2.0.0', duid: 'sp-java', eid: 'j1' })
  await snowplow(GOOGLEBOT, { p: 'mob', aid: 'shop-android', duid: 'sp-googlebot', eid: 'g1' })
  await snowplow(OKHTTP, { p: 'web', aid: 'shop-site', duid: 'sp-okhttp-web', eid: 'w1' })
  // spoor's own HTTP API: the app's platform is its p.
  t.equal((await post(daemon, [{ uid: 'app-okhttp', p: 'android', a: 'open', eid: 'o1' }], { 'user-agent': OKHTTP })).status, 204)
  t.equal((await post(daemon, [{ uid: 'app-java', p: 'android', a: 'open', eid: 'j2' }], { 'user-agent': JAVA })).status, 204)
  t.equal((await post(daemon, [{ uid: 'no-platform', a: 'open', eid: 'n1' }], { 'user-agent': OKHTTP })).status, 204)
  t.equal((await post(daemon, [{ uid: 'web-java', p: 'web', a: 'open', eid: 'n2' }], { 'user-agent': JAVA })).status, 204)
  const health = await flushed(daemon)

  for (const [uid, ua] of [['sp-android', OKHTTP], ['sp-ios', IOS_APP], ['sp-java', JAVA], ['app-okhttp', OKHTTP], ['app-java', JAVA]]) {
    const [e] = await eventsOf(hbase, uid)
    t.match(e, { uid, ua }, `${uid} is stored`)
    t.equal(e?.bot, undefined, `${uid} is no bot`)
    t.not(e?.dt, 'bot')
  }
  t.match((await eventsOf(hbase, 'sp-ios'))[0], { os: 'iOS', dt: 'mobile' })
  for (const uid of ['sp-googlebot', 'sp-okhttp-web', 'no-platform', 'web-java']) t.same(await eventsOf(hbase, uid), [], `${uid} is dropped as a bot`)
  t.equal(health.metrics.eventsDroppedBots, 4)

  const keeping = await startDaemon({ hbase })
  t.teardown(async () => { await keeping.stop() })
  await post(keeping, [{ uid: 'kept-okhttp', a: 'open', eid: 'k1' }], { 'user-agent': OKHTTP })
  await post(keeping, [{ uid: 'kept-android', p: 'android', a: 'open', eid: 'k2' }], { 'user-agent': OKHTTP })
  await flushed(keeping)
  t.match((await eventsOf(hbase, 'kept-okhttp'))[0], { dt: 'bot', bot: '1' }, 'an HTTP library off an app platform is stored as a bot')
  t.equal((await eventsOf(hbase, 'kept-android'))[0]?.bot, undefined, 'on one, as no bot')
})

t.test('DNT and Sec-GPC: ignored, anonymised or dropped as configured', async t => {
  const hbase = await freshTables('signals')
  const daemon = await startDaemon({ hbase, server: { trusted_proxies: ['127.0.0.1'] }, privacy: { dnt: 'drop', gpc: 'anonymize' } })
  t.teardown(async () => { await daemon.stop() })
  const known = { cookie: `sp_uid=${'ab'.repeat(16)}`, 'x-forwarded-for': '8.8.8.8' }

  const dropped = await pixel(daemon, 'a=secret&eid=1', { ...known, dnt: '1' })
  t.equal(dropped.status, 200, 'the pixel is answered as usual')
  t.equal((await post(daemon, [{ a: 'secret', eid: '2' }], { ...known, dnt: '1' })).status, 204, 'and so is the POST')
  t.equal((await post(daemon, [{ a: 'secret', eid: '3' }], { ...known, dnt: '1', 'sec-gpc': '1' })).status, 204, 'the stricter setting wins')

  const anon = await pixel(daemon, 'uid=bob&vid=v-bob&lid=bob&a=view&eid=4', { ...known, 'sec-gpc': '1' })
  t.equal(anon.headers.get('set-cookie'), null, 'no cookie for an anonymous request')
  const fresh = await post(daemon, [{ a: 'view', eid: '5' }], { 'sec-gpc': '1', 'x-forwarded-for': '8.8.8.8' })
  t.equal(fresh.headers.get('set-cookie'), null, 'nor a new uid')
  await pixel(daemon, 'a=view&eid=6', known)
  const health = await flushed(daemon)

  t.same(await eventsOf(hbase, 'ab'.repeat(16)).then(e => e.map(x => x.a)), ['view'], 'only the request without a signal is under the cookie')
  const anonymous = await eventsOf(hbase, NO_UID)
  t.equal(anonymous.length, 2, 'the Sec-GPC requests are stored under the uid of no one')
  for (const e of anonymous) {
    t.match(e, { uid: NO_UID, a: 'view', co: 'US' })
    for (const k of ['ip', 'rg', 'ci', 'vid', 'lid']) t.equal(e[k], undefined, `no ${k}`)
  }
  t.equal(health.metrics.eventsAccepted, 3)
  t.equal(health.metrics.eventsDropped, 3, 'the DNT requests are counted as not recorded')
  t.same(await eventsOf(hbase, 'bob'), [], 'a uid the anonymous request named is not used')

  const ignoring = await startDaemon({ hbase, privacy: { gpc: 'ignore' } })
  t.teardown(async () => { await ignoring.stop() })
  await pixel(ignoring, 'uid=carol&eid=1', { dnt: '1', 'sec-gpc': '1' })
  await flushed(ignoring)
  t.equal((await eventsOf(hbase, 'carol')).length, 1, 'ignored signals change nothing')
})

t.test('an opted-out browser\'s events are not stored, until it opts in again', async t => {
  const hbase = await freshTables('optout')
  const daemon = await startDaemon({ hbase, server: { cors_origins: ['https://site.example'] } })
  t.teardown(async () => { await daemon.stop() })
  const out = await fetch(`${daemon.url}/optout`)
  t.equal(out.status, 200)
  t.match(out.headers.get('set-cookie'), /^sp_optout=1; Max-Age=34128000; Path=\/; SameSite=Lax$/)
  t.match(await out.text(), /opted out/)
  const optedOut = { cookie: `sp_uid=${'cd'.repeat(16)}; sp_optout=1` }
  t.equal((await pixel(daemon, 'a=page&eid=1', optedOut)).status, 200)
  t.equal((await post(daemon, [{ a: 'page', eid: '2' }], optedOut)).status, 204)
  const back = await fetch(`${daemon.url}/optin?return=${encodeURIComponent('https://site.example/privacy')}`, { redirect: 'manual' })
  t.equal(back.status, 302, 'back to an allowed site')
  t.equal(back.headers.get('location'), 'https://site.example/privacy')
  t.match(back.headers.get('set-cookie'), /^sp_optout=; Max-Age=0;/)
  const elsewhere = await fetch(`${daemon.url}/optout?return=${encodeURIComponent('https://evil.example/')}`, { redirect: 'manual' })
  t.equal(elsewhere.status, 200, 'never to another')
  await pixel(daemon, 'a=page&eid=3', { cookie: `sp_uid=${'cd'.repeat(16)}` })
  const health = await flushed(daemon)
  t.same((await eventsOf(hbase, 'cd'.repeat(16))).map(e => e.id.length), [16], 'only the event after opting in is stored')
  t.equal(health.metrics.eventsDropped, 2)
})

t.test('every GET route refuses an over-long query before the privacy choice drops it, and the same as when it is stored', async t => {
  const hbase = await freshTables('longquery')
  const daemon = await startDaemon({ hbase, limits: { max_query_bytes: 256 } })
  t.teardown(async () => { await daemon.stop() })
  const long = `a=page&url=${'x'.repeat(300)}`
  for (const cookie of [`sp_uid=${'cd'.repeat(16)}`, `sp_uid=${'cd'.repeat(16)}; sp_optout=1`]) {
    for (const path of ['/p.gif', '/i']) {
      const res = await fetch(`${daemon.url}${path}?${long}`, { headers: { 'user-agent': CHROME, cookie } })
      t.equal(res.status, 414, `${path}, ${cookie.includes('sp_optout') ? 'opted out' : 'recorded'}`)
      t.equal((await res.json() as { error: { code: string } }).error.code, 'SPOOR_E_QUERY_TOO_LONG')
    }
  }
  const health = await flushed(daemon)
  t.equal(health.metrics.eventsDropped, 0, 'refused, not dropped')
})
