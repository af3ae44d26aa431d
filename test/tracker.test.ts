// The browser tracker (dist/tracker/t.js) in a real headless Chromium against a fake collector: size, commands, delivery, identity helpers.

import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { type Browser, type BrowserContext, type Page, chromium } from 'playwright-core'
import t, { type Test } from 'tap'
import { type Event, FakeCollector, PageServer, TRACKER_DIR } from './fixtures/fake-collector'

const CHROMIUM = process.env.SPOOR_CHROMIUM ?? '/usr/bin/chromium'
const HEX_ID = /^[0-9a-f]{32}$/

const collector = new FakeCollector()
const pages = new PageServer(collector)
let browser: Browser

/** The install snippet as docs/tracker.md gives it, with the init options and the calls that follow. */
function snippet (options: object, calls = "spoor('page');", body = ''): string {
  return `<!doctype html><meta charset="utf-8"><title>spoor</title>
<script>window.spoor=window.spoor||function(){(spoor.q=spoor.q||[]).push(arguments)};
spoor('init',${JSON.stringify(options)});${calls}</script>
<script async src="{C}/t.js"></script>
<noscript><img src="{C}/p.gif?p=site-a&a=page" alt="" width="1" height="1"></noscript>
<body>${body}</body>`
}

/** A fresh browser context (its own storage and cache), closed when the test ends. */
async function context (t: Test, options: Parameters<Browser['newContext']>[0] = {}): Promise<BrowserContext> {
  const c = await browser.newContext(options)
  t.teardown(async () => await c.close())
  return c
}

/** Opens a page that the test set, and waits for the tracker to have loaded. */
async function open (c: BrowserContext, host: string, path: string, html: string): Promise<Page> {
  pages.pages.set(path, html)
  const page = await c.newPage()
  await page.goto(pages.url(host, path))
  await page.waitForFunction('window.spoor && window.spoor.l === 1')
  return page
}

function count (text: string, what: string): number {
  return text.split(what).length - 1
}

function actions (events: Event[]): string[] {
  return events.map(e => e.a)
}

t.before(async () => {
  await collector.listen()
  await pages.listen()
  pages.pages.set('/blank', '<!doctype html><title>blank</title>')
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--host-resolver-rules=MAP *.test 127.0.0.1']
  })
})

t.teardown(async () => {
  await browser.close()
  await pages.close()
  await collector.down()
})

t.test('t.js fits in 5 KiB gzipped and carries each placeholder once', async t => {
  const js = readFileSync(join(TRACKER_DIR, 't.js'))
  const size = gzipSync(js, { level: 9 }).length
  t.ok(size <= 5120, `t.js is ${size} bytes gzipped`)
  t.equal(count(js.toString('utf8'), '"__SPOOR_DEFAULTS__"'), 1, 'the defaults placeholder')
  t.equal(count(readFileSync(join(TRACKER_DIR, 'sync.html'), 'utf8'), '"__SPOOR_ORIGINS__"'), 1, 'the origins placeholder')
})

t.test('calls queued by the snippet are replayed in order and sent in one POST', async t => {
  const c = await context(t)
  pages.pages.set('/replay', snippet({ site: 'replay' },
    "spoor('page');spoor('track','like',{item:'q42',channel:'databases',stars:5});spoor('identify','alice');spoor('track','plain')"))
  const page = await c.newPage()
  const before = Date.now()
  await page.goto(pages.url('a.test', '/replay'), { referer: 'http://r.test/from' })
  await collector.until('four events', () => collector.events('replay').length >= 4)
  const events = collector.events('replay')
  t.same(actions(events), ['page', 'like', 'identify', 'plain'])
  const post = collector.posts.find(p => p.events.some(e => e.p === 'replay'))
  t.equal(post?.events.length, 4, 'one POST carries the batch')
  t.equal(post?.contentType, 'text/plain;charset=UTF-8')
  t.same(collector.preflights, [], 'no CORS preflight')
  for (const e of events) {
    t.match(e.eid, /^[0-9a-f]{16,}$/)
    t.ok(typeof e.ct === 'number' && e.ct >= before && e.ct <= Date.now(), 'ct is the client time')
    t.equal(e.url, pages.url('a.test', '/replay'))
    t.match(e.vid, HEX_ID)
    t.equal(e.vid, events[0].vid)
    t.notOk('sid' in e || 'uid' in e, 'neither sid nor uid')
  }
  t.equal(new Set(events.map(e => e.eid)).size, 4, 'one eid per event')
  t.equal(events[0].ref, 'http://r.test/from')
  t.notOk('lid' in events[0], 'no login id before identify')
  t.match(events[1], { it: 'q42', ch: 'databases', d: { stars: 5 } })
  t.notOk('item' in events[1].d || 'channel' in events[1].d)
  t.equal(events[2].lid, 'alice')
  t.equal(events[3].lid, 'alice')
  t.notOk('d' in events[3] || 'it' in events[3] || 'ch' in events[3] || 'ref' in events[3], 'empty fields are left out')

  await page.waitForFunction('window.spoor.l === 1')
  t.equal(await page.evaluate('window.spoor.q'), undefined, 'the real function replaced the stub')
  const globals = async (p: Page): Promise<string[]> => await p.evaluate('Object.getOwnPropertyNames(window)') as string[]
  const blank = await c.newPage()
  await blank.goto(pages.url('a.test', '/blank'))
  const base = new Set(await globals(blank))
  t.same((await globals(page)).filter(n => !base.has(n)), ['spoor'], 'no globals but window.spoor')

  await open(c, 'a.test', '/replay-next', snippet({ site: 'replay-next' }))
  await collector.until('the next page', () => collector.events('replay-next').length >= 1)
  t.match(collector.events('replay-next')[0], { a: 'page', lid: 'alice', vid: events[0].vid }, 'a later page keeps the login id and the visitor id')
})

t.test('heartbeats carry the visible seconds', async t => {
  await open(await context(t), 'a.test', '/beat', snippet({ site: 'beat', heartbeatSeconds: 1, flushMs: 50 }))
  await collector.until('a ping', () => collector.events('beat').some(e => e.a === 'ping'))
  const ping = collector.events('beat').find(e => e.a === 'ping')
  t.ok(Number.isInteger(ping?.d.tp) && ping?.d.tp >= 1, `tp is ${ping?.d.tp}`)
})

t.test('an outbound click is sent by beacon as the page is left', async t => {
  const href = pages.url('b.test', '/blank')
  const page = await open(await context(t), 'a.test', '/out', snippet({ site: 'out', flushMs: 60000 }, "spoor('page');", `<a id="out" href="${href}">out</a>`))
  await page.click('#out')
  await collector.until('the click', () => collector.events('out').some(e => e.a === 'click'))
  const post = collector.posts.find(p => p.events.some(e => e.p === 'out'))
  t.same(actions(post?.events ?? []), ['page', 'click'], 'the queue went in one beacon')
  t.same(post?.events[1].d, { href })
})

t.test('a hidden or closed page sends its queue by beacon', async t => {
  const c = await context(t)
  const page = await open(c, 'a.test', '/hidden', snippet({ site: 'hidden', flushMs: 60000 }))
  await page.evaluate(`Object.defineProperty(document, 'visibilityState', { get: () => 'hidden' });
    document.dispatchEvent(new Event('visibilitychange'))`)
  await collector.until('the hidden page', () => collector.events('hidden').length >= 1)
  const closed = await open(c, 'a.test', '/closed', snippet({ site: 'closed', flushMs: 60000 }))
  await closed.close({ runBeforeUnload: true })
  await collector.until('the closed page', () => collector.events('closed').length >= 1)
  t.same(actions(collector.events('closed')), ['page'])
  // A beacon the browser took is as good as sent: its events left the queue, so no later page sends them again.
  t.same(actions(collector.events('hidden')), ['page'])
  t.same(await page.evaluate("JSON.parse(localStorage.getItem('spoor_q') || '[]')"), [], 'the queue is empty')
})

t.test('events wait while the collector is down and are delivered once it is up', async t => {
  const page = await open(await context(t), 'a.test', '/down', snippet({ site: 'down', flushMs: 50 }))
  await collector.until('the page event', () => collector.events('down').length >= 1)
  await collector.down()
  const failed = page.waitForEvent('requestfailed', r => r.url().endsWith('/e'))
  await page.evaluate("spoor('track', 'offline')")
  await failed
  const queued = await page.evaluate("JSON.parse(localStorage.getItem('spoor_q'))") as Event[]
  t.same(actions(queued), ['offline'], 'the event waits in localStorage')
  await collector.listen()
  await collector.until('the retried event', () => collector.events('down').some(e => e.a === 'offline'))
  t.equal(collector.events('down').find(e => e.a === 'offline')?.eid, queued[0].eid, 'the retry keeps the eid')
  await page.waitForFunction("localStorage.getItem('spoor_q') === null")
})

t.test('a 503 is retried after Retry-After with the same eid', async t => {
  collector.retryAfter = 2
  collector.answers.set('busy', [503])
  await open(await context(t), 'a.test', '/busy', snippet({ site: 'busy', flushMs: 50 }))
  await collector.until('the retry', () => collector.events('busy').length >= 2)
  const posts = collector.posts.filter(p => p.events[0]?.p === 'busy')
  t.same(posts.map(p => p.status), [503, 204])
  t.equal(posts[1].events[0].eid, posts[0].events[0].eid)
  t.ok(posts[1].at - posts[0].at >= 1900, `retried after ${posts[1].at - posts[0].at} ms, Retry-After said 2 s`)
})

t.test('a 400 drops the batch for good', async t => {
  collector.answers.set('refused', [400])
  const page = await open(await context(t), 'a.test', '/refused', snippet({ site: 'refused', flushMs: 50 }, "spoor('track','bad')"))
  await collector.until('the refused batch', () => collector.events('refused').length >= 1)
  await page.evaluate("spoor('track', 'good')")
  await collector.until('the next batch', () => collector.events('refused').some(e => e.a === 'good'))
  t.same(actions(collector.events('refused')), ['bad', 'good'], 'bad was sent once')
  await page.waitForFunction("localStorage.getItem('spoor_q') === null")
})

t.test('the queue keeps the newest queueMax events', async t => {
  const page = await open(await context(t), 'a.test', '/bounded', snippet({ site: 'bounded', queueMax: 3, flushMs: 50 }, ''))
  await collector.down()
  await page.evaluate("for (let i = 1; i <= 6; i++) spoor('track', 'e' + i)")
  t.same(actions(await page.evaluate("JSON.parse(localStorage.getItem('spoor_q'))") as Event[]), ['e4', 'e5', 'e6'])
  await collector.listen()
  await collector.until('the queue', () => collector.events('bounded').length >= 3)
  t.same(actions(collector.events('bounded')), ['e4', 'e5', 'e6'])
})

t.test('after optOut nothing is sent, not even what was queued', async t => {
  const page = await open(await context(t), 'a.test', '/optout', snippet({ site: 'optout', flushMs: 50 },
    "spoor('track','before');spoor('optOut');spoor('page');spoor('track','during')"))
  t.equal(await page.evaluate("localStorage.getItem('spoor_optout')"), '1')
  t.equal(await page.evaluate("localStorage.getItem('spoor_q')"), null, 'the queue is cleared')
  await page.evaluate("spoor('optIn'); spoor('track', 'after')")
  await collector.until('the event after optIn', () => collector.events('optout').length >= 1)
  t.same(actions(collector.events('optout')), ['after'])
})

t.test('links to linkDomains carry _spid, and the landing page sends it as lnk', async t => {
  collector.defaults = { linkDomains: ['b.test'] }
  t.teardown(() => { collector.defaults = {} })
  const target = pages.url('b.test', '/landing?x=1')
  pages.pages.set('/landing', snippet({ site: 'landing' }))
  const page = await open(await context(t), 'a.test', '/decorate', snippet({ site: 'decorate' }, "spoor('page');", `<a id="go" href="${target}">go</a>`))
  const vid = await page.evaluate("localStorage.getItem('spoor_vid')")
  t.match(vid, HEX_ID)
  await page.click('#go')
  await collector.until('the landing page', () => collector.events('landing').length >= 1)
  const landing = collector.events('landing')[0]
  t.equal(landing.lnk, vid)
  t.equal(landing.url, target, 'the event URL is without _spid')
  t.not(landing.vid, vid, 'the landing site has its own visitor id')
  t.equal(page.url(), target, 'the address bar is without _spid')
  const click = collector.events('decorate').find(e => e.a === 'click')
  t.equal(click?.d.href, `${target}&_spid=${vid}`, 'the outbound click records the decorated link')
})

t.test('sto comes from the sync iframe for an allowed origin only', async t => {
  // The pages and the collector are on one site (site.test): Chromium denies localStorage to a
  // cross-site iframe once third-party cookies are blocked, as it does here by default.
  const collectorUrl = `http://c.site.test:${collector.port}`
  collector.origins = [new URL(pages.url('a.site.test', '/')).origin]
  t.teardown(() => { collector.origins = ['*'] })
  const c = await context(t)
  const page = await open(c, 'a.site.test', '/sto', snippet({ site: 'sto', storage: true, collector: collectorUrl }))
  await collector.until('the allowed page', () => collector.events('sto').length >= 1)
  await page.reload()
  await collector.until('the reloaded page', () => collector.events('sto').length >= 2)
  const [first, second] = collector.events('sto')
  t.match(first.sto, HEX_ID)
  t.equal(second.sto, first.sto, 'the same id on the next load')
  await open(c, 'b.site.test', '/sto-refused', snippet({ site: 'sto-refused', storage: true, collector: collectorUrl }))
  await collector.until('the refused page', () => collector.events('sto-refused').length >= 1)
  t.notOk('sto' in collector.events('sto-refused')[0], 'a refused origin gets no sto, and its events still go')
})

t.test('eti is the same across two loads', async t => {
  const page = await open(await context(t), 'a.test', '/eti', snippet({ site: 'eti', etag: true }))
  await collector.until('the first page', () => collector.events('eti').length >= 1)
  await page.reload()
  await collector.until('the second page', () => collector.events('eti').length >= 2)
  const [first, second] = collector.events('eti')
  t.match(first.eti, HEX_ID)
  t.equal(second.eti, first.eti)
  t.ok(collector.revalidations.includes(`"${first.eti as string}"`), 'the browser revalidated the cached ETag')
})

t.test('fp is the same across two browser contexts', async t => {
  await open(await context(t), 'a.test', '/fp', snippet({ site: 'fp', fingerprint: true }))
  await collector.until('the first page', () => collector.events('fp').length >= 1)
  await open(await context(t), 'a.test', '/fp', snippet({ site: 'fp', fingerprint: true }))
  await collector.until('the second page', () => collector.events('fp').length >= 2)
  const [first, second] = collector.events('fp')
  t.match(first.fp, /^[0-9a-f]{16}$/)
  t.equal(second.fp, first.fp)
  t.not(second.vid, first.vid, 'while the visitor ids differ')
})

t.test('the noscript pixel fires with JavaScript disabled', async t => {
  const c = await context(t, { javaScriptEnabled: false })
  pages.pages.set('/noscript', snippet({ site: 'site-a' }))
  await (await c.newPage()).goto(pages.url('a.test', '/noscript'))
  await collector.until('the pixel', () => collector.pixels.some(q => q.get('p') === 'site-a'))
  const pixel = collector.pixels.find(q => q.get('p') === 'site-a')
  t.equal(pixel?.get('a'), 'page')
})
