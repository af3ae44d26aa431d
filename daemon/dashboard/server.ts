// The dashboard's HTTP server: Node's own http (never the collector's uWS front door), read-only, every answer under a strict CSP.

import { readFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { join } from 'node:path'
import type { Config } from '../config'
import { errors, SpoorError } from '../errors'
import type { Logger } from '../log'
import { Access } from './access'
import { getEvents, getIdentity, getReport, listReports, reportQuery } from './data'
import { readLive } from './live'
import { errorPage, loginPage, PAGES, shell } from './pages'
import { Runs, type RunState } from './runs'

/** Scripts, styles and fetches from the dashboard's own origin only: no inline code, no other site, no framing. */
export const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy': CSP,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin'
}

/** The built browser code (npm run build:dashboard). */
export const ASSETS_DIR = join(__dirname, '..', '..', 'dashboard')

const LOGIN_BODY_MAX = 8192

export interface Dashboard {
  url: string
  port: number
  close: () => Promise<void>
}

type Api = (config: Config, q: URLSearchParams) => Promise<unknown>
const API: Record<string, Api> = {
  '/api/reports': listReports,
  '/api/report': getReport,
  '/api/identity': getIdentity,
  '/api/events': getEvents,
  '/api/live': async config => await readLive(config)
}

function loadAssets (): Map<string, { type: string, body: Buffer }> {
  const assets = new Map<string, { type: string, body: Buffer }>()
  for (const [name, type] of [['app.js', 'text/javascript; charset=utf-8'], ['app.css', 'text/css; charset=utf-8']]) {
    try {
      assets.set(`/assets/${name}`, { type, body: readFileSync(join(ASSETS_DIR, name)) })
    } catch (err) {
      throw new SpoorError('DASHBOARD_ASSETS_MISSING', `${join(ASSETS_DIR, name)} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); run \`npm run build:dashboard\``)
    }
  }
  return assets
}

function send (res: ServerResponse, status: number, type: string, body: string | Buffer, extra: Record<string, string> = {}): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': type, 'Cache-Control': 'no-store', ...extra }).end(body)
}

const html = (res: ServerResponse, status: number, body: string, extra: Record<string, string> = {}): void => send(res, status, 'text/html; charset=utf-8', body, extra)

/** The header a run must carry: a request from another origin with it needs a CORS preflight, which is never granted. */
export const RUN_HEADER = 'x-spoor-request'

/** What a missing report's error adds: the command that computes it, and whether the dashboard can run it. */
interface MissingReport { command?: string, runs?: boolean, run?: RunState }

/** A JSON error: the catalogue code, what happened, and for a missing report the command that computes it. */
function sendError (res: ServerResponse, err: Error & { code?: string } & MissingReport): void {
  const def = Object.values(errors).find(d => d.code === err.code)
  const status = def === undefined
    ? 500
    : def.status !== 0 ? def.status : ({ SPOOR_E_REPORT_NOT_FOUND: 404, SPOOR_E_REPORT_WINDOW: 400, SPOOR_E_REPORTS_TABLE_MISSING: 404, SPOOR_E_ADMIN_UNAVAILABLE: 502, SPOOR_E_HBASE_UNAVAILABLE: 503 } as Record<string, number>)[err.code ?? ''] ?? 500
  const command = err.code === errors.REPORTS_TABLE_MISSING.code ? 'npx spoor hbase init' : err.command
  const body = { error: { code: err.code ?? 'SPOOR_E_INTERNAL', message: def === undefined ? `the dashboard failed: ${err.message}` : err.message, ...(command !== undefined ? { command } : {}), ...(err.runs !== undefined ? { runs: err.runs } : {}), ...(err.run !== undefined ? { run: err.run } : {}) } }
  send(res, status, 'application/json', JSON.stringify(body))
}

/** Where to go after signing in: a path of this site only, never another origin. */
function localPath (next: string | null | undefined): string {
  return next != null && /^\/(?![/\\])[\x21-\x7e]*$/.test(next) ? next : '/'
}

async function readBody (req: IncomingMessage, max: number): Promise<string | undefined> {
  let size = 0
  const chunks: Buffer[] = []
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > max) return undefined
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** Starts the dashboard on dashboard.host:dashboard.port; refuses a non-loopback address without access control. */
export async function startDashboard (config: Config, log: Logger): Promise<Dashboard> {
  let access: Access
  try {
    access = new Access(config)
  } catch (err) {
    throw new SpoorError('CONFIG_INVALID', (err as Error).message)
  }
  const assets = loadAssets()
  const runs = new Runs(config, log)

  async function handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://dashboard')
    const path = url.pathname
    const method = req.method ?? 'GET'
    const asset = assets.get(path)
    if (asset !== undefined && (method === 'GET' || method === 'HEAD')) {
      send(res, 200, asset.type, asset.body, { 'Cache-Control': 'no-cache' })
      return
    }
    if (method === 'POST' && (path === '/login' || path === '/logout')) {
      // The only POSTs, and neither changes data; a form posted from another site is refused all the same.
      const site = req.headers['sec-fetch-site']
      if (site !== undefined && site !== 'same-origin' && site !== 'none') {
        html(res, 403, errorPage('Refused', `${errors.DASHBOARD_CROSS_SITE.code}: ${errors.DASHBOARD_CROSS_SITE.message}`))
        return
      }
      if (path === '/logout') {
        res.writeHead(303, { ...SECURITY_HEADERS, Location: '/login', 'Set-Cookie': access.clearCookie(), 'Cache-Control': 'no-store' }).end()
        return
      }
      const body = await readBody(req, LOGIN_BODY_MAX)
      const form = new URLSearchParams(body ?? '')
      const next = localPath(form.get('next'))
      if (!access.passwords) {
        html(res, 404, errorPage('No sign-in', 'dashboard.users is empty: this dashboard has no passwords to sign in with'))
        return
      }
      const user = form.get('user') ?? ''
      if (body === undefined || !await access.check(user, form.get('password') ?? '')) {
        log.warn({ user: user.slice(0, 64), peer: req.socket.remoteAddress }, 'dashboard: failed sign-in')
        html(res, 401, loginPage(next, errors.DASHBOARD_LOGIN_FAILED.message))
        return
      }
      res.writeHead(303, { ...SECURITY_HEADERS, Location: next, 'Set-Cookie': access.sessionCookie(user), 'Cache-Control': 'no-store' }).end()
      return
    }
    const run = method === 'POST' && path === '/api/run'
    if (method !== 'GET' && method !== 'HEAD' && !run) {
      send(res, 405, 'text/plain; charset=utf-8', 'the dashboard is read-only: it answers GET and HEAD, POST /login and /logout, and POST /api/run when dashboard.allow_runs is on\n', { Allow: 'GET, HEAD' })
      return
    }
    if (path === '/login') {
      html(res, access.passwords ? 200 : 404, access.passwords ? loginPage(localPath(url.searchParams.get('next'))) : errorPage('No sign-in', 'dashboard.users is empty: this dashboard has no passwords to sign in with'))
      return
    }
    const who = access.who(req)
    const page = PAGES.find(p => p.path === path)
    const api = Object.hasOwn(API, path) ? API[path] : undefined
    const json = api !== undefined || path === '/api/run'
    if (who === undefined) {
      if (json || !access.passwords) {
        // Without passwords only the proxy signs people in: there is no form to send them to.
        const message = access.passwords ? errors.DASHBOARD_SIGN_IN.message : `${errors.DASHBOARD_SIGN_IN.message}, through the proxy that sets ${config.dashboard.proxyUserHeader}`
        if (json) send(res, 401, 'application/json', JSON.stringify({ error: { code: errors.DASHBOARD_SIGN_IN.code, message } }))
        else html(res, 401, errorPage('Sign in', message))
      } else {
        res.writeHead(303, { ...SECURITY_HEADERS, Location: `/login?next=${encodeURIComponent(req.url ?? '/')}`, 'Cache-Control': 'no-store' }).end()
      }
      return
    }
    if (page !== undefined) {
      html(res, 200, shell(page, who.user, who.via === 'password'))
    } else if (path === '/api/run') {
      try {
        const asked = reportQuery(url.searchParams)
        if (!run) {
          send(res, 200, 'application/json', JSON.stringify({ runs: runs.allowed, run: runs.state(asked) ?? null }))
          return
        }
        // The one route that writes (a report row): only from the dashboard's own pages, never from another site.
        const site = req.headers['sec-fetch-site']
        if ((site !== undefined && site !== 'same-origin') || req.headers[RUN_HEADER] !== 'run') {
          throw new SpoorError('DASHBOARD_CROSS_SITE', `a run is asked for from the dashboard's own pages only (Sec-Fetch-Site: same-origin, ${RUN_HEADER}: run)`)
        }
        send(res, 202, 'application/json', JSON.stringify({ runs: true, run: runs.start(asked, who.user) }))
      } catch (err) {
        sendError(res, err as Error)
      }
    } else if (api !== undefined) {
      try {
        send(res, 200, 'application/json', JSON.stringify(await api(config, url.searchParams)))
      } catch (err) {
        if ((err as { code?: string }).code === undefined) log.error({ err, path }, 'dashboard: a read failed')
        if (path === '/api/report' && (err as { code?: string }).code === errors.REPORT_NOT_FOUND.code) {
          Object.assign(err as Error, { runs: runs.allowed, run: runs.state(reportQuery(url.searchParams)) })
        }
        sendError(res, err as Error)
      }
    } else {
      html(res, 404, errorPage('Not found', `There is no page ${path}. The pages are ${PAGES.map(p => p.path).join(', ')}.`))
    }
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => {
      log.error({ err }, 'dashboard: a request failed')
      if (!res.headersSent) sendError(res, err)
      else res.destroy()
    })
  })
  // Node answers a request it cannot parse (a head over 16 KiB, say) itself, without the CSP: answered here instead.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (!socket.writable) return
    const tooLarge = err.code === 'HPE_HEADER_OVERFLOW'
    const body = errorPage(tooLarge ? 'Request too large' : 'Bad request', tooLarge ? 'The address or its headers are too long for the dashboard (16 KiB at most); ids are at most 1024 bytes.' : 'The request could not be read.')
    const head = Object.entries({ ...SECURITY_HEADERS, 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': String(Buffer.byteLength(body)), Connection: 'close' }).map(([k, v]) => `${k}: ${v}\r\n`).join('')
    socket.end(`HTTP/1.1 ${tooLarge ? '431 Request Header Fields Too Large' : '400 Bad Request'}\r\n${head}\r\n${body}`)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(config.dashboard.port, config.dashboard.host, () => resolve())
  })
  const port = (server.address() as AddressInfo).port
  const host = config.dashboard.host.includes(':') ? `[${config.dashboard.host}]` : config.dashboard.host
  const url = `http://${host}:${port}/`
  log.info({ host: config.dashboard.host, port, access: access.open ? 'loopback only' : [access.passwords ? 'passwords' : '', config.dashboard.proxyUserHeader !== '' ? 'proxy header' : ''].filter(a => a !== '').join(' and ') }, 'dashboard listening')
  return {
    url,
    port,
    close: async () => {
      const closed = new Promise(resolve => server.close(resolve))
      server.closeAllConnections()
      await closed
    }
  }
}
