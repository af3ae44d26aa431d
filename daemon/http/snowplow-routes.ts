// The Snowplow collector routes: the GET /i pixel, the tp2 POST and its preflight, on the intake /p.gif and /e use.
//
// Each route only translates Snowplow's protocol into the encoder's JSON events (snowplow.ts), and asks for
// anonymity when the tracker sends SP-Anonymous; admission, privacy, cookies and answering are the intake's.

import type { HttpRequest, HttpResponse } from 'uWebSockets.js'
import type { ErrorDef } from '../errors'
import type { GetRoute, Intake, PostRoute, ServerContext } from './intake'
import { ROUTE } from '../pipeline/shared-state'
import { SnowplowRejected, translatePayload, translateQuery } from './snowplow'

/** The tp2 POST path every Snowplow tracker sends to by default. */
export const TP2_PATH = '/com.snowplowanalytics.snowplow/tp2'

export interface SnowplowHandlers {
  pixel: (res: HttpResponse, req: HttpRequest) => void
  post: (res: HttpResponse, req: HttpRequest) => void
  preflight: (res: HttpResponse, req: HttpRequest) => void
}

function rejection (err: unknown): ErrorDef {
  if (err instanceof SnowplowRejected) return err.def
  throw err
}

/** SP-Anonymous: the tracker asks that neither the cookie nor the address identify the visitor. */
const spAnonymous = (req: HttpRequest): boolean => req.getHeader('sp-anonymous') !== ''

export function snowplowHandlers (ctx: ServerContext, take: Intake): SnowplowHandlers {
  const { encoder, state, counters } = ctx
  const uidOut = take.uidOut

  /** Like /p.gif: the GIF at once, the event in the in-memory batch; never the bounce, which Snowplow trackers do not expect. */
  const pixelRoute: GetRoute = {
    route: ROUTE.snowplow_pixel,
    anonymous: spAnonymous,
    encode: (query, userAgent, referer, cookie, ip, anonymize) => {
      let body: Buffer
      try {
        body = translateQuery(query)
      } catch (err) {
        return rejection(err)
      }
      return encoder.events(body, userAgent, referer, cookie, ip, Date.now(), uidOut, anonymize)
    }
  }

  /** Like POST /e, but answered 200, as Snowplow's trackers expect. */
  const postRoute: PostRoute = {
    route: ROUTE.snowplow_post,
    stored: 200,
    anonymous: spAnonymous,
    parse: body => {
      try {
        return translatePayload(body)
      } catch (err) {
        return rejection(err)
      }
    }
  }

  /** Snowplow's trackers POST JSON with credentials, so browsers ask first; SP-Anonymous comes with anonymous tracking. */
  function preflight (res: HttpResponse, req: HttpRequest): void {
    counters.request(ROUTE.snowplow_preflight, 204)
    res.writeStatus('204 No Content')
    take.writeCors(res, req.getHeader('origin'))
    res.writeHeader('Access-Control-Allow-Methods', 'POST, OPTIONS')
    res.writeHeader('Access-Control-Allow-Headers', 'Content-Type, SP-Anonymous')
    res.writeHeader('Access-Control-Max-Age', '86400')
    res.end(undefined, state.draining)
  }

  return {
    pixel: (res, req) => take.get(res, req, pixelRoute),
    post: (res, req) => take.post(res, req, postRoute),
    preflight
  }
}
