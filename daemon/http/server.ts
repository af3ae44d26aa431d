// The HTTP front door on uWebSockets.js: the routes, the pixel's bounce, health, and listening; collecting is intake.ts's.

import { randomBytes } from 'node:crypto'
import * as uws from 'uWebSockets.js'
import type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket } from 'uWebSockets.js'
import type { Config } from '../config'
import { errors } from '../errors'
import { serveAsset, serveIdGif, syncAsset, trackerAsset } from './identity-routes'
import { GIF, H_CACHE_CONTROL, H_CONTENT_TYPE, H_SET_COOKIE, intake, STATUS_TEXT, V_GIF, V_NO_STORE, type GetRoute, type PostRoute, type ServerContext } from './intake'
import { endHead } from './response'
import { serveOptOut } from './privacy'
import type { Logger } from '../log'
import { ROUTE, type SharedState } from '../pipeline/shared-state'
import { snowplowHandlers, TP2_PATH, type SnowplowHandlers } from './snowplow-routes'

export interface Server {
  port: number
  /** Closes the listen socket; keep-alive connections stay until they close. */
  close: () => void
  /** Closes the listen socket and every connection, so that the thread can end. */
  closeAll: () => void
  /** Swaps in handlers built from a new context (a reload); requests already running finish on the old ones. */
  reload: (ctx: ServerContext) => void
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
  const { config, encoder, state, counters } = ctx
  const take = intake(ctx)
  const { cookieHeader, uidOut } = take
  const { bounce, etag: useEtag, storage: useStorage } = config.identity
  const cookieSet = `${config.cookie.name}=`
  const trackerJs = trackerAsset(config)
  const syncPage = useStorage ? syncAsset(config) : undefined

  /** spoor's pixel: its query is what the encoder parses. */
  const pixelRoute: GetRoute = {
    route: ROUTE.pixel,
    encode: (query, userAgent, referer, cookie, ip, anonymize) => encoder.pixel(query, userAgent, referer, cookie, ip, Date.now(), uidOut, anonymize),
    prepare: (res, query, cookie, anonymize) => {
      if (!bounce || anonymize || cookie.includes(cookieSet)) return query
      if (query !== BOUNCED && !query.endsWith(`&${BOUNCED}`)) {
        bounceBack(res, query)
        return undefined
      }
      return NO_COOKIE_UID + query
    }
  }
  /** spoor's batch endpoint: its body is the encoder's JSON array as it comes. */
  const eventsRoute: PostRoute = { route: ROUTE.events, stored: 204 }

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

  function preflight (res: HttpResponse, req: HttpRequest): void {
    counters.request(ROUTE.preflight, 204)
    res.writeStatus(STATUS_TEXT[204])
    take.writeCors(res, req.getHeader('origin'))
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

  const notFound = (res: HttpResponse): void => take.fail(res, ROUTE.other, errors.NOT_FOUND)
  return {
    snowplow: snowplowHandlers(ctx, take),
    pixel: (res, req) => take.get(res, req, pixelRoute),
    pixelHead,
    postEvents: (res, req) => take.post(res, req, eventsRoute),
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
  const status = state.draining ? 'draining' : state.unwritable ? 'buffer_unwritable' : bytes >= config.buffer.highWaterBytes ? 'over_high_water' : 'ok'
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
