// The browser's privacy choices on the request path: the opt-out cookie, Do Not Track and Global Privacy Control.

import type { HttpRequest, HttpResponse } from 'uWebSockets.js'
import type { Config } from '../config'

/** What a request's privacy choices allow: record it as usual, record it anonymously, or record nothing. */
export const RECORD = 0
export const ANONYMOUS = 1
export const NOTHING = 2
export type Choice = typeof RECORD | typeof ANONYMOUS | typeof NOTHING

const CHOICE = { ignore: RECORD, anonymize: ANONYMOUS, drop: NOTHING } as const

/**
 * The choice for a request, from the opt-out cookie (always nothing) and the DNT and Sec-GPC headers (as
 * `privacy.dnt` and `privacy.gpc` say); the strictest wins. A header set to `ignore` is not even read.
 */
export function privacyChoice (config: Config): (req: HttpRequest, cookie: string) => Choice {
  const dnt = CHOICE[config.privacy.dnt]
  const gpc = CHOICE[config.privacy.gpc]
  const optedOut = `${config.privacy.optOutCookie}=1`
  return (req, cookie) => {
    if (cookie.includes(optedOut)) return NOTHING
    let choice: Choice = RECORD
    if (dnt !== RECORD && req.getHeader('dnt') === '1') choice = dnt
    if (gpc > choice && req.getHeader('sec-gpc') === '1') choice = gpc
    return choice
  }
}

/** The opt-out cookie's Set-Cookie value: `1` for `optOut`, or expired to opt back in. */
export function optOutCookie (config: Config, optOut: boolean): string {
  const c = config.cookie
  let value = `${config.privacy.optOutCookie}=${optOut ? '1' : ''}; Max-Age=${optOut ? c.maxAgeDays * 86400 : 0}; Path=/; SameSite=${c.sameSite}`
  if (c.domain !== '') value += `; Domain=${c.domain}`
  if (c.secure) value += '; Secure'
  return value
}

/**
 * `GET /optout` and `GET /optin`: set or clear the opt-out cookie and say so. With `?return=URL` of an allowed
 * origin (server.cors_origins), the answer is a redirect back to it, for a link on the site's privacy page.
 * `close` ends the connection after the answer (while draining).
 */
export function serveOptOut (res: HttpResponse, req: HttpRequest, config: Config, optOut: boolean, close: boolean): number {
  const back = req.getQuery('return') ?? ''
  const allowed = back !== '' && isAllowedReturn(back, config.server.corsOrigins)
  res.writeStatus(allowed ? '302 Found' : '200 OK')
  res.writeHeader('Set-Cookie', optOutCookie(config, optOut))
  res.writeHeader('Cache-Control', 'no-store')
  if (allowed) {
    res.writeHeader('Location', back)
    res.end(undefined, close)
    return 302
  }
  res.writeHeader('Content-Type', 'text/plain; charset=utf-8')
  res.end(optOut
    ? 'spoor: this browser is opted out; this collector stores nothing it sends while the cookie lasts.\n'
    : 'spoor: this browser is opted in again.\n', close)
  return 200
}

function isAllowedReturn (url: string, origins: string[]): boolean {
  try {
    const u = new URL(url)
    return (u.protocol === 'https:' || u.protocol === 'http:') && (origins.includes('*') || origins.includes(u.origin))
  } catch {
    return false
  }
}
