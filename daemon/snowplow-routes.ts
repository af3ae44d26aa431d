// The Snowplow collector routes: the GET /i pixel, the tp2 POST and its preflight, feeding the encoder like /p.gif and /e.
//
// They keep apart from server.ts's own handlers so that the /p.gif and /e hot paths stay as they are; the
// request rules (limits, content types, answering after the buffer commit) are the same as there.

import type { HttpRequest, HttpResponse } from 'uWebSockets.js'
import type { Batcher } from './batcher'
import type { Config } from './config'
import { errors, nativeErrors, type ErrorDef } from './errors'
import { BATCH_FULL, NEW_UID, type Encoder } from './native'
import { postHead, receiveBody } from './post-body'
import { ANONYMOUS, NOTHING, type Choice } from './privacy'
import { ROUTE, type SharedState, type ThreadCounters } from './shared-state'
import { SnowplowRejected, translatePayload, translateQuery } from './snowplow'

/** The tp2 POST path every Snowplow tracker sends to by default. */
export const TP2_PATH = '/com.snowplowanalytics.snowplow/tp2'

/** What the routes share with server.ts's handlers: the encoder's uid template, and the answers. */
export interface SnowplowDeps {
  config: Config
  encoder: Encoder
  batcher: Batcher
  state: SharedState
  counters: ThreadCounters
  cookieHeader: Buffer
  uidOut: Buffer
  gif: Buffer
  failRoute: (res: HttpResponse, route: number, def: ErrorDef, close?: boolean, origin?: string) => void
  writeCors: (res: HttpResponse, origin: string) => void
  clientIp: (res: HttpResponse, req: HttpRequest) => ArrayBuffer
  /** The browser's privacy choice (opt-out cookie, DNT, Sec-GPC), as for spoor's own routes. */
  privacy: (req: HttpRequest, cookies: string) => Choice
}

export interface SnowplowHandlers {
  pixel: (res: HttpResponse, req: HttpRequest) => void
  post: (res: HttpResponse, req: HttpRequest) => void
  preflight: (res: HttpResponse, req: HttpRequest) => void
}

function rejection (err: unknown): ErrorDef {
  if (err instanceof SnowplowRejected) return err.def
  throw err
}

export function snowplowHandlers (deps: SnowplowDeps): SnowplowHandlers {
  const { config, encoder, batcher, state, counters, cookieHeader, uidOut, gif, failRoute, writeCors, clientIp, privacy } = deps
  const maxHeader = config.limits.maxHeaderBytes
  const maxQuery = config.limits.maxQueryBytes
  const highWater = config.buffer.highWaterBytes
  const maxBytes = config.buffer.maxBytes
  const dropOverHighWater = config.buffer.pixelOverHighWater === 'drop'
  const useCookie = config.identity.cookie
  // The unspecified IPv4 address, stored for events whose tracker asks for server-side anonymity.
  const noIp = new ArrayBuffer(4)

  /** Like /p.gif: the GIF at once, the event in the in-memory batch; never the bounce, which Snowplow trackers do not expect. */
  function pixel (res: HttpResponse, req: HttpRequest): void {
    const userAgent = req.getHeader('user-agent')
    const referer = req.getHeader('referer')
    const cookies = req.getHeader('cookie')
    // SP-Anonymous: the tracker asks that neither the cookie nor the address identify the visitor.
    const anonymous = req.getHeader('sp-anonymous') !== ''
    const choice = privacy(req, cookies)
    const anonymize = choice === ANONYMOUS
    const cookie = useCookie && !anonymous && !anonymize ? cookies : ''
    const query = req.getQuery() ?? ''
    if (userAgent.length > maxHeader || referer.length > maxHeader || cookies.length > maxHeader) return failRoute(res, ROUTE.snowplow_pixel, errors.HEADER_TOO_LARGE)
    if (query.length > maxQuery) return failRoute(res, ROUTE.snowplow_pixel, errors.QUERY_TOO_LONG)
    const size = state.bufferBytes
    if (choice === NOTHING || size >= maxBytes || (dropOverHighWater && size >= highWater) || !state.accepting) {
      counters.dropped()
    } else {
      let body: Buffer
      try {
        body = translateQuery(query)
      } catch (err) {
        return failRoute(res, ROUTE.snowplow_pixel, rejection(err))
      }
      const r = encoder.events(body, userAgent, referer, cookie, anonymous ? noIp : clientIp(res, req), Date.now(), uidOut, anonymize)
      if (r < 0) return failRoute(res, ROUTE.snowplow_pixel, nativeErrors[-r - 1])
      counters.accepted(1)
      if ((r & NEW_UID) !== 0 && useCookie && !anonymous && !anonymize) res.writeHeader('Set-Cookie', cookieHeader)
      if ((r & BATCH_FULL) !== 0) batcher.drainSoon()
    }
    counters.request(ROUTE.snowplow_pixel, 200)
    res.writeHeader('Content-Type', 'image/gif')
    res.writeHeader('Cache-Control', 'no-store, no-cache, must-revalidate, max-age=0')
    res.end(gif, state.draining)
  }

  /** Like POST /e: the same refusals, and 200 once the events are committed to the buffer. */
  function post (res: HttpResponse, req: HttpRequest): void {
    const userAgent = req.getHeader('user-agent')
    const referer = req.getHeader('referer')
    const anonymous = req.getHeader('sp-anonymous') !== ''
    const cookies = req.getHeader('cookie')
    const head = postHead(req, userAgent, referer, cookies)
    const choice = privacy(req, cookies)
    const anonymize = choice === ANONYMOUS
    const cookie = useCookie && !anonymous && !anonymize ? cookies : ''
    const origin = req.getHeader('origin')
    // The address buffer is only valid inside this handler; the body arrives later.
    const ip = anonymous ? noIp : clientIp(res, req).slice(0)
    const fail = (def: ErrorDef, close: boolean): void => failRoute(res, ROUTE.snowplow_post, def, close, origin)
    receiveBody(res, head, config, state, fail, (body, exchange) => {
      const refuse = (def: ErrorDef): void => {
        exchange.done = true
        res.cork(() => fail(def, false))
      }
      let events: Buffer
      try {
        events = translatePayload(body)
      } catch (err) {
        return refuse(rejection(err))
      }
      if (choice === NOTHING) {
        // Answered as stored, so that the tracker does not send it again; nothing of it is.
        exchange.done = true
        counters.dropped()
        counters.request(ROUTE.snowplow_post, 200)
        return res.cork(() => {
          res.writeStatus('200 OK')
          writeCors(res, origin)
          res.end(undefined, state.draining)
        })
      }
      const pending = encoder.pending
      const r = encoder.events(events, userAgent, referer, cookie, ip, Date.now(), uidOut, anonymize)
      if (r < 0) return refuse(nativeErrors[-r - 1])
      counters.accepted(encoder.pending - pending)
      // The template is shared by every request: copy the new uid before anything else can write it.
      const setCookie = (r & NEW_UID) !== 0 && useCookie && !anonymous && !anonymize ? cookieHeader.toString('latin1') : undefined
      batcher.committed().then(
        () => {
          if (exchange.done) return
          exchange.done = true
          counters.request(ROUTE.snowplow_post, 200)
          res.cork(() => {
            res.writeStatus('200 OK')
            writeCors(res, origin)
            if (setCookie != null) res.writeHeader('Set-Cookie', setCookie)
            res.end(undefined, state.draining)
          })
        },
        () => { if (!exchange.done) refuse(errors.BUFFER_WRITE_FAILED) }
      )
    })
  }

  /** Snowplow's trackers POST JSON with credentials, so browsers ask first; SP-Anonymous comes with anonymous tracking. */
  function preflight (res: HttpResponse, req: HttpRequest): void {
    counters.request(ROUTE.preflight, 204)
    res.writeStatus('204 No Content')
    writeCors(res, req.getHeader('origin'))
    res.writeHeader('Access-Control-Allow-Methods', 'POST, OPTIONS')
    res.writeHeader('Access-Control-Allow-Headers', 'Content-Type, SP-Anonymous')
    res.writeHeader('Access-Control-Max-Age', '86400')
    res.end(undefined, state.draining)
  }

  return { pixel, post, preflight }
}
