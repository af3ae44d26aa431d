// The HTTP front door: the tracking pixel, the batch endpoint and health, on uWebSockets.js.

import { randomBytes } from 'node:crypto'
import * as uws from 'uWebSockets.js'
import type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket } from 'uWebSockets.js'
import type { Batcher } from './batcher'
import { clientIp, type TrustedProxies } from './client-ip'
import type { Config } from './config'
import { errors, nativeErrors, type ErrorDef } from './errors'
import { serveAsset, serveIdGif, syncAsset, trackerAsset } from './identity-routes'
import { postHead, receiveBody } from './post-body'
import { endHead } from './response'
import { ANONYMOUS, NOTHING, privacyChoice, serveOptOut } from './privacy'
import type { Logger } from './log'
import { BATCH_FULL, NEW_UID, type Encoder } from './native'
import { ROUTE, type SharedState, type ThreadCounters } from './shared-state'
import { snowplowHandlers, TP2_PATH, type SnowplowHandlers } from './snowplow-routes'

/** The 43-byte transparent 1×1 GIF, byte for byte what nginx's empty_gif serves. */
export const GIF = Buffer.from([
  0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x01, 0x00, 0x00, 0x00, 0x00,
  0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
  0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b
])

const STATUS_TEXT: Record<number, string> = {
  200: '200 OK',
  204: '204 No Content',
  302: '302 Found',
  400: '400 Bad Request',
  404: '404 Not Found',
  411: '411 Length Required',
  413: '413 Payload Too Large',
  414: '414 URI Too Long',
  415: '415 Unsupported Media Type',
  431: '431 Request Header Fields Too Large',
  500: '500 Internal Server Error',
  503: '503 Service Unavailable'
}

// Header names and values as bytes, so the pixel handler converts no strings.
const H_CONTENT_TYPE = Buffer.from('Content-Type')
const H_CACHE_CONTROL = Buffer.from('Cache-Control')
const H_SET_COOKIE = Buffer.from('Set-Cookie')
const V_GIF = Buffer.from('image/gif')
const V_NO_STORE = Buffer.from('no-store, no-cache, must-revalidate, max-age=0')

export interface ServerContext {
  config: Config
  encoder: Encoder
  batcher: Batcher
  /** Flags, buffer size and counters shared with the main thread. */
  state: SharedState
  /** This thread's counters. */
  counters: ThreadCounters
  /** Load balancers whose forwarding headers are believed. */
  trusted: TrustedProxies
}

export interface Server {
  port: number
  /** Closes the listen socket; keep-alive connections stay until they close. */
  close: () => void
  /** Closes the listen socket and every connection, so that the thread can end. */
  closeAll: () => void
  /** Swaps in handlers built from a new context (a reload); requests already running finish on the old ones. */
  reload: (ctx: ServerContext) => void
}

function errorBody (def: ErrorDef): Buffer {
  return Buffer.from(JSON.stringify({ error: { code: def.code, message: def.message } }))
}

/** The cookie header the encoder writes new uids into: `name=<32 hex>; attributes`. */
function cookieTemplate (config: Config): { header: Buffer, uidOut: Buffer } {
  const c = config.cookie
  let attrs = `; Max-Age=${c.maxAgeDays * 86400}; Path=/; SameSite=${c.sameSite}; HttpOnly`
  if (c.domain !== '') attrs += `; Domain=${c.domain}`
  if (c.secure) attrs += '; Secure'
  const header = Buffer.from(`${c.name}=${'0'.repeat(32)}${attrs}`, 'latin1')
  return { header, uidOut: header.subarray(c.name.length + 1) }
}

/** The uid of pixels from browsers that refuse the cookie (identity.bounce): one known "no cookie" user. */
const NO_COOKIE_UID = `uid=${'0'.repeat(32)}&`
/** Added at the end of the pixel's query by the bounce redirect; unknown to the encoder, so not stored. */
const BOUNCED = '_b=1'

export interface Handlers {
  pixel: (res: HttpResponse, req: HttpRequest) => void
  tracker: (res: HttpResponse, req: HttpRequest) => void
  sync: (res: HttpResponse, req: HttpRequest) => void
  idGif: (res: HttpResponse, req: HttpRequest) => void
  optOut: (res: HttpResponse, req: HttpRequest) => void
  optIn: (res: HttpResponse, req: HttpRequest) => void
  pixelHead: (res: HttpResponse) => void
  postEvents: (res: HttpResponse, req: HttpRequest) => void
  preflight: (res: HttpResponse, req: HttpRequest) => void
  health: (res: HttpResponse) => void
  notFound: (res: HttpResponse) => void
  /** The Snowplow tracker protocol: GET /i, the tp2 POST and its preflight. */
  snowplow: SnowplowHandlers
}

/** The route handlers, apart from the app, so that bench/ can time them in-process. */
export function handlers (ctx: ServerContext): Handlers {
  const { config, encoder, batcher, state, counters, trusted } = ctx
  const { header: cookieHeader, uidOut } = cookieTemplate(config)
  const bodies = new Map<ErrorDef, Buffer>(Object.values(errors).map(def => [def, errorBody(def)]))
  const retryAfter = String(config.buffer.retryAfterSeconds)
  const highWater = config.buffer.highWaterBytes
  const maxBytes = config.buffer.maxBytes
  const maxHeader = config.limits.maxHeaderBytes
  const dropPixelOverHighWater = config.buffer.pixelOverHighWater === 'drop'
  const allowAnyOrigin = config.server.corsOrigins.includes('*')
  const allowedOrigins = new Set(config.server.corsOrigins)
  const { cookie: useCookie, bounce, etag: useEtag, storage: useStorage } = config.identity
  const cookieSet = `${config.cookie.name}=`
  const privacy = privacyChoice(config)
  const trackerJs = trackerAsset(config)
  const syncPage = useStorage ? syncAsset(config) : undefined

  function failRoute (res: HttpResponse, route: number, def: ErrorDef, close = false, origin = ''): void {
    counters.reject(def.code)
    counters.request(route, def.status)
    res.writeStatus(STATUS_TEXT[def.status])
    writeCors(res, origin)
    res.writeHeader('Content-Type', 'application/json')
    if (def.status === 503) res.writeHeader('Retry-After', retryAfter)
    res.end(bodies.get(def) as Buffer, close || state.draining)
  }

  /** Echoes an allowed Origin; call after writeStatus, as uWS sends 200 for a header written before it. */
  function writeCors (res: HttpResponse, origin: string): void {
    if (origin === '' || !(allowAnyOrigin || allowedOrigins.has(origin))) return
    res.writeHeader('Access-Control-Allow-Origin', origin)
    res.writeHeader('Access-Control-Allow-Credentials', 'true')
    // The tracker waits as long as a 503 says; browsers hide the header from cross-origin scripts otherwise.
    res.writeHeader('Access-Control-Expose-Headers', 'Retry-After')
    res.writeHeader('Vary', 'Origin')
  }

  function pixel (res: HttpResponse, req: HttpRequest): void {
    const userAgent = req.getHeader('user-agent')
    const referer = req.getHeader('referer')
    const cookies = req.getHeader('cookie')
    if (userAgent.length > maxHeader || referer.length > maxHeader || cookies.length > maxHeader) {
      failRoute(res, ROUTE.pixel, errors.HEADER_TOO_LARGE)
      return
    }
    const choice = privacy(req, cookies)
    const anonymous = choice === ANONYMOUS
    const cookie = useCookie && !anonymous ? cookies : ''
    let query = req.getQuery() ?? ''
    if (bounce && !anonymous && !cookie.includes(cookieSet)) {
      if (query !== BOUNCED && !query.endsWith(`&${BOUNCED}`)) {
        bounceBack(res, query)
        return
      }
      query = NO_COOKIE_UID + query
    }
    const size = state.bufferBytes
    if (choice === NOTHING || size >= maxBytes || (dropPixelOverHighWater && size >= highWater) || !state.accepting) {
      counters.dropped()
    } else {
      const ip = trusted.empty ? res.getRemoteAddress() : forwardedIp(res, req)
      const r = encoder.pixel(query, userAgent, referer, cookie, ip, Date.now(), uidOut, anonymous)
      if (r < 0) {
        failRoute(res, ROUTE.pixel, nativeErrors[-r - 1])
        return
      }
      counters.accepted(1)
      if ((r & NEW_UID) !== 0 && useCookie) res.writeHeader(H_SET_COOKIE, cookieHeader)
      if ((r & BATCH_FULL) !== 0) batcher.drainSoon()
    }
    counters.request(ROUTE.pixel, 200)
    res.writeHeader(H_CONTENT_TYPE, V_GIF)
    res.writeHeader(H_CACHE_CONTROL, V_NO_STORE)
    res.end(GIF, state.draining)
  }

  /**
   * The third-party cookie check: a pixel without the cookie is sent back to itself with one set. If it returns
   * without it too, the browser refuses the cookie, and the pixel is stored under the no-cookie uid.
   */
  function bounceBack (res: HttpResponse, query: string): void {
    counters.request(ROUTE.pixel, 302)
    uidOut.write(randomBytes(16).toString('hex'), 0, 'latin1')
    res.writeStatus(STATUS_TEXT[302])
    res.writeHeader('Location', `/p.gif?${query === '' ? '' : `${query}&`}${BOUNCED}`)
    res.writeHeader(H_SET_COOKIE, cookieHeader)
    res.writeHeader(H_CACHE_CONTROL, V_NO_STORE)
    res.end(undefined, state.draining)
  }

  /** The client address from the forwarding headers, when the peer is a trusted load balancer. */
  function forwardedIp (res: HttpResponse, req: HttpRequest): ArrayBuffer {
    // Copied: the peer may be the answer, and uWS's buffer is only valid inside the handler.
    const peer = new Uint8Array(res.getRemoteAddress().slice(0))
    let xff = ''
    let fwd = ''
    // getHeader() returns only the first line of a repeated header, the one a client could have sent.
    req.forEach((key, value) => {
      if (key === 'x-forwarded-for') xff = xff === '' ? value : `${xff},${value}`
      else if (key === 'forwarded') fwd = fwd === '' ? value : `${fwd},${value}`
    })
    return clientIp(peer, xff, fwd, trusted).buffer as ArrayBuffer
  }

  function postEvents (res: HttpResponse, req: HttpRequest): void {
    const userAgent = req.getHeader('user-agent')
    const referer = req.getHeader('referer')
    const cookies = req.getHeader('cookie')
    const origin = req.getHeader('origin')
    const head = postHead(req, userAgent, referer, cookies)
    const choice = privacy(req, cookies)
    const anonymous = choice === ANONYMOUS
    const cookie = useCookie && !anonymous ? cookies : ''
    // The address buffer is only valid inside this handler; the body arrives later.
    const ip = trusted.empty ? res.getRemoteAddress().slice(0) : forwardedIp(res, req)
    const fail = (def: ErrorDef, close: boolean): void => failRoute(res, ROUTE.events, def, close, origin)
    receiveBody(res, head, config, state, fail, (body, exchange) => {
      if (choice === NOTHING) {
        // Answered as stored, so that the tracker does not send it again; nothing of it is.
        exchange.done = true
        counters.dropped()
        counters.request(ROUTE.events, 204)
        return res.cork(() => {
          res.writeStatus(STATUS_TEXT[204])
          writeCors(res, origin)
          res.end(undefined, state.draining)
        })
      }
      const pending = encoder.pending
      const r = encoder.events(body, userAgent, referer, cookie, ip, Date.now(), uidOut, anonymous)
      if (r < 0) {
        exchange.done = true
        return res.cork(() => fail(nativeErrors[-r - 1], false))
      }
      counters.accepted(encoder.pending - pending)
      // The template is shared by every request: copy the new uid before anything else can write it.
      const setCookie = (r & NEW_UID) !== 0 && useCookie ? cookieHeader.toString('latin1') : undefined
      batcher.committed().then(
        () => {
          if (exchange.done) return
          exchange.done = true
          counters.request(ROUTE.events, 204)
          res.cork(() => {
            res.writeStatus(STATUS_TEXT[204])
            writeCors(res, origin)
            if (setCookie != null) res.writeHeader(H_SET_COOKIE, setCookie)
            res.end(undefined, state.draining)
          })
        },
        () => {
          if (exchange.done) return
          exchange.done = true
          res.cork(() => fail(errors.BUFFER_WRITE_FAILED, false))
        }
      )
    })
  }

  function preflight (res: HttpResponse, req: HttpRequest): void {
    counters.request(ROUTE.preflight, 204)
    res.writeStatus(STATUS_TEXT[204])
    writeCors(res, req.getHeader('origin'))
    res.writeHeader('Access-Control-Allow-Methods', 'POST, OPTIONS')
    res.writeHeader('Access-Control-Allow-Headers', 'Content-Type')
    res.writeHeader('Access-Control-Max-Age', '86400')
    res.end(undefined, state.draining)
  }

  function health (res: HttpResponse): void {
    const body = healthBody(state, config)
    counters.request(ROUTE.healthz, body.status === 'ok' ? 200 : 503)
    res.writeStatus(STATUS_TEXT[body.status === 'ok' ? 200 : 503])
    res.writeHeader('Content-Type', 'application/json')
    res.writeHeader('Cache-Control', 'no-store')
    res.end(JSON.stringify(body), state.draining)
  }

  function pixelHead (res: HttpResponse): void {
    counters.request(ROUTE.pixel_head, 200)
    res.writeHeader(H_CONTENT_TYPE, V_GIF)
    res.writeHeader(H_CACHE_CONTROL, V_NO_STORE)
    endHead(res, state.draining)
  }

  const notFound = (res: HttpResponse): void => failRoute(res, ROUTE.other, errors.NOT_FOUND)
  const clientAddress = (res: HttpResponse, req: HttpRequest): ArrayBuffer => trusted.empty ? res.getRemoteAddress() : forwardedIp(res, req)
  const snowplow = snowplowHandlers({ config, encoder, batcher, state, counters, cookieHeader, uidOut, gif: GIF, failRoute, writeCors, clientIp: clientAddress, privacy })
  return {
    snowplow,
    pixel,
    pixelHead,
    postEvents,
    preflight,
    health,
    tracker: (res, req) => counters.request(ROUTE.tracker, serveAsset(res, req, trackerJs, state.draining)),
    sync: (res, req) => syncPage === undefined ? notFound(res) : counters.request(ROUTE.sync, serveAsset(res, req, syncPage, state.draining)),
    idGif: (res, req) => useEtag ? counters.request(ROUTE.id, serveIdGif(res, req, GIF, state.draining)) : notFound(res),
    optOut: (res, req) => counters.request(ROUTE.optout, serveOptOut(res, req, config, true, state.draining)),
    optIn: (res, req) => counters.request(ROUTE.optout, serveOptOut(res, req, config, false, state.draining)),
    notFound
  }
}

/** What /healthz answers: 503 while draining or over the high-water mark, so a load balancer takes the node out. */
export function healthBody (state: SharedState, config: Config): { status: string } & Record<string, unknown> {
  const bytes = state.bufferBytes
  const status = state.draining ? 'draining' : bytes >= config.buffer.highWaterBytes ? 'over_high_water' : 'ok'
  const metrics = state.snapshot()
  return {
    status,
    buffer: { bytes, batches: metrics.bufferBatches, highWaterBytes: config.buffer.highWaterBytes },
    batch: { events: state.eventsAccepted - (metrics.eventsBuffered as number) - (metrics.eventsLost as number) },
    flush: { active: metrics.flushActive },
    metrics
  }
}

export function listen (ctx: ServerContext, log: Logger, extraRoutes?: (app: TemplatedApp) => void): Promise<Server> {
  const { config } = ctx
  let h = handlers(ctx)
  // Routes call through `h`, so that a reload swaps every handler at once.
  const app = uws.App()
    .get('/p.gif', (res, req) => h.pixel(res, req))
    .head('/p.gif', res => h.pixelHead(res))
    .post('/e', (res, req) => h.postEvents(res, req))
    .options('/e', (res, req) => h.preflight(res, req))
    .get('/healthz', res => h.health(res))
    .get('/t.js', (res, req) => h.tracker(res, req))
    .get('/sync.html', (res, req) => h.sync(res, req))
    .get('/id.gif', (res, req) => h.idGif(res, req))
    .get('/optout', (res, req) => h.optOut(res, req))
    .get('/optin', (res, req) => h.optIn(res, req))
    .get('/i', (res, req) => h.snowplow.pixel(res, req))
    .post(TP2_PATH, (res, req) => h.snowplow.post(res, req))
    .options(TP2_PATH, (res, req) => h.snowplow.preflight(res, req))
  extraRoutes?.(app)
  app.any('/*', res => h.notFound(res))

  return new Promise((resolve, reject) => {
    app.listen(config.server.host, config.server.port, (token: us_listen_socket | false) => {
      if (token === false) {
        reject(new Error(`cannot listen on ${config.server.host}:${config.server.port}`))
        return
      }
      const port = uws.us_socket_local_port(token)
      log.debug({ host: config.server.host, port }, 'serving thread listening')
      resolve({
        port,
        close: () => uws.us_listen_socket_close(token),
        // This build has TemplatedApp.close, though its type declarations leave it out.
        closeAll: () => (app as TemplatedApp & { close: () => void }).close(),
        reload: next => { h = handlers(next) }
      })
    })
  })
}
