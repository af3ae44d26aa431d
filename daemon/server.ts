// The HTTP front door: the tracking pixel, the batch endpoint and health, on uWebSockets.js.

import * as uws from 'uWebSockets.js'
import type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket } from 'uWebSockets.js'
import type { Batcher } from './batcher'
import type { EventBuffer } from './buffer'
import type { Config } from './config'
import { errors, nativeErrors, type ErrorDef } from './errors'
import type { Logger } from './log'
import type { Metrics } from './metrics'
import { BATCH_FULL, NEW_UID, type Encoder } from './native'

/** The 43-byte transparent 1×1 GIF, byte for byte what nginx's empty_gif serves. */
export const GIF = Buffer.from([
  0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x01, 0x00, 0x00, 0x00, 0x00,
  0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
  0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b
])

const STATUS_TEXT: Record<number, string> = {
  200: '200 OK',
  204: '204 No Content',
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
  buffer: EventBuffer
  metrics: Metrics
  log: Logger
  /** True once shutdown has begun: health fails. */
  isDraining: () => boolean
  /** False once the in-memory batch has been committed for the last time: nothing more is recorded. */
  isAccepting: () => boolean
  /** Extra routes, such as the demo page; called after the core routes are set. */
  extraRoutes?: (app: TemplatedApp) => void
  /** Extra fields for /healthz. */
  health?: () => Record<string, unknown>
}

export interface Server {
  port: number
  close: () => void
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

export interface Handlers {
  pixel: (res: HttpResponse, req: HttpRequest) => void
  pixelHead: (res: HttpResponse) => void
  postEvents: (res: HttpResponse, req: HttpRequest) => void
  preflight: (res: HttpResponse, req: HttpRequest) => void
  health: (res: HttpResponse) => void
  notFound: (res: HttpResponse) => void
}

/** The route handlers, apart from the app, so that bench/ can time them in-process. */
export function handlers (ctx: ServerContext): Handlers {
  const { config, encoder, batcher, buffer, metrics } = ctx
  const { header: cookieHeader, uidOut } = cookieTemplate(config)
  const bodies = new Map<ErrorDef, Buffer>(Object.values(errors).map(def => [def, errorBody(def)]))
  const retryAfter = String(config.buffer.retryAfterSeconds)
  const highWater = config.buffer.highWaterBytes
  const maxBytes = config.buffer.maxBytes
  const maxHeader = config.limits.maxHeaderBytes
  const dropPixelOverHighWater = config.buffer.pixelOverHighWater === 'drop'
  const allowAnyOrigin = config.server.corsOrigins.includes('*')
  const allowedOrigins = new Set(config.server.corsOrigins)

  function fail (res: HttpResponse, def: ErrorDef, close = false, origin = ''): void {
    metrics.reject(def.code)
    res.writeStatus(STATUS_TEXT[def.status])
    writeCors(res, origin)
    res.writeHeader('Content-Type', 'application/json')
    if (def.status === 503) res.writeHeader('Retry-After', retryAfter)
    res.end(bodies.get(def) as Buffer, close)
  }

  /** Echoes an allowed Origin; call after writeStatus, as uWS sends 200 for a header written before it. */
  function writeCors (res: HttpResponse, origin: string): void {
    if (origin === '' || !(allowAnyOrigin || allowedOrigins.has(origin))) return
    res.writeHeader('Access-Control-Allow-Origin', origin)
    res.writeHeader('Access-Control-Allow-Credentials', 'true')
    res.writeHeader('Vary', 'Origin')
  }

  function pixel (res: HttpResponse, req: HttpRequest): void {
    const userAgent = req.getHeader('user-agent')
    const referer = req.getHeader('referer')
    const cookie = req.getHeader('cookie')
    if (userAgent.length > maxHeader || referer.length > maxHeader || cookie.length > maxHeader) {
      fail(res, errors.HEADER_TOO_LARGE)
      return
    }
    const size = buffer.size
    if (size >= maxBytes || (dropPixelOverHighWater && size >= highWater) || !ctx.isAccepting()) {
      metrics.eventsDropped++
    } else {
      const r = encoder.pixel(req.getQuery() ?? '', userAgent, referer, cookie, res.getRemoteAddress(), Date.now(), uidOut)
      if (r < 0) {
        fail(res, nativeErrors[-r - 1])
        return
      }
      metrics.eventsAccepted++
      if ((r & NEW_UID) !== 0) res.writeHeader(H_SET_COOKIE, cookieHeader)
      if ((r & BATCH_FULL) !== 0) batcher.drainSoon()
    }
    metrics.pixels++
    res.writeHeader(H_CONTENT_TYPE, V_GIF)
    res.writeHeader(H_CACHE_CONTROL, V_NO_STORE)
    res.end(GIF)
  }

  function postEvents (res: HttpResponse, req: HttpRequest): void {
    const contentType = req.getHeader('content-type')
    const contentLength = req.getHeader('content-length')
    const userAgent = req.getHeader('user-agent')
    const referer = req.getHeader('referer')
    const cookie = req.getHeader('cookie')
    const origin = req.getHeader('origin')
    // The address buffer is only valid inside this handler; the body arrives later.
    const ip = res.getRemoteAddress().slice(0)
    let done = false
    res.onAborted(() => { done = true })

    if (!ctx.isAccepting()) return fail(res, errors.SHUTTING_DOWN, true, origin)
    if (userAgent.length > maxHeader || referer.length > maxHeader || cookie.length > maxHeader) return fail(res, errors.HEADER_TOO_LARGE, true, origin)
    if (!/^(application\/json|text\/plain)\s*(;|$)/i.test(contentType)) return fail(res, errors.UNSUPPORTED_MEDIA_TYPE, true, origin)
    if (contentLength === '') return fail(res, errors.LENGTH_REQUIRED, true, origin)
    const length = Number(contentLength)
    if (!Number.isSafeInteger(length) || length < 0) return fail(res, errors.BODY_LENGTH_MISMATCH, true, origin)
    if (length > config.limits.maxBodyBytes) return fail(res, errors.BODY_TOO_LARGE, true, origin)
    if (buffer.size >= highWater) return fail(res, errors.BUFFER_FULL, true, origin)

    const body = Buffer.allocUnsafe(length)
    let received = 0
    res.onData((chunk, isLast) => {
      if (done) return
      if (received + chunk.byteLength > length) {
        done = true
        return res.cork(() => fail(res, errors.BODY_LENGTH_MISMATCH, true, origin))
      }
      body.set(new Uint8Array(chunk), received)
      received += chunk.byteLength
      if (!isLast) return
      if (received !== length) {
        done = true
        return res.cork(() => fail(res, errors.BODY_LENGTH_MISMATCH, true, origin))
      }
      if (!ctx.isAccepting()) {
        done = true
        return res.cork(() => fail(res, errors.SHUTTING_DOWN, true, origin))
      }
      const pending = encoder.pending
      const r = encoder.events(body, userAgent, referer, cookie, ip, Date.now(), uidOut)
      if (r < 0) {
        done = true
        return res.cork(() => fail(res, nativeErrors[-r - 1], false, origin))
      }
      metrics.eventsAccepted += encoder.pending - pending
      // The template is shared by every request: copy the new uid before anything else can write it.
      const setCookie = (r & NEW_UID) !== 0 ? cookieHeader.toString('latin1') : undefined
      batcher.committed().then(
        () => {
          if (done) return
          done = true
          metrics.posts++
          res.cork(() => {
            res.writeStatus(STATUS_TEXT[204])
            writeCors(res, origin)
            if (setCookie != null) res.writeHeader(H_SET_COOKIE, setCookie)
            res.end()
          })
        },
        () => {
          if (done) return
          done = true
          res.cork(() => fail(res, errors.BUFFER_WRITE_FAILED, false, origin))
        }
      )
    })
  }

  function preflight (res: HttpResponse, req: HttpRequest): void {
    res.writeStatus(STATUS_TEXT[204])
    writeCors(res, req.getHeader('origin'))
    res.writeHeader('Access-Control-Allow-Methods', 'POST, OPTIONS')
    res.writeHeader('Access-Control-Allow-Headers', 'Content-Type')
    res.writeHeader('Access-Control-Max-Age', '86400')
    res.end()
  }

  function health (res: HttpResponse): void {
    const status = ctx.isDraining() ? 'draining' : buffer.size >= highWater ? 'over_high_water' : 'ok'
    const body = JSON.stringify({
      status,
      buffer: { bytes: buffer.size, batches: buffer.batchCount, highWaterBytes: highWater },
      batch: { events: encoder.pending },
      metrics,
      ...ctx.health?.()
    })
    res.writeStatus(STATUS_TEXT[status === 'ok' ? 200 : 503])
    res.writeHeader('Content-Type', 'application/json')
    res.writeHeader('Cache-Control', 'no-store')
    res.end(body)
  }

  function pixelHead (res: HttpResponse): void {
    res.writeHeader(H_CONTENT_TYPE, V_GIF)
    res.writeHeader(H_CACHE_CONTROL, V_NO_STORE)
    // This uWS build aborts the process when endWithoutBody is given a length, so HEAD goes without one.
    res.endWithoutBody()
  }

  return { pixel, pixelHead, postEvents, preflight, health, notFound: res => fail(res, errors.NOT_FOUND) }
}

export function listen (ctx: ServerContext): Promise<Server> {
  const { config, log } = ctx
  const h = handlers(ctx)
  const app = uws.App()
    .get('/p.gif', h.pixel)
    .head('/p.gif', h.pixelHead)
    .post('/e', h.postEvents)
    .options('/e', h.preflight)
    .get('/healthz', h.health)
  ctx.extraRoutes?.(app)
  app.any('/*', h.notFound)

  return new Promise((resolve, reject) => {
    app.listen(config.server.host, config.server.port, (token: us_listen_socket | false) => {
      if (token === false) {
        reject(new Error(`cannot listen on ${config.server.host}:${config.server.port}`))
        return
      }
      const port = uws.us_socket_local_port(token)
      log.info({ host: config.server.host, port }, 'listening')
      resolve({ port, close: () => uws.us_listen_socket_close(token) })
    })
  })
}
