// Identity over HTTP on the real HBase: the tracker and id routes, the cookie bounce, links, stitching across platforms and the CLI.

import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import t from 'tap'
import { HBaseClient } from '../daemon/hbase/client'
import { scanPrefix } from '../daemon/hbase/reader'
import { linksOf, resolveUser, type ResolveOptions } from '../daemon/hbase/identity'
import { userRowPrefix } from '../daemon/native'
import { GIF } from '../daemon/http/intake'
import { CLI, flushed, startDaemon, type Daemon } from './fixtures/daemon'
import { freshTables, SALT_BUCKETS, THRIFT_PORT } from './fixtures/hbase'

const run = promisify(execFile)

async function withClient<T> (use: (c: HBaseClient) => Promise<T>): Promise<T> {
  return await HBaseClient.using({ host: '127.0.0.1', port: THRIFT_PORT }, use)
}

function resolveOptions (hbase: Record<string, unknown>): ResolveOptions {
  return { identityTable: hbase.identity_table as string, saltBuckets: SALT_BUCKETS }
}

async function eventsOf (hbase: Record<string, unknown>, uid: string): Promise<Array<Record<string, string>>> {
  const rows = await withClient(async c => await scanPrefix(c, hbase.user_table as string, userRowPrefix(uid, SALT_BUCKETS), 1000))
  return rows.map(r => r.cells)
}

async function post (daemon: Daemon, events: unknown[], headers: Record<string, string> = {}): Promise<Response> {
  return await fetch(`${daemon.url}/e`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(events) })
}

t.test('/t.js carries the configured defaults, with an ETag, long caching and gzip', async t => {
  const hbase = await freshTables('tjs')
  const daemon = await startDaemon({ hbase, identity: { fingerprint: true, link_domains: ['b.example'] }, tracker: { max_age_seconds: 604800 } })
  t.teardown(async () => { await daemon.stop() })

  const res = await fetch(`${daemon.url}/t.js`, { headers: { 'accept-encoding': 'identity' } })
  t.equal(res.status, 200)
  t.equal(res.headers.get('content-type'), 'application/javascript; charset=utf-8')
  t.equal(res.headers.get('cache-control'), 'public, max-age=604800')
  const etag = res.headers.get('etag')!
  t.match(etag, /^"[A-Za-z0-9_-]{22}"$/)
  const js = await res.text()
  t.notOk(js.includes('__SPOOR_DEFAULTS__'), 'the placeholder is replaced')
  t.ok(js.includes(JSON.stringify(JSON.stringify({ storage: true, etag: true, fingerprint: true, linkDomains: ['b.example'] }))), 'by the identity defaults')

  const zipped = await fetch(`${daemon.url}/t.js`, { headers: { 'accept-encoding': 'gzip, br' } })
  // fetch decodes gzip itself: the header says it was compressed, the text that it decodes to the same script.
  t.equal(zipped.headers.get('content-encoding'), 'gzip')
  t.equal(await zipped.text(), js)

  const again = await fetch(`${daemon.url}/t.js`, { headers: { 'if-none-match': etag } })
  t.equal(again.status, 304)
  t.equal(again.headers.get('etag'), etag)
  t.equal(await again.text(), '')

  const sync = await fetch(`${daemon.url}/sync.html`)
  t.equal(sync.status, 200)
  t.equal(sync.headers.get('content-type'), 'text/html; charset=utf-8')
  t.equal(sync.headers.get('x-frame-options'), null, 'framable by the sites')
  t.ok((await sync.text()).includes('["*"]'), 'the sync page hands its id to server.cors_origins by default')

  t.equal((await daemon.health()).metrics.eventsAccepted, 0, 'serving the tracker records no event')
})

t.test('/id.gif hands out an ETag id and takes it back; switched off, it and /sync.html are 404', async t => {
  const hbase = await freshTables('etag')
  const daemon = await startDaemon({ hbase, identity: { sync_origins: ['https://a.example'] } })
  t.teardown(async () => { await daemon.stop() })

  const first = await fetch(`${daemon.url}/id.gif`)
  t.equal(first.status, 200)
  t.same(Buffer.from(await first.arrayBuffer()), GIF)
  const tag = first.headers.get('etag')!
  t.match(tag, /^"[0-9a-f]{32}"$/)
  t.equal(first.headers.get('cache-control'), 'private, no-cache')
  t.equal(first.headers.get('access-control-allow-origin'), '*')
  t.equal(first.headers.get('access-control-expose-headers'), 'ETag')

  const back = await fetch(`${daemon.url}/id.gif`, { headers: { 'if-none-match': tag } })
  t.equal(back.status, 304)
  t.equal(back.headers.get('etag'), tag, 'the same id comes back')
  const weak = await fetch(`${daemon.url}/id.gif`, { headers: { 'if-none-match': `W/${tag.toUpperCase()}` } })
  t.equal(weak.headers.get('etag'), tag, 'a weak or upper-case tag is the same id')
  const other = await fetch(`${daemon.url}/id.gif`, { headers: { 'if-none-match': '"not-an-id"' } })
  t.equal(other.status, 200)
  t.not(other.headers.get('etag'), tag, 'anything else gets a new id')

  t.ok((await (await fetch(`${daemon.url}/sync.html`)).text()).includes('["https://a.example"]'), 'identity.sync_origins is the allowlist')

  const off = await startDaemon({ hbase, identity: { etag: false, storage: false } })
  t.teardown(async () => { await off.stop() })
  t.equal((await fetch(`${off.url}/id.gif`)).status, 404)
  t.equal((await fetch(`${off.url}/sync.html`)).status, 404)
  t.equal((await post(off, [{ uid: 'switch', sto: 's1', eti: 'e1', vid: 'v1', eid: '1' }])).status, 204)
  await flushed(off)
  const [stored] = await eventsOf(hbase, 'switch')
  t.match(stored, { uid: 'switch', vid: 'v1' })
  t.equal(stored.sto, undefined, 'sto is not stored with identity.storage off')
  t.equal(stored.eti, undefined, 'eti is not stored with identity.etag off')
})

t.test('the third-party cookie check bounces once, then stores under the cookie or the no-cookie uid', async t => {
  const hbase = await freshTables('bounce')
  const daemon = await startDaemon({ hbase, identity: { bounce: true } })
  t.teardown(async () => { await daemon.stop() })

  const first = await fetch(`${daemon.url}/p.gif?a=page&p=site&eid=one`, { redirect: 'manual' })
  t.equal(first.status, 302)
  t.equal(first.headers.get('location'), '/p.gif?a=page&p=site&eid=one&_b=1')
  const cookie = first.headers.get('set-cookie')!
  const uid = /^sp_uid=([0-9a-f]{32});/.exec(cookie)?.[1]
  t.ok(uid, 'the bounce sets a uid cookie')
  t.equal((await daemon.health()).metrics.eventsAccepted, 0, 'the bounce itself records nothing')

  // A browser that keeps the cookie comes back with it.
  const kept = await fetch(`${daemon.url}${first.headers.get('location')!}`, { headers: { cookie: `sp_uid=${uid!}` }, redirect: 'manual' })
  t.equal(kept.status, 200)
  t.equal(kept.headers.get('set-cookie'), null)
  // One that refuses it comes back without.
  const refused = await fetch(`${daemon.url}/p.gif?a=page&p=site&eid=two&_b=1`, { redirect: 'manual' })
  t.equal(refused.status, 200)
  // A cookie already there means no bounce.
  const known = await fetch(`${daemon.url}/p.gif?a=page&eid=three`, { headers: { cookie: `sp_uid=${uid!}` }, redirect: 'manual' })
  t.equal(known.status, 200)

  await flushed(daemon)
  t.equal((await eventsOf(hbase, uid!)).length, 2, 'the kept cookie\'s uid has its two events')
  const blocked = await eventsOf(hbase, '0'.repeat(32))
  t.equal(blocked.length, 1, 'the refused one is under the no-cookie uid')
  t.match(blocked[0], { a: 'page', p: 'site' })
})

t.test('ids seen together are linked; web and app events with one login resolve to one user', async t => {
  const hbase = await freshTables('stitch')
  const daemon = await startDaemon({ hbase })
  t.teardown(async () => { await daemon.stop() })
  const opts = resolveOptions(hbase)

  // The web: the collector's cookie, the tracker's visitor id, then a login.
  const page = await fetch(`${daemon.url}/p.gif?a=page&p=web&vid=v-web&eid=w1`)
  const webUid = /^sp_uid=([0-9a-f]{32});/.exec(page.headers.get('set-cookie')!)![1]
  const web = { cookie: `sp_uid=${webUid}` }
  t.equal((await post(daemon, [{ a: 'identify', p: 'web', vid: 'v-web', lid: 'carol', eid: 'w2' }], web)).status, 204)
  // The app: its own device uid and the same login, over plain HTTP.
  t.equal((await post(daemon, [{ uid: 'device-42', a: 'open', p: 'ios', lid: 'carol', eid: 'a1' }, { uid: 'device-42', a: 'view', p: 'ios', it: 'q1', eid: 'a2' }])).status, 204)
  // Someone else on the web.
  await post(daemon, [{ uid: 'dave-laptop', vid: 'v-dave', a: 'page', eid: 'd1' }])
  await flushed(daemon)

  const links = await withClient(async c => await linksOf(c, opts, `u:${webUid}`))
  t.same(links.map(l => l.id).sort(), ['l:carol', 'v:v-web'])
  t.equal(links.find(l => l.id === 'l:carol')?.platform, 'web')

  const fromWeb = await withClient(async c => await resolveUser(c, opts, `u:${webUid}`))
  const fromApp = await withClient(async c => await resolveUser(c, opts, 'u:device-42'))
  t.equal(fromWeb.canonical, 'l:carol')
  t.equal(fromApp.canonical, 'l:carol', 'web and app resolve to one canonical user')
  const carol = await withClient(async c => await resolveUser(c, opts, 'l:carol'))
  t.same(carol.ids, ['l:carol', `u:${webUid}`, 'u:device-42', 'v:v-web'].sort())
  const dave = await withClient(async c => await resolveUser(c, opts, 'u:dave-laptop'))
  t.equal(dave.canonical, 'u:dave-laptop', 'without a login, the smallest id of the group')
  t.same(dave.ids, ['u:dave-laptop', 'v:v-dave'])

  // Every event of carol's, on either platform, resolves to her.
  for (const uid of [webUid, 'device-42']) {
    for (const e of await eventsOf(hbase, uid)) {
      const r = await withClient(async c => await resolveUser(c, opts, `u:${e.uid}`))
      t.equal(r.canonical, 'l:carol', `${e.p} ${e.a}`)
      t.match(e.sid, /^[0-9a-f]{16}$/, 'with a session id the collector assigned')
    }
  }

  const out = (await run(process.execPath, [CLI, 'identity', 'l:carol', '--config', daemon.configPath])).stdout
  t.match(out, /^canonical user: l:carol\nlinked ids \(4\):\n/)
  t.match(out, /u:device-42 +uid \(given, or the collector cookie\)/)
  t.match(out, /v:v-web +visitor id/)
  const json = JSON.parse((await run(process.execPath, [CLI, 'identity', 'u:device-42', '--json', '--config', daemon.configPath])).stdout)
  t.equal(json.canonical, 'l:carol')
  const bad = await run(process.execPath, [CLI, 'identity', 'carol', '--config', daemon.configPath]).then(() => undefined, (err: { code: number, stderr: string }) => err)
  t.equal(bad?.code, 1)
  t.match(bad?.stderr, /SPOOR_E_USAGE: the command line is invalid: an id is written t:value, where t is one of u, v, s, e, f, l; got "carol"/)
})

t.test('two logins on one shared device stay two users; the device goes to the latest', async t => {
  const hbase = await freshTables('shared')
  const daemon = await startDaemon({ hbase })
  t.teardown(async () => { await daemon.stop() })
  const opts = resolveOptions(hbase)
  await post(daemon, [{ uid: 'kiosk', lid: 'erin', a: 'identify', eid: 'k1' }])
  await flushed(daemon)
  await post(daemon, [{ uid: 'kiosk', lid: 'frank', a: 'identify', eid: 'k2' }, { uid: 'frank-phone', lid: 'frank', a: 'open', eid: 'f1' }])
  await flushed(daemon)

  const kiosk = await withClient(async c => await resolveUser(c, opts, 'u:kiosk'))
  t.equal(kiosk.canonical, 'l:frank', 'the login seen last')
  t.same(kiosk.logins.map(l => l.id), ['l:frank', 'l:erin'], 'both logins, latest first')
  const erin = await withClient(async c => await resolveUser(c, opts, 'l:erin'))
  t.same(erin.ids, ['l:erin', 'u:kiosk'], 'the walk does not cross into frank\'s other devices')
  const phone = await withClient(async c => await resolveUser(c, opts, 'u:frank-phone'))
  t.equal(phone.canonical, 'l:frank')
})

t.test('a fingerprint is stored mixed with what the server sees, and walked only when asked', async t => {
  const hbase = await freshTables('fingerprint')
  const daemon = await startDaemon({ hbase, identity: { fingerprint: true } })
  t.teardown(async () => { await daemon.stop() })
  const opts = resolveOptions(hbase)
  const ua = { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) spoor-test' }
  await post(daemon, [{ uid: 'site-a-cookie', fp: '1a2b3c', a: 'page', eid: 'x1' }], ua)
  await post(daemon, [{ uid: 'site-b-cookie', fp: '1a2b3c', a: 'page', eid: 'x2' }], ua)
  await post(daemon, [{ uid: 'other-agent', fp: '1a2b3c', a: 'page', eid: 'x3' }], { 'user-agent': 'curl/8' })
  await flushed(daemon)
  const [a] = await eventsOf(hbase, 'site-a-cookie')
  const [b] = await eventsOf(hbase, 'site-b-cookie')
  const [c] = await eventsOf(hbase, 'other-agent')
  t.match(a.fp, /^[0-9a-f]{32}$/)
  t.not(a.fp, '1a2b3c', 'not the client hash as sent')
  t.equal(a.fp, b.fp, 'one browser, one fingerprint')
  t.not(a.fp, c.fp, 'another user agent, another fingerprint')
  const strict = await withClient(async cl => await resolveUser(cl, opts, 'u:site-a-cookie'))
  t.same(strict.ids, ['u:site-a-cookie'], 'fingerprints are not walked by default')
  const loose = await withClient(async cl => await resolveUser(cl, { ...opts, probabilistic: true }, 'u:site-a-cookie'))
  t.same(loose.ids, [`f:${a.fp}`, 'u:site-a-cookie', 'u:site-b-cookie'])
})

t.test('a hex uid in any case is one user: one identity, in spoor identity and spoor user', async t => {
  const hbase = await freshTables('hexcase')
  const daemon = await startDaemon({ hbase })
  t.teardown(async () => { await daemon.stop() })
  const opts = resolveOptions(hbase)
  const lower = '0123456789abcdef0123456789abcdef'
  const upper = lower.toUpperCase()
  const mixed = '0123456789ABCDEF0123456789abcdef'
  // One app sends its device id in upper case, the web tracker the same id in lower case.
  t.equal((await post(daemon, [{ uid: upper, lid: 'hexa', a: 'identify', p: 'android', eid: 'h1' }])).status, 204)
  t.equal((await post(daemon, [{ uid: lower, vid: 'v-hex', a: 'page', p: 'web', eid: 'h2' }])).status, 204)
  await flushed(daemon)

  const events = await eventsOf(hbase, mixed)
  t.same(events.map(e => e.uid), [lower, lower], 'both events are stored under the lower-case uid')
  const device = [`u:${lower}`, 'v:v-hex']
  for (const id of [`u:${upper}`, `u:${lower}`, `u:${mixed}`]) {
    const r = await withClient(async c => await resolveUser(c, opts, id))
    t.same({ id: r.id, canonical: r.canonical, ids: r.ids }, { id: `u:${lower}`, canonical: 'l:hexa', ids: device }, id)
  }
  const hexa = await withClient(async c => await resolveUser(c, opts, 'l:hexa'))
  t.same(hexa.ids, ['l:hexa', ...device], 'the login links one uid, not two')

  const out = (await run(process.execPath, [CLI, 'identity', `u:${mixed}`, '--config', daemon.configPath])).stdout
  t.match(out, /^canonical user: l:hexa\nlinked ids \(2\):\n/)
  t.match(out, new RegExp(`u:${lower} +uid`))
  const user = (await run(process.execPath, [CLI, 'user', upper, '--json', '--config', daemon.configPath])).stdout
  t.same(user.trim().split('\n').map(l => JSON.parse(l).uid), [lower, lower], 'spoor user finds both events under either spelling')
})
