// Identity in a real Chromium, two sites behind real nginx TLS, spoor and HBase: what each method links (and the engine table's Chromium column), stitching, sessions, retries, opt-out.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { type Browser, type BrowserContext, type Page, chromium } from 'playwright-core'
import t, { type Test } from 'tap'
import { flushed, startDaemon, tempDir, until } from './fixtures/daemon'
import { engineAsDocumented, one, pageTab, same, startStage, trackedPage, type Engine, type Stage, type Stored } from './fixtures/identity'

const CHROMIUM = process.env.SPOOR_CHROMIUM ?? '/usr/bin/chromium'

let stage: Stage
let browser: Browser
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--host-resolver-rules=MAP *.test 127.0.0.1']

t.before(async () => {
  stage = await startStage('browser')
  browser = await chromium.launch({ executablePath: CHROMIUM, args: [...ARGS, `--ignore-certificate-errors-spki-list=${stage.sites.spki}`] })
})

t.teardown(async () => {
  await browser?.close()
  await stage?.stop()
})

/** Resolves once the page has POSTed an event with action `a` to the collector and it was stored. */
async function sent (page: Page, a: string): Promise<void> {
  await page.waitForResponse(r => r.url().endsWith('/e') && r.status() === 204 && (r.request().postData() ?? '').includes(`"a":"${a}"`), { timeout: 30000 })
}

/**
 * A fresh browser context, closed when the test ends. `defaults` is a new context of the running browser, with
 * Chromium's default settings, which block third-party cookies (Chromium gives the reason "UserPreferences", in
 * a new profile's window as in this context). `allow-3p` is a browser of its own on a new profile whose settings
 * allow third-party cookies, as a visitor may choose.
 */
async function context (t: Test, mode: Mode = 'defaults'): Promise<BrowserContext> {
  let c: BrowserContext
  if (mode === 'defaults') {
    c = await browser.newContext()
  } else {
    const profile = tempDir('profile')
    mkdirSync(join(profile, 'Default'))
    writeFileSync(join(profile, 'Default', 'Preferences'), JSON.stringify({ profile: { cookie_controls_mode: 0, block_third_party_cookies: false } }))
    c = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: [...ARGS, `--ignore-certificate-errors-spki-list=${stage.sites.spki}`] })
  }
  t.teardown(async () => await c.close())
  return c
}

type Mode = 'defaults' | 'allow-3p'

interface Journey {
  /** Events of site A's two pages, and of site B's page (reached through a decorated link from A). */
  a: Stored[]
  b: Stored[]
}

/**
 * One visitor's journey in a fresh browser: two pages of site A (a page view, a custom event, heartbeats), a
 * decorated link to site B, a login on B, and an outbound click from B. `collectorOf` gives each site's collector.
 */
async function journey (t: Test, name: string, mode: Mode, collectorOf: (host: string) => string): Promise<Journey> {
  const [siteA, siteB] = [`${name}-a`, `${name}-b`]
  const b = stage.sites.origin('b.test')
  stage.sites.page('a.test', `${name}-1.html`, trackedPage(collectorOf('a.test'), siteA,
    "spoor('page');spoor('track','like',{item:'q42',channel:'databases'});"))
  stage.sites.page('a.test', `${name}-2.html`, trackedPage(collectorOf('a.test'), siteA, "spoor('page');spoor('identify','zoe-" + name + "');",
    `<a id="to-b" href="${b}/${name}-1.html">to site B</a>`))
  stage.sites.page('b.test', `${name}-1.html`, trackedPage(collectorOf('b.test'), siteB, "spoor('page');spoor('identify','zoe-" + name + "');",
    `<a id="out" href="${stage.sites.origin('elsewhere.test')}/">elsewhere</a>`))
  stage.sites.page('elsewhere.test', 'index.html', '<!doctype html><title>elsewhere</title>')

  const page = await (await context(t, mode)).newPage()
  const pinged = sent(page, 'ping')
  await page.goto(`${stage.sites.origin('a.test')}/${name}-1.html`)
  await pinged
  const aSecond = sent(page, 'identify')
  await page.goto(`${stage.sites.origin('a.test')}/${name}-2.html`)
  await aSecond
  const bIdentified = sent(page, 'identify')
  await Promise.all([page.waitForURL(`${b}/${name}-1.html`), page.click('#to-b')])
  await bIdentified
  // The click leaves the page: it goes out by beacon, which gets no answer to await here, so HBase is asked.
  await Promise.all([page.waitForURL(`${stage.sites.origin('elsewhere.test')}/`), page.click('#out')])
  await until(`${name}: the outbound click in HBase`, async () => (await stage.stored([siteB])).some(e => e.a === 'click'))
  await flushed(stage.daemon)
  const events = await stage.stored([siteA, siteB])
  return { a: events.filter(e => e.p === siteA), b: events.filter(e => e.p === siteB) }
}

/** Site B's events from its login on. */
function j3b (j: Journey): Stored[] {
  return j.b.filter(e => e.lid !== undefined)
}

/** What each method linked: within site A (its two pages) and across the two stage.sites. */
function matrix (first: Journey, third: Journey): Record<string, boolean[]> {
  const aPages = (j: Journey, n: number): Stored[] => j.a.filter(e => e.url?.endsWith(`-${n}.html`))
  const within = (j: Journey, key: string): boolean => same(aPages(j, 1), aPages(j, 2), key)
  const across = (j: Journey, key: string): boolean => same(j.a, j.b, key)
  const linkFromA = one(first.a, 'vid')
  return {
    'first-party cookie': [within(first, 'uid'), across(first, 'uid')],
    'third-party cookie': [within(third, 'uid'), across(third, 'uid')],
    'ETag': [within(third, 'eti'), across(third, 'eti')],
    'HTML5 storage (sync iframe)': [within(third, 'sto'), across(third, 'sto')],
    'fingerprint': [within(third, 'fp'), across(third, 'fp')],
    // Measured from the login on: site A's second page logs in, and so does site B.
    'login id': [one(aPages(third, 2).filter(e => e.a !== 'page'), 'lid') !== undefined, same(aPages(third, 2).filter(e => e.lid !== undefined), j3b(third), 'lid')],
    'link decoration': [within(first, 'vid'), linkFromA !== undefined && first.b.some(e => e.lnk === linkFromA)]
  }
}

/**
 * The matrix as docs/identity.md states it, after its `<!-- matrix -->` mark: each table row whose first cell is
 * bold, its last four cells yes or no (third-party cookies allowed: one site, two sites; Chromium's defaults: one
 * site, two sites).
 */
function documented (): Record<string, boolean[]> {
  const doc = readFileSync(join(__dirname, '..', '..', 'docs', 'identity.md'), 'utf8')
  const section = doc.split('<!-- matrix -->')[1] ?? ''
  const rows: Record<string, boolean[]> = {}
  for (const line of section.split('\n\n')[1]?.split('\n') ?? []) {
    const cells = line.split('|').slice(1, -1).map(c => c.trim())
    if (!/^\*\*/.test(cells[0] ?? '')) continue
    rows[cells[0].replace(/\*\*/g, '')] = cells.slice(-4).map(c => c.startsWith('yes'))
  }
  return rows
}

t.test('each method links one visitor as docs/identity.md says, and events resolve to the canonical user', async t => {
  const firstParty = (host: string): string => `${stage.sites.origin(host)}/spoor`
  const thirdParty = (): string => stage.sites.origin('collector.test')
  const allowing = matrix(await journey(t, 'first-3p', 'allow-3p', firstParty), await journey(t, 'third-3p', 'allow-3p', thirdParty))
  const first = await journey(t, 'first', 'defaults', firstParty)
  const third = await journey(t, 'third', 'defaults', thirdParty)
  const defaults = matrix(first, third)
  const measured = Object.fromEntries(Object.keys(defaults).map(k => [k, [...allowing[k], ...defaults[k]]]))
  t.comment(`measured (third-party cookies allowed: one site, two sites; Chromium's defaults: one site, two sites): ${JSON.stringify(measured)}`)
  t.same(measured, documented(), 'the measured matrix is the documented one')

  for (const j of [first, third]) {
    const all = [...j.a, ...j.b]
    const actions = (events: Stored[]): string[] => [...new Set(events.map(e => e.a))].sort()
    t.same(actions(j.a).filter(a => a !== 'ping'), ['click', 'identify', 'like', 'page'], 'site A: page views, the custom event, the login, the click to B')
    t.ok(j.a.some(e => e.a === 'ping'), 'and heartbeats')
    t.same(actions(j.b).filter(a => a !== 'ping'), ['click', 'identify', 'page'], 'site B: a page view, the login and the outbound click')
    t.equal(new Set(all.map(e => e.id)).size, all.length, 'every event stored once')
    t.match(j.a.find(e => e.a === 'like'), { it: 'q42', ch: 'databases' })
    t.match(j.a.find(e => e.a === 'ping')?.d, /^\{"tp":\d+\}$/)
    t.match(j.b.find(e => e.a === 'click')?.d, `"href":"${stage.sites.origin('elsewhere.test')}/"`)
    for (const uid of new Set(all.map(e => e.uid))) t.equal(await stage.canonical(uid), `l:zoe-${j === first ? 'first' : 'third'}`, `uid ${uid} resolves to the login`)
  }
  // An app, over plain HTTP with its own device id, logs in as the same person as the web journey.
  const app = await fetch(`${stage.daemon.url}/e`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([{ uid: 'phone-first', p: 'android', a: 'open', lid: 'zoe-first', eid: 'app-1' }]) })
  t.equal(app.status, 204)
  await flushed(stage.daemon)
  t.equal(await stage.canonical('phone-first'), 'l:zoe-first', 'the app and the browser resolve to one user')
  t.equal(await stage.canonical(one(first.a.filter(e => e.url?.endsWith('-1.html')), 'uid')!), 'l:zoe-first', 'from the browser\'s first page, before the login')

  // Sessions are the collector's, per uid: with a first-party cookie each site's visit is one session.
  t.match(one(first.a, 'sid'), /^[0-9a-f]{16}$/, 'site A\'s events share one session')
  t.match(one(first.b, 'sid'), /^[0-9a-f]{16}$/, 'site B\'s events share one session')
  t.not(one(first.a, 'sid'), one(first.b, 'sid'), 'two uids, two sessions')
})

t.test('events tracked while the collector is down are delivered once it is back', async t => {
  const page = await (await context(t)).newPage()
  const collector = `${stage.sites.origin('a.test')}/spoor`
  stage.sites.page('a.test', 'retry.html', trackedPage(collector, 'retry', "spoor('page');"))
  const first = sent(page, 'page')
  await page.goto(`${stage.sites.origin('a.test')}/retry.html`)
  await first

  const { port, dataDir } = stage.daemon
  await stage.daemon.stop()
  // nginx answers 502 for the stopped collector: a 5xx the tracker keeps the events for.
  const refused = page.waitForResponse(r => r.url() === `${collector}/e` && r.status() === 502)
  await page.evaluate("spoor('track','while-down',{n:1});spoor('track','while-down',{n:2})")
  await refused
  t.equal(await page.evaluate("JSON.parse(localStorage.getItem('spoor_q')).filter(e => e.a === 'while-down').length"), 2, 'both wait in the queue')

  stage.daemon = await startDaemon({ ...stage.sections, server: { ...stage.sections.server, port } }, dataDir)
  await sent(page, 'while-down')
  await flushed(stage.daemon)
  const got = (await stage.stored(['retry'])).filter(e => e.a === 'while-down')
  t.same(got.map(e => e.d).sort(), ['{"n":1}', '{"n":2}'], 'each delivered once')
  t.equal(await page.evaluate("JSON.parse(localStorage.getItem('spoor_q') || '[]').length"), 0, 'and the queue is empty')
})

t.test('an opted-out browser sends nothing', async t => {
  const collector = `${stage.sites.origin('a.test')}/spoor`
  stage.sites.page('a.test', 'optout.html', trackedPage(collector, 'optout', "spoor('optOut');spoor('page');spoor('track','secret');"))
  stage.sites.page('a.test', 'marker.html', trackedPage(collector, 'optout', "spoor('track','marker');"))
  const page = await (await context(t)).newPage()
  const posts: string[] = []
  page.on('request', r => { if (r.url().startsWith(collector) && r.method() === 'POST') posts.push(r.postData() ?? '') })
  await page.goto(`${stage.sites.origin('a.test')}/optout.html`)
  await page.waitForFunction('window.spoor && window.spoor.l === 1')
  // Another browser's event, sent after, shows when the opted-out one would have arrived too.
  const other = await (await context(t)).newPage()
  const marker = sent(other, 'marker')
  await other.goto(`${stage.sites.origin('a.test')}/marker.html`)
  await marker
  await flushed(stage.daemon)
  t.same(posts, [], 'no POST left the opted-out page')
  t.same((await stage.stored(['optout'])).map(e => e.a), ['marker'], 'only the other browser\'s event is stored')
})

t.test('Chromium links each method as docs/identity.md\'s engine table says', async t => {
  t.comment(`measured in Chromium ${browser.version()}`)
  const engine: Engine = {
    column: `Chromium ${browser.version().split('.')[0]}`,
    // A browser of its own on the profile, with Chromium's defaults, as a visitor starts it.
    start: async profile => {
      const c = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: [...ARGS, `--ignore-certificate-errors-spki-list=${stage.sites.spki}`] })
      return {
        newTab: async () => pageTab(await c.newPage()),
        close: async () => await c.close()
      }
    }
  }
  await engineAsDocumented(t, stage, engine, 'chromium')
})
