// The development demo: a page that fires the pixel and a POST batch, and reads the visitor's events back from HBase.

import type { HttpResponse, TemplatedApp } from 'uWebSockets.js'
import type { Config } from '../config'
import { HBaseClient } from '../hbase/client'
import { scanPrefix, type Row } from '../hbase/reader'
import type { Logger } from '../log'
import { userRowPrefix } from '../native'

const PAGE = `<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>spoor demo</title>
<style>
  body { font: 15px/1.4 system-ui, sans-serif; margin: 2rem auto; max-width: 70rem; padding: 0 1rem }
  table { border-collapse: collapse; width: 100% } td, th { border-bottom: 1px solid #ddd; padding: .3rem .5rem; text-align: left; font-size: 13px }
  code { background: #f4f4f4; padding: 0 .2rem }
</style>
<h1>spoor demo</h1>
<p>This page sent a pixel hit (<code>GET /p.gif</code>) and a batch of two events (<code>POST /e</code>).
Below are this browser's events as read back from HBase, newest first.</p>
<p id="status">waiting for HBase…</p>
<table><thead><tr><th>time</th><th>action</th><th>item</th><th>channel</th><th>url</th><th>data</th><th>uid</th></tr></thead><tbody id="rows"></tbody></table>
<script>
const status = document.getElementById('status')
const rows = document.getElementById('rows')
function hit () {
  return new Promise(resolve => {
    const img = new Image()
    img.onload = img.onerror = resolve
    img.src = '/p.gif?p=demo&a=page&url=' + encodeURIComponent(location.href) + '&ref=' + encodeURIComponent(document.referrer)
  })
}
async function post () {
  const events = [
    { p: 'demo', a: 'view', it: 'question-42', ch: 'databases', url: location.href, d: { scroll: 0.5 } },
    { p: 'demo', a: 'like', it: 'question-42', ch: 'databases', url: location.href }
  ]
  const res = await fetch('/e', { method: 'POST', credentials: 'include', headers: { 'content-type': 'application/json' }, body: JSON.stringify(events) })
  if (res.status !== 204) throw new Error('POST /e answered ' + res.status)
}
function cell (text) { const td = document.createElement('td'); td.textContent = text ?? ''; return td }
async function show () {
  for (let i = 0; i < 60; i++) {
    const res = await fetch('/api/events?limit=20', { credentials: 'include' })
    const body = await res.json()
    if (!res.ok) { status.textContent = body.error.message; return }
    if (body.events.length >= 3) {
      status.textContent = body.events.length + ' events for this browser in HBase (uid ' + body.uid + ')'
      rows.replaceChildren(...body.events.map(e => {
        const tr = document.createElement('tr')
        tr.append(cell(new Date(e.ts).toISOString()), cell(e.cells.a), cell(e.cells.it), cell(e.cells.ch), cell(e.cells.url), cell(e.cells.d), cell(e.cells.uid))
        return tr
      }))
      return
    }
    await new Promise(resolve => setTimeout(resolve, 500))
  }
  status.textContent = 'no events arrived in HBase within 30 s: is the flush failing? see the collector log'
}
hit().then(post).then(show).catch(err => { status.textContent = String(err) })
</script>
</html>
`

function uidFromCookie (cookie: string, name: string): string | undefined {
  for (const part of cookie.split(';')) {
    const [k, v] = part.trim().split('=')
    if (k === name && v != null && /^[0-9a-f]{32}$/i.test(v)) return v.toLowerCase()
  }
  return undefined
}

export function demoRoutes (app: TemplatedApp, config: Config, log: Logger): void {
  let client: Promise<HBaseClient> | undefined
  const hbase = async (): Promise<HBaseClient> => {
    const c = await client
    if (c?.isOpen === true) return c
    client = HBaseClient.connect({ host: config.hbase.host, port: config.hbase.port, connectTimeoutMs: 5000, requestTimeoutMs: 10000 })
    return await client
  }

  function json (res: HttpResponse, status: string, body: unknown): void {
    res.cork(() => {
      res.writeStatus(status)
      res.writeHeader('Content-Type', 'application/json')
      res.writeHeader('Cache-Control', 'no-store')
      res.end(JSON.stringify(body))
    })
  }

  app.get('/', res => {
    res.writeHeader('Content-Type', 'text/html; charset=utf-8')
    res.end(PAGE)
  })

  app.get('/api/events', (res, req) => {
    const uid = req.getQuery('uid') ?? uidFromCookie(req.getHeader('cookie'), config.cookie.name)
    const limit = Math.min(Number(req.getQuery('limit') ?? 20) || 20, 1000)
    let aborted = false
    res.onAborted(() => { aborted = true })
    if (uid == null || uid === '') {
      json(res, '400 Bad Request', { error: { message: 'no uid: pass ?uid= or send the uid cookie' } })
      return
    }
    hbase()
      .then(async c => await scanPrefix(c, config.hbase.userTable, userRowPrefix(uid, config.hbase.saltBuckets), limit))
      .then(
        (rows: Row[]) => { if (!aborted) json(res, '200 OK', { uid, events: rows.map(r => ({ ts: r.ts, cells: r.cells })) }) },
        (err: Error) => {
          log.warn({ err }, 'demo read-back failed')
          if (!aborted) json(res, '503 Service Unavailable', { error: { message: `HBase read failed: ${err.message}` } })
        }
      )
  })
}
