// The refusals every POST route shares, and the body read whole: POST /e and Snowplow's tp2 read theirs the same way.

import type { HttpRequest, HttpResponse } from 'uWebSockets.js'
import type { Config } from '../config'
import { errors, type ErrorDef } from '../errors'
import type { SharedState } from '../pipeline/shared-state'

/** One request's exchange: `done` once it is answered or the client went away, after which nothing may be written. */
export interface Exchange {
  done: boolean
}

export interface PostHead {
  contentType: string
  contentLength: string
  /** The longest of the headers the route limits (User-Agent, Referer, Cookie). */
  longestHeader: number
}

/** Reads the headers `receiveBody` checks; call it at the top of the handler, as uWS's request is valid only there. */
export function postHead (req: HttpRequest, userAgent: string, referer: string, cookies: string): PostHead {
  return {
    contentType: req.getHeader('content-type'),
    contentLength: req.getHeader('content-length'),
    longestHeader: Math.max(userAgent.length, referer.length, cookies.length)
  }
}

/**
 * Refuses what no POST route takes (shutting down, headers too large, another content type, no or a bad
 * Content-Length, a body over `limits.max_body_bytes`, the buffer over its high-water mark), else reads the body
 * whole and hands it to `onBody`, unless it does not match its Content-Length or the collector stopped accepting
 * meanwhile. `fail` answers a refusal; the refusals that leave a body unread close the connection.
 */
export function receiveBody (
  res: HttpResponse,
  head: PostHead,
  config: Config,
  state: SharedState,
  fail: (def: ErrorDef, close: boolean) => void,
  onBody: (body: Buffer, exchange: Exchange) => void
): void {
  const exchange: Exchange = { done: false }
  res.onAborted(() => { exchange.done = true })
  if (!state.accepting) return fail(errors.SHUTTING_DOWN, true)
  if (head.longestHeader > config.limits.maxHeaderBytes) return fail(errors.HEADER_TOO_LARGE, true)
  if (!/^(application\/json|text\/plain)\s*(;|$)/i.test(head.contentType)) return fail(errors.UNSUPPORTED_MEDIA_TYPE, true)
  if (head.contentLength === '') return fail(errors.LENGTH_REQUIRED, true)
  const length = Number(head.contentLength)
  if (!Number.isSafeInteger(length) || length < 0) return fail(errors.BODY_LENGTH_MISMATCH, true)
  if (length > config.limits.maxBodyBytes) return fail(errors.BODY_TOO_LARGE, true)
  if (state.bufferBytes >= config.buffer.highWaterBytes) return fail(errors.BUFFER_FULL, true)
  if (state.unwritable) return fail(errors.BUFFER_UNWRITABLE, true)

  const body = Buffer.allocUnsafe(length)
  let received = 0
  const refuse = (def: ErrorDef): void => {
    exchange.done = true
    res.cork(() => fail(def, true))
  }
  res.onData((chunk, isLast) => {
    if (exchange.done) return
    if (received + chunk.byteLength > length) return refuse(errors.BODY_LENGTH_MISMATCH)
    body.set(new Uint8Array(chunk), received)
    received += chunk.byteLength
    if (!isLast) return
    if (received !== length) return refuse(errors.BODY_LENGTH_MISMATCH)
    if (!state.accepting) return refuse(errors.SHUTTING_DOWN)
    onBody(body, exchange)
  })
}
