// The one intake every collecting route feeds: admission, privacy, the cookie, the encode call, commit-then-answer and counting.
//
// A route parses only its own protocol: spoor's `/p.gif` and `/e` hand the encoder the query or body as they come,
// Snowplow's `/i` and tp2 translate theirs first (snowplow.ts). Everything around that is written here once, so
// that the four routes cannot drift apart: the header and query limits, the browser's privacy choice, which cookie
// and address the encoder sees, when a pixel is dropped, the Set-Cookie of a new uid, the refusals, and answering
// a POST only after the buffer commit that holds its events (docs/http-api.md).

import type { HttpRequest, HttpResponse } from 'uWebSockets.js'
import type { Batcher } from '../pipeline/batcher'
import { clientIp, type TrustedProxies } from './client-ip'
import type { Config } from '../config'
import { errors, type ErrorDef } from '../errors'
import { BATCH_FULL, encodeError, NEW_UID, type Encoder } from '../native'
import { postHead, receiveBody } from './post-body'
import { ANONYMOUS, NOTHING, privacyChoice } from './privacy'
import type { SharedState, ThreadCounters } from '../pipeline/shared-state'

/** The 43-byte transparent 1×1 GIF, byte for byte what nginx's empty_gif serves. */
export const GIF = Buffer.from([
  0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x01, 0x00, 0x00, 0x00, 0x00,
  0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
  0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b
])

export const STATUS_TEXT: Record<number, string> = {
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

// Header names and values as bytes, so the pixel path converts no strings.
export const H_CONTENT_TYPE = Buffer.from('Content-Type')
export const H_CACHE_CONTROL = Buffer.from('Cache-Control')
export const H_SET_COOKIE = Buffer.from('Set-Cookie')
export const V_GIF = Buffer.from('image/gif')
export const V_NO_STORE = Buffer.from('no-store, no-cache, must-revalidate, max-age=0')

/** The unspecified IPv4 address, stored for events whose protocol asks for anonymity (Snowplow's SP-Anonymous). */
const NO_IP = new ArrayBuffer(4)

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

/**
 * Encodes one GET route's event into the in-memory batch: the result of `Encoder.pixel` or `Encoder.events` (a bit
 * set of NEW_UID and BATCH_FULL, or a negative EncodeError), or the refusal of the route's own protocol.
 */
export type EncodeQuery = (query: string, userAgent: string, referer: string, cookie: string, ip: ArrayBuffer, anonymize: boolean) => number | ErrorDef

/** A GET route that collects one event from its query and answers the GIF at once. */
export interface GetRoute {
  /** Its counter, a `ROUTE` index. */
  route: number
  encode: EncodeQuery
  /**
   * Runs after the limits and the privacy choice and before admission, with the cookie the encoder will see and
   * whether the privacy choice anonymises the event: answers the request itself and returns undefined (the bounce of /p.gif), or
   * returns the query to encode.
   */
  prepare?: (res: HttpResponse, query: string, cookie: string, anonymize: boolean) => string | undefined
  /** True when the protocol asks that neither the cookie nor the address identify the visitor (SP-Anonymous). */
  anonymous?: (req: HttpRequest) => boolean
}

/** A POST route that collects a body of events and answers once they are committed to the buffer. */
export interface PostRoute {
  route: number
  /** The status a stored request is answered with: 204 for spoor's /e, 200 for Snowplow's tp2, as its trackers expect. */
  stored: 200 | 204
  /** The body as the encoder's JSON array of events, or the refusal of the route's own protocol; the body itself when absent. */
  parse?: (body: Buffer) => Buffer | ErrorDef
  anonymous?: (req: HttpRequest) => boolean
}

export interface Intake {
  /** Handles a GET route's request: see GetRoute. */
  get: (res: HttpResponse, req: HttpRequest, route: GetRoute) => void
  /** Handles a POST route's request: see PostRoute. */
  post: (res: HttpResponse, req: HttpRequest, route: PostRoute) => void
  /** Answers a refusal with its JSON body and counts it; `close` ends the connection (a body left unread). */
  fail: (res: HttpResponse, route: number, def: ErrorDef, close?: boolean, origin?: string) => void
  /** Echoes an allowed Origin; call after writeStatus, as uWS sends 200 for a header written before it. */
  writeCors: (res: HttpResponse, origin: string) => void
  /** The client's address: the peer's, or the forwarding headers' when the peer is a trusted load balancer. */
  clientAddress: (res: HttpResponse, req: HttpRequest) => ArrayBuffer
  /** The cookie header the encoder writes new uids into (`name=<32 hex>; attributes`), and its uid part. */
  cookieHeader: Buffer
  uidOut: Buffer
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

export function intake (ctx: ServerContext): Intake {
  const { config, encoder, batcher, state, counters, trusted } = ctx
  const { header: cookieHeader, uidOut } = cookieTemplate(config)
  const bodies = new Map<ErrorDef, Buffer>(Object.values(errors).map(def => [def, errorBody(def)]))
  const retryAfter = String(config.buffer.retryAfterSeconds)
  const highWater = config.buffer.highWaterBytes
  const maxBytes = config.buffer.maxBytes
  const maxHeader = config.limits.maxHeaderBytes
  const maxQuery = config.limits.maxQueryBytes
  const dropGetOverHighWater = config.buffer.pixelOverHighWater === 'drop'
  const allowAnyOrigin = config.server.corsOrigins.includes('*')
  const allowedOrigins = new Set(config.server.corsOrigins)
  const useCookie = config.identity.cookie
  const privacy = privacyChoice(config)

  function fail (res: HttpResponse, route: number, def: ErrorDef, close = false, origin = ''): void {
    counters.reject(def.code)
    counters.request(route, def.status)
    res.writeStatus(STATUS_TEXT[def.status])
    writeCors(res, origin)
    res.writeHeader('Content-Type', 'application/json')
    if (def.status === 503) res.writeHeader('Retry-After', retryAfter)
    res.end(bodies.get(def) as Buffer, close || state.draining)
  }

  function writeCors (res: HttpResponse, origin: string): void {
    if (origin === '' || !(allowAnyOrigin || allowedOrigins.has(origin))) return
    res.writeHeader('Access-Control-Allow-Origin', origin)
    res.writeHeader('Access-Control-Allow-Credentials', 'true')
    // The tracker waits as long as a 503 says; browsers hide the header from cross-origin scripts otherwise.
    res.writeHeader('Access-Control-Expose-Headers', 'Retry-After')
    res.writeHeader('Vary', 'Origin')
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

  const clientAddress = (res: HttpResponse, req: HttpRequest): ArrayBuffer => trusted.empty ? res.getRemoteAddress() : forwardedIp(res, req)

  function get (res: HttpResponse, req: HttpRequest, r: GetRoute): void {
    const userAgent = req.getHeader('user-agent')
    const referer = req.getHeader('referer')
    const cookies = req.getHeader('cookie')
    if (userAgent.length > maxHeader || referer.length > maxHeader || cookies.length > maxHeader) return fail(res, r.route, errors.HEADER_TOO_LARGE)
    let query = req.getQuery() ?? ''
    // The encoder checks the bytes of what it parses; this refuses the same query whether it is then stored or not.
    if (query.length > maxQuery) return fail(res, r.route, errors.QUERY_TOO_LONG)
    const anonymous = r.anonymous !== undefined && r.anonymous(req)
    const choice = privacy(req, cookies)
    const anonymize = choice === ANONYMOUS
    const cookie = useCookie && !anonymous && !anonymize ? cookies : ''
    if (r.prepare !== undefined) {
      const prepared = r.prepare(res, query, cookie, anonymize)
      if (prepared === undefined) return
      query = prepared
    }
    const size = state.bufferBytes
    if (choice === NOTHING || size >= maxBytes || (dropGetOverHighWater && size >= highWater) || !state.accepting || state.unwritable) {
      counters.dropped()
    } else {
      const result = r.encode(query, userAgent, referer, cookie, anonymous ? NO_IP : clientAddress(res, req), anonymize)
      if (typeof result !== 'number') return fail(res, r.route, result)
      if (result < 0) return fail(res, r.route, encodeError(result))
      counters.accepted(1)
      if ((result & NEW_UID) !== 0 && useCookie && !anonymous && !anonymize) res.writeHeader(H_SET_COOKIE, cookieHeader)
      if ((result & BATCH_FULL) !== 0) batcher.sealSoon()
    }
    counters.request(r.route, 200)
    res.writeHeader(H_CONTENT_TYPE, V_GIF)
    res.writeHeader(H_CACHE_CONTROL, V_NO_STORE)
    res.end(GIF, state.draining)
  }

  function post (res: HttpResponse, req: HttpRequest, r: PostRoute): void {
    const userAgent = req.getHeader('user-agent')
    const referer = req.getHeader('referer')
    const cookies = req.getHeader('cookie')
    const origin = req.getHeader('origin')
    const head = postHead(req, userAgent, referer, cookies)
    const anonymous = r.anonymous !== undefined && r.anonymous(req)
    const choice = privacy(req, cookies)
    const anonymize = choice === ANONYMOUS
    const cookie = useCookie && !anonymous && !anonymize ? cookies : ''
    // The address buffer is only valid inside this handler; the body arrives later. forwardedIp's is a copy.
    const ip = anonymous ? NO_IP : trusted.empty ? res.getRemoteAddress().slice(0) : forwardedIp(res, req)
    const route = r.route
    const refuse = (def: ErrorDef, close: boolean): void => fail(res, route, def, close, origin)
    receiveBody(res, head, config, state, refuse, (body, exchange) => {
      const answer = (def: ErrorDef): void => {
        exchange.done = true
        res.cork(() => refuse(def, false))
      }
      let events = body
      if (r.parse !== undefined) {
        const parsed = r.parse(body)
        if (!Buffer.isBuffer(parsed)) return answer(parsed)
        events = parsed
      }
      if (choice === NOTHING) {
        // Answered as stored, so that the tracker does not send it again; nothing of it is.
        exchange.done = true
        counters.dropped()
        counters.request(route, r.stored)
        return res.cork(() => stored(res, r.stored, origin, undefined))
      }
      const pending = encoder.pending
      const result = encoder.events(events, userAgent, referer, cookie, ip, Date.now(), uidOut, anonymize)
      if (result < 0) return answer(encodeError(result))
      counters.accepted(encoder.pending - pending)
      // The template is shared by every request: copy the new uid before anything else can write it.
      const setCookie = (result & NEW_UID) !== 0 && useCookie && !anonymous && !anonymize ? cookieHeader.toString('latin1') : undefined
      batcher.committed().then(
        () => {
          if (exchange.done) return
          exchange.done = true
          counters.request(route, r.stored)
          res.cork(() => stored(res, r.stored, origin, setCookie))
        },
        () => { if (!exchange.done) answer(errors.BUFFER_WRITE_FAILED) }
      )
    })
  }

  function stored (res: HttpResponse, status: 200 | 204, origin: string, setCookie: string | undefined): void {
    res.writeStatus(STATUS_TEXT[status])
    writeCors(res, origin)
    if (setCookie !== undefined) res.writeHeader(H_SET_COOKIE, setCookie)
    res.end(undefined, state.draining)
  }

  return { get, post, fail, writeCors, clientAddress, cookieHeader, uidOut }
}
