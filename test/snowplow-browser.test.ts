// Snowplow's browser tracker in a real Chromium, on a page of another origin than the collector: CORS, the preflight, and the events in HBase.

import { createServer, type Server } from 'node:http'
import { once } from 'node:events'
import { join } from 'node:path'
import { build } from 'esbuild'
import { type Browser, chromium } from 'playwright-core'
import t from 'tap'
import { HBaseClient } from '../daemon/hbase/client'
import { scanTimeRange } from '../daemon/hbase/reader'
import { TP2_PATH } from '../daemon/http/snowplow-routes'
import { flushed, startDaemon, type Daemon } from './fixtures/daemon'
import { freshTables, SALT_BUCKETS, THRIFT_PORT } from './fixtures/hbase'
import { eventId, uid16 } from './reference/encoder'

const CHROMIUM = process.env.SPOOR_CHROMIUM ?? '/usr/bin/chromium'
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--host-resolver-rules=MAP *.test 127.0.0.1']
const APP = 'browser-sp'
const PAGE_CONTEXT = { schema: 'iglu:com.acme/page_kind/jsonschema/1-0-0', data: { kind: 'article' } }
const CLICK = { schema: 'iglu:com.acme/button_click/jsonschema/1-0-0', data: { id: 'buy', n: 2 } }

let hbase: Record<string, unknown>
let daemon: Daemon
let site: Server
let browser: Browser
const started = Date.now()

/** The page's script: Snowplow's browser tracker, bundled, sending to the collector on its own origin. */
async function pageScript (collector: string): Promise<string> {
  const contents = `import { newTracker, setUserId, trackPageView, trackSelfDescribingEvent, trackStructEvent } from '@snowplow/browser-tracker'
newTracker('sp', ${JSON.stringify(collector)}, { appId: ${JSON.stringify(APP)}, eventMethod: 'post', cookieSecure: false })
setUserId('zoe@example')
trackPageView({ title: 'An article' })
trackStructEvent({ category: 'video', action: 'play', label: 'intro.mp4', value: 3 })
trackSelfDescribingEvent({ event: ${JSON.stringify(CLICK)}, context: [${JSON.stringify(PAGE_CONTEXT)}] })`
  const out = await build({ stdin: { contents, resolveDir: join(__dirname, '..', '..'), loader: 'js' }, bundle: true, format: 'iife', write: false, logLevel: 'silent' })
  return out.outputFiles[0].text
}

t.before(async () => {
  hbase = await freshTables('spbrowser')
  daemon = await startDaemon({ hbase })
  const script = await pageScript(`http://collector.test:${daemon.port}`)
  site = createServer((req, res) => {
    if (req.url === '/sp.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' })
      res.end(script)
    } else {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
      res.end('<!doctype html><meta charset="utf-8"><title>An article</title><script src="/sp.js"></script><body>article</body>')
    }
  })
  site.listen(0, '127.0.0.1')
  await once(site, 'listening')
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS })
})

t.teardown(async () => {
  await browser?.close()
  site?.close()
  await daemon?.stop()
})

t.test('the browser tracker POSTs across origins and its events land mapped', async t => {
  const port = (site.address() as { port: number }).port
  const url = `http://site.test:${port}/article`
  const page = await (await browser.newContext()).newPage()
  const answer = async (e: string): Promise<import('playwright-core').Response> => await page.waitForResponse(r =>
    r.url() === `http://collector.test:${daemon.port}${TP2_PATH}` && r.request().method() === 'POST' && (r.request().postData() ?? '').includes(`"e":"${e}"`), { timeout: 30000 })
  const answers = Promise.all(['pv', 'se', 'ue'].map(answer))
  await page.goto(url, { referer: 'http://search.test/results' })
  // The tracker may batch: one POST can answer several of the waits.
  const responses = [...new Set(await answers)]

  for (const r of responses) {
    t.equal(r.status(), 200, 'the POST is answered 200')
    const headers = await r.request().allHeaders()
    t.match(headers['content-type'], /^application\/json; charset=UTF-8$/i, 'sent as JSON, so preflighted')
    t.equal(headers.origin, `http://site.test:${port}`)
    t.equal(r.headers()['access-control-allow-origin'], `http://site.test:${port}`)
    t.equal(r.headers()['access-control-allow-credentials'], 'true')
  }
  const sent = responses.flatMap(r => JSON.parse(r.request().postData() ?? '{}').data as Array<Record<string, string>>)
  const byType = (e: string): Record<string, string> => sent.find(p => p.e === e) as Record<string, string>
  const health = await flushed(daemon)
  const requests = health.metrics.requests as Array<{ route: string, status: number, count: number }>
  t.ok(requests.some(r => r.route === 'snowplow_preflight' && r.status === 204), 'the browser preflighted the POST, counted under the tp2 preflight\'s own route')

  const rows = await HBaseClient.using({ host: '127.0.0.1', port: THRIFT_PORT }, async c =>
    await scanTimeRange(c, hbase.time_table as string, SALT_BUCKETS, started, Date.now() + 1000, 1000))
  const stored = rows.map(r => r.cells).filter(e => e.p === APP)
  t.equal(stored.length, 3, 'three events')
  for (const e of ['pv', 'se', 'ue']) {
    const p = byType(e)
    const uid = p.duid
    t.match(uid, /^[0-9a-f-]{36}$/, 'the domain user id, as the browser tracker sends no network user id')
    const row = stored.find(s => s.id === eventId(uid16(uid), p.eid).toString('hex'))
    if (row === undefined) {
      t.fail(`${e}: no row with the id its eid gives`)
      continue
    }
    t.match(row, { uid, lid: 'zoe@example', sid: p.sid, p: APP, url, ref: 'http://search.test/results', ct: p.dtm }, `${e}: mapped fields`)
    const d = JSON.parse(row.d)
    t.match(d, { e, platform: 'web', tna: 'sp', vid: p.vid, res: p.res, lang: p.lang }, `${e}: d`)
    t.ok(d.contexts.some((c: { schema: string }) => c.schema.startsWith('iglu:com.snowplowanalytics.snowplow/web_page/')), `${e}: the web_page context`)
  }
  const [pv, se, ue] = ['pv', 'se', 'ue'].map(e => stored.find(s => s.id === eventId(uid16(byType(e).duid), byType(e).eid).toString('hex')))
  t.equal(pv?.a, 'page')
  t.equal(JSON.parse(pv?.d ?? '{}').page, 'An article', 'the page title, which only page views carry')
  t.match(se, { a: 'play', ch: 'video', it: 'intro.mp4' })
  t.equal(ue?.a, 'com.acme/button_click')
  const ud = JSON.parse(ue?.d ?? '{}')
  t.same(ud.ue, CLICK)
  t.ok(ud.contexts.some((c: unknown) => JSON.stringify(c) === JSON.stringify(PAGE_CONTEXT)), 'the event\'s own context')
})
