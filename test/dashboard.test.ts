// The dashboard in a real Chromium over data sent through the real collector and reports computed by the real Spark jobs:
// every page's numbers equal `spoor report show --json`, `spoor user --json` and `spoor identity --json`; bad input.

import { appendFileSync, readFileSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { type Browser, type Page, chromium } from 'playwright-core'
import t, { type Test } from 'tap'
import { freePort, flushed, startDaemon, until, type Daemon } from './fixtures/daemon'
import { CHROMIUM, CHROMIUM_ARGS, startDashboard, type DashboardProcess } from './fixtures/dashboard'
import { freshTables, ZK_PORT } from './fixtures/hbase'
import { REPORTS, reportsTable, spoor } from './fixtures/reports'

const BROWSER = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36'
const ANDROID = 'okhttp/4.12.0'
/** Public addresses GeoIP places in different countries. */
const ADDRESSES = ['8.8.8.8', '2001:67c:2e8:22::c100:68b', '81.2.69.142']
const XSS_URL = 'https://site.test/q/<script>window.__xss=1</script>'
const XSS_REF = 'https://evil.test/"><img src=x onerror="window.__xss=2">'

interface Device { uid: string, p: string, ua: string, ip: string, login?: string }
const DEVICES: Device[] = [
  { uid: 'dash-alice-web', p: 'web', ua: BROWSER, ip: ADDRESSES[0], login: 'alice' },
  { uid: 'dash-alice-app', p: 'android', ua: ANDROID, ip: ADDRESSES[1], login: 'alice' },
  { uid: 'dash-bob', p: 'web', ua: BROWSER, ip: ADDRESSES[2] },
  { uid: 'dash-carol', p: 'android', ua: ANDROID, ip: ADDRESSES[0] },
  { uid: 'dash-dave', p: 'ios', ua: 'Shop/1.0 CFNetwork/1410.0.3 Darwin/22.6.0', ip: ADDRESSES[2], login: 'dave' }
]
const CHANNELS = ['databases', 'networks']

let daemon: Daemon
let dash: DashboardProcess
let browser: Browser
let window: string[]
let from: number
let to: number
const violations: string[] = []

async function post (events: object[], d: Device): Promise<void> {
  const res = await fetch(`${daemon.url}/e`, { method: 'POST', headers: { 'content-type': 'application/json', 'user-agent': d.ua, 'x-forwarded-for': d.ip }, body: JSON.stringify(events) })
  if (res.status !== 204) throw new Error(`POST /e answered ${res.status}`)
}

async function show (args: string[]): Promise<any> {
  const r = await spoor(['report', 'show', ...args, ...window, '--json'])
  if (r.code !== 0) throw new Error(r.stderr)
  return JSON.parse(r.stdout)
}

async function cli (args: string[]): Promise<string> {
  const r = await spoor([...args, '--config', daemon.configPath])
  if (r.code !== 0) throw new Error(r.stderr)
  return r.stdout
}

t.before(async () => {
  const hbase: Record<string, unknown> = { ...await freshTables('dashboard'), zookeeper_quorum: `127.0.0.1:${ZK_PORT}` }
  const reports = await reportsTable('reports', hbase)
  daemon = await startDaemon({ hbase: { ...hbase, reports_table: reports }, reports: REPORTS, server: { trusted_proxies: ['127.0.0.1'] }, admin: { enabled: true, port: await freePort() } })
  from = Date.now() - 1000
  // Each device sends a page view and channel events, with a login where it has one; then an event whose URL and
  // referrer try to inject markup, and a pixel with a bad escape, so that the Live page has a reject to show.
  for (const [i, d] of DEVICES.entries()) {
    const events = Array.from({ length: 4 + i }, (_, j) => ({
      uid: d.uid,
      p: d.p,
      a: j === 0 ? 'page' : ['view', 'like'][j % 2],
      url: `https://site.test/${CHANNELS[j % 2]}/q${j}`,
      ch: CHANNELS[(i + j) % 2],
      it: `q${j % 3}`,
      ...(d.login !== undefined && j === 1 ? { lid: d.login } : {})
    }))
    await post(events, d)
  }
  await post([{ uid: 'dash-xss', p: 'web', a: 'page', url: XSS_URL, ref: XSS_REF }], DEVICES[2])
  await fetch(`${daemon.url}/p.gif?uid=dash-bad&url=%zz`)
  await flushed(daemon)
  to = Date.now() + 1000
  window = ['--from', String(from), '--to', String(to), '--config', daemon.configPath]
  // Spark runs for the report pages (traffic twice: every platform, and android's alone); the every-channel report
  // is left uncomputed on purpose.
  for (const args of [['traffic'], ['traffic', '--platform', 'android'], ['platforms'], ['channel', '--channel', 'databases']]) {
    const r = await spoor(['report', 'run', ...args, ...window])
    if (r.code !== 0) throw new Error(r.stderr)
  }
  appendFileSync(daemon.configPath, '\n[dashboard]\nport = 0\n')
  dash = await startDashboard(daemon.configPath)
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS })
})

t.teardown(async () => {
  await browser?.close()
  await dash?.stop()
  await daemon?.stop()
})

async function open (t: Test, path: string, ready: string, base = dash.url): Promise<Page> {
  const page = await browser.newPage()
  t.teardown(async () => await page.close())
  page.on('console', m => { if (/Content Security Policy/i.test(m.text())) violations.push(m.text()) })
  page.on('pageerror', err => violations.push(`page error: ${err.message}`))
  const res = await page.goto(`${base}${path}`)
  t.equal(res?.headers()['content-security-policy']?.startsWith("default-src 'none'"), true, `${path}: the CSP`)
  await page.waitForSelector(ready, { timeout: 30000 })
  return page
}

/** The exact values (data-value) of a table's rows: its row header's text, then each number. */
async function rows (page: Page, section: string): Promise<Array<Array<string | number>>> {
  return await page.$$eval(`table[data-section="${section}"] tbody tr`, trs => trs.map(tr => [...tr.children].map(c => {
    const n = c.querySelector('.num')
    return n !== null ? Number(n.getAttribute('data-value')) : (c.textContent ?? '')
  })))
}

// Predicates that run in the page are functions, never strings: Playwright evaluates a string with eval, which the
// dashboard's CSP forbids. They reach the page's document through globalThis, as the suite's TypeScript has no DOM types.

async function metric (page: Page, name: string): Promise<number> {
  return Number(await page.getAttribute(`[data-metric="${name}"] .num`, 'data-value'))
}

t.test('Overview shows the stored traffic report: totals, the series, every ranked section', async t => {
  const report = await show(['traffic'])
  t.ok(report.totals.events > 20, `${report.totals.events} events`)
  // With no window asked for, the page opens the newest stored one.
  const page = await open(t, '/', '.tiles')
  t.equal(await page.getAttribute('.window-summary', 'data-from'), String(from))
  t.equal(await page.getAttribute('.window-summary', 'data-to'), String(to))
  const totals = report.totals
  for (const k of ['visitors', 'sessions', 'pageViews', 'events']) t.equal(await metric(page, k), totals[k], k)
  t.equal(await metric(page, 'bounceRate'), totals.bounces / totals.sessions, 'bounce rate')
  t.equal(await metric(page, 'sessionLength'), totals.sessionMs / totals.sessions, 'average session length')
  t.equal(await page.textContent('[data-metric="visitors"] .num'), String(totals.visitors), 'small numbers are shown whole')
  t.equal(await page.getAttribute('[data-metric="bounceRate"] .num', 'title'), `${totals.bounces} of ${totals.sessions} sessions had one event`)
  t.same((await rows(page, 'series')).map(r => r.slice(1)), report.series.map((s: any) => [s.visitors, s.sessions, s.pageViews, s.events]), 'the chart\'s numbers')
  t.equal(await page.locator('.chart canvas').count(), 1, 'the line chart is drawn')
  for (const section of ['pages', 'referrers', 'countries', 'browsers', 'oses', 'devices']) {
    t.same(await rows(page, section), report[section].map((r: any) => [r.key, r.visitors, r.events]), section)
  }
  // The stored XSS attempt is text: the page key keeps its markup as characters, and nothing ran.
  t.ok((await rows(page, 'pages')).some(r => String(r[0]).includes('<script>window.__xss=1')), 'the script tag in a URL is shown as text')
  t.equal(await page.evaluate('window.__xss'), undefined, 'and did not run')
  t.equal(await page.locator('table[data-section="pages"] script').count(), 0)
})

t.test('Overview of one platform: the traffic report of its events alone, or the command that computes it', async t => {
  const all = await show(['traffic'])
  const android = await show(['traffic', '--platform', 'android'])
  t.equal(android.meta.params.platform, 'android')
  t.ok(android.totals.events > 0 && android.totals.events < all.totals.events, `android has ${android.totals.events} of ${all.totals.events} events`)
  const page = await open(t, `/?from=${from}&to=${to}&platform=android`, '.tiles')
  for (const k of ['visitors', 'sessions', 'pageViews', 'events']) t.equal(await metric(page, k), android.totals[k], k)
  for (const section of ['pages', 'countries', 'browsers']) {
    t.same(await rows(page, section), android[section].map((r: any) => [r.key, r.visitors, r.events]), section)
  }
  t.equal(await page.inputValue('input[name="platform"]'), 'android', 'the form keeps the platform')
  t.match(await page.textContent('select[aria-label="stored reports"] option:checked'), /platform android/, 'the stored list names the platform shown')

  const ios = await open(t, `/?from=${from}&to=${to}&platform=ios`, 'div.state.empty')
  t.equal(await ios.textContent('pre.command'), `npx spoor report run traffic --from ${new Date(from).toISOString()} --to ${new Date(to).toISOString()} --platform ios`)
})

t.test('Platforms shows the overlap matrix and the people on all platforms', async t => {
  const report = await show(['platforms'])
  const page = await open(t, '/platforms', 'table[data-section="matrix"]')
  const names = report.platforms.map((p: any) => p.platform)
  t.same(names.slice().sort(), ['android', 'ios', 'web'])
  for (const a of report.platforms) {
    for (const b of names) {
      const pair = report.pairs.find((p: any) => (p.a === a.platform && p.b === b) || (p.b === a.platform && p.a === b))
      const expected = b === a.platform ? a.users : pair.users
      t.equal(Number(await page.getAttribute(`.cell[data-a="${a.platform}"][data-b="${b}"] .num`, 'data-value')), expected, `${a.platform} ∩ ${b}`)
    }
  }
  t.ok(report.pairs.some((p: any) => p.users > 0), 'alice is on the web and on android, one person through her login')
  t.equal(Number(await page.getAttribute('[data-section="all"] .num', 'data-value')), report.all.users, 'people on all')
  t.same(await rows(page, 'platforms'), report.platforms.map((p: any) => [p.platform, p.users]))
})

t.test('Channels: a channel\'s countries in the report\'s order, as bars, and its items; an uncomputed one says how', async t => {
  const report = await show(['channel', '--channel', 'databases'])
  const q = `from=${from}&to=${to}`
  const page = await open(t, `/channels?${q}&channel=databases`, 'table[data-section="countries"]')
  t.equal(await page.textContent('[data-section="channel"]'), 'databases')
  t.ok(report.countries.length >= 2, 'GeoIP placed the events in several countries')
  const counts = (c: any): number[] => [c.pageViews, c.events, c.users]
  t.same((await rows(page, 'countries')).map(r => r.slice(0, 4)), report.countries.map((c: any) => [c.country, ...counts(c)]), 'countries in the report\'s order')
  t.same((await rows(page, 'items')).map(r => r.slice(0, 6)), report.items.map((i: any) => [i.country, i.channel, i.item, ...counts(i)]), 'items')
  t.equal(await page.locator('.chart canvas').count(), 1, 'the bar chart is drawn')

  const every = await open(t, `/channels?${q}`, 'div.state.empty')
  t.equal(await every.textContent('div.state.empty pre.command'), `npx spoor report run channel --from ${new Date(from).toISOString()} --to ${new Date(to).toISOString()}`, 'the exact command')
  t.match(await every.textContent('div.state.empty p'), /No channel report is stored for this window/)
})

/** POSTs /api/run with the query and headers, as a page or another site's page would; its status and error code. */
async function postRun (base: string, query: string, headers: Record<string, string>): Promise<{ status: number, code?: string }> {
  return await new Promise((resolve, reject) => {
    const req = request(`${base}/api/run?${query}`, { method: 'POST', headers }, res => {
      let body = ''
      res.on('data', (d: Buffer) => { body += d.toString() })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, code: JSON.parse(body).error?.code }))
    })
    req.on('error', reject)
    req.end()
  })
}

t.test('dashboard.allow_runs: a missing window computed from its page, one at a time, only from the dashboard\'s own pages', async t => {
  const own = { 'x-spoor-request': 'run', 'sec-fetch-site': 'same-origin' }
  const off = await open(t, `/channels?from=${from}&to=${to}`, 'div.state.empty')
  t.equal(await off.locator('button.run').count(), 0, 'no button while runs are off')
  t.same(await postRun(dash.url, `name=channel&from=${from}&to=${to}`, own), { status: 403, code: 'SPOOR_E_DASHBOARD_RUNS_OFF' })

  const runsConfig = daemon.configPath.replace(/\.toml$/, '-runs.toml')
  writeFileSync(runsConfig, readFileSync(daemon.configPath, 'utf8').replace('[dashboard]\n', '[dashboard]\nallow_runs = true\n'))
  const runner = await startDashboard(runsConfig)
  t.teardown(async () => { await runner.stop() })
  const query = `name=traffic&from=${from}&to=${to}&top=3`
  // Another site's page cannot start one: its browser says where the request comes from, and a request from another
  // origin that carries the run header needs a CORS preflight, which the dashboard never grants.
  t.same(await postRun(runner.url, query, { ...own, 'sec-fetch-site': 'cross-site' }), { status: 403, code: 'SPOOR_E_DASHBOARD_CROSS_SITE' })
  t.same(await postRun(runner.url, query, { 'sec-fetch-site': 'same-origin' }), { status: 403, code: 'SPOOR_E_DASHBOARD_CROSS_SITE' })
  t.same(await postRun(runner.url, `name=traffic&from=${from}&to=yesterday`, own), { status: 400, code: 'SPOOR_E_DASHBOARD_BAD_REQUEST' })

  const page = await open(t, `/?from=${from}&to=${to}&top=3`, 'button.run', runner.url)
  t.equal(await page.textContent('pre.command'), `npx spoor report run traffic --from ${new Date(from).toISOString()} --to ${new Date(to).toISOString()} --top 3`, 'the command, beside the button')
  await page.click('button.run')
  await page.waitForFunction(() => /^Computing since /.test((globalThis as any).document.querySelector('.run-status')?.textContent ?? ''))
  t.same(await postRun(runner.url, `name=platforms&from=${from}&to=${to}&platforms=web`, own), { status: 409, code: 'SPOOR_E_DASHBOARD_RUN_BUSY' }, 'a second report waits for the first')
  await page.waitForSelector('.tiles', { timeout: 300000 })
  const report = await show(['traffic', '--top', '3'])
  for (const k of ['visitors', 'sessions', 'pageViews', 'events']) t.equal(await metric(page, k), report.totals[k], k)
  for (const section of ['pages', 'countries', 'browsers']) {
    t.same(await rows(page, section), report[section].map((r: any) => [r.key, r.visitors, r.events]), section)
  }
  t.equal(report.meta.params.top, 3)
  await until('the run\'s log lines', async () => runner.logs.some(l => l.msg === 'dashboard: report computed'))
  t.match(runner.logs.find(l => l.msg === 'dashboard: computing a report'), { report: `traffic|${new Date(from).toISOString()}|${new Date(to).toISOString()}|top=3,bots=0` })
})

t.test('Live shows the collector\'s counters and updates them without reloading', async t => {
  const page = await open(t, '/live', '[data-metric="eventsAccepted"]')
  const health = await daemon.health()
  t.equal(await metric(page, 'eventsAccepted'), health.metrics.eventsAccepted, 'events accepted')
  t.equal(await metric(page, 'eventsDelivered'), health.metrics.eventsDelivered, 'events acknowledged')
  t.same(await rows(page, 'rejected'), Object.entries(health.metrics.rejected), 'rejects by code')
  t.ok(Object.keys(health.metrics.rejected).includes('SPOOR_E_BAD_ESCAPE'))
  await page.evaluate('window.__same = true')
  await post([{ uid: 'dash-live', a: 'view' }, { uid: 'dash-live', a: 'like' }], DEVICES[0])
  await page.waitForFunction(n => Number((globalThis as any).document.querySelector('[data-metric="eventsAccepted"] .num')?.getAttribute('data-value')) === n, health.metrics.eventsAccepted + 2, { timeout: 20000 })
  t.equal(await page.evaluate('window.__same'), true, 'the page updated in place')
  await page.waitForSelector('[data-metric="eventsPerSecond"] .num[data-value]')
  await until('the chart', async () => await page.locator('.chart canvas').count() === 1, 20000)
})

t.test('User: the identity as spoor identity, the newest events as spoor user, paged', async t => {
  const uid = 'dash-alice-web'
  const identity = JSON.parse(await cli(['identity', `u:${uid}`, '--json']))
  const events = (await cli(['user', uid, '--json', '--limit', '100'])).trim().split('\n').map(l => JSON.parse(l))
  t.equal(events.length, 4)
  const page = await open(t, `/user?id=${uid}&limit=3`, 'table[data-section="events"]')
  t.equal(await page.textContent('[data-field="canonical"]'), identity.canonical)
  t.equal(identity.canonical, 'l:alice')
  t.same(await page.$$eval('table[data-section="ids"] tbody tr th', ths => ths.map(th => th.textContent)), identity.ids)
  t.same(await page.$$eval('table[data-section="logins"] tbody tr th', ths => ths.map(th => th.textContent)), identity.logins.map((l: any) => l.id))
  const shown = async (): Promise<Array<{ id: string, ts: number, a: string, url: string }>> => await page.$$eval('table[data-section="events"] tbody tr', trs => trs.map(tr => ({
    id: tr.getAttribute('data-id') ?? '',
    ts: Number(tr.querySelector('time')?.getAttribute('data-value')),
    a: tr.querySelector('[data-field="a"]')?.textContent ?? '',
    url: tr.querySelector('[data-field="url"]')?.textContent ?? ''
  })))
  const expected = events.map(e => ({ id: e.id, ts: e.ts, a: e.a, url: e.url }))
  t.same(await shown(), expected.slice(0, 3), 'the first page: the 3 newest events')
  await page.click('button.more')
  await page.waitForFunction(() => (globalThis as any).document.querySelectorAll('table[data-section="events"] tbody tr').length === 4)
  t.same(await shown(), expected, 'the next page follows')
  t.equal(await page.isHidden('button.more'), true, 'and is the last')

  const login = await open(t, '/user?id=l:alice', '[data-field="canonical"]')
  const loginIdentity = JSON.parse(await cli(['identity', 'l:alice', '--json']))
  t.same(await login.$$eval('table[data-section="ids"] tbody tr th', ths => ths.map(th => th.textContent)), loginIdentity.ids)
  t.match(await login.textContent('[data-section="events"]'), /Events are stored by uid/)
})

t.test('bad input: each a clear message, never a blank page', async t => {
  const xss = await open(t, '/user?id=dash-xss', 'table[data-section="events"]')
  t.equal(await xss.textContent('[data-field="url"]'), XSS_URL, 'a URL with a script tag is text')
  t.equal(await xss.textContent('[data-field="ref"]'), XSS_REF, 'a referrer with markup is text')
  t.equal(await xss.locator('main img, main script').count(), 0)
  t.equal(await xss.evaluate('window.__xss'), undefined, 'nothing ran')

  const unknown = await open(t, '/user?id=u:nobody-at-all', '[data-section="events"] .state')
  t.match(await unknown.textContent('[data-section="identity"]'), /No other id is linked to u:nobody-at-all/)
  t.match(await unknown.textContent('[data-section="events"]'), /No events are stored for uid nobody-at-all/)

  const huge = await open(t, `/user?id=${'x'.repeat(5000)}`, 'div.state.error')
  t.match(await huge.textContent('div.state.error'), /SPOOR_E_DASHBOARD_BAD_REQUEST.*the id is 5000 bytes long; ids are at most 1024 bytes/)

  const backwards = await open(t, `/?from=${to}&to=${from}`, 'div.state.error')
  t.match(await backwards.textContent('div.state.error'), /SPOOR_E_REPORT_WINDOW.*is not before to.*a window starts before it ends/)
  const notATime = await open(t, '/?from=yesterday&to=today', 'div.state.error')
  t.match(await notATime.textContent('div.state.error'), /from is not a time: "yesterday"/)
  const unstored = await open(t, `/?from=${from}&to=${to + 1}`, 'div.state.empty')
  t.equal(await unstored.textContent('pre.command'), `npx spoor report run traffic --from ${new Date(from).toISOString()} --to ${new Date(to + 1).toISOString()}`)
  const missing = await open(t, '/nowhere', 'p.state.error')
  t.match(await missing.textContent('p.state.error'), /There is no page \/nowhere/)
  t.same(violations, [], 'no CSP violation and no script error on any page')
})
