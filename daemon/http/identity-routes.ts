// The browser-facing identity routes: the tracker script, the storage sync iframe and the ETag id.

import { createHash, randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import type { HttpRequest, HttpResponse } from 'uWebSockets.js'
import type { Config } from '../config'
import { SpoorError } from '../errors'
import { endHead } from './response'

/** Where `npm run build:tracker` writes the tracker and the sync page, next to the compiled daemon. */
export const TRACKER_DIR = join(__dirname, '..', '..', 'tracker')

/** The literal the tracker's bundle holds once, replaced by its defaults as a JSON string literal. */
const DEFAULTS_PLACEHOLDER = '"__SPOOR_DEFAULTS__"'
/** The literal the sync page holds once, replaced by its allowed origins as a JSON array. */
const ORIGINS_PLACEHOLDER = '"__SPOOR_ORIGINS__"'

/** A static answer, compressed once, with a strong ETag over its bytes. */
export interface Asset {
  type: string
  body: Buffer
  gzip: Buffer
  etag: string
  cacheControl: string
}

function asset (type: string, text: string, maxAgeSeconds: number): Asset {
  const body = Buffer.from(text)
  return {
    type,
    body,
    gzip: gzipSync(body, { level: 9 }),
    etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
    cacheControl: `public, max-age=${maxAgeSeconds}`
  }
}

function readBuilt (name: string, placeholder: string): string {
  let text: string
  try {
    text = readFileSync(join(TRACKER_DIR, name), 'utf8')
  } catch (err) {
    throw new SpoorError('TRACKER_MISSING', `${join(TRACKER_DIR, name)} cannot be read (${(err as Error).message}); run \`npm run build\``)
  }
  if (text.split(placeholder).length !== 2) throw new SpoorError('TRACKER_MISSING', `${name} does not hold ${placeholder} exactly once; rebuild it with \`npm run build:tracker\``)
  return text
}

/** `/t.js` with the configured defaults of the identity methods baked in. */
export function trackerAsset (config: Config): Asset {
  const i = config.identity
  const defaults = { storage: i.storage, etag: i.etag, fingerprint: i.fingerprint, linkDomains: i.linkDomains }
  const text = readBuilt('t.js', DEFAULTS_PLACEHOLDER).replace(DEFAULTS_PLACEHOLDER, () => JSON.stringify(JSON.stringify(defaults)))
  return asset('application/javascript; charset=utf-8', text, config.tracker.maxAgeSeconds)
}

/** `/sync.html` with the origins it may hand its id to. */
export function syncAsset (config: Config): Asset {
  const origins = config.identity.syncOrigins.length > 0 ? config.identity.syncOrigins : config.server.corsOrigins
  const text = readBuilt('sync.html', ORIGINS_PLACEHOLDER).replace(ORIGINS_PLACEHOLDER, () => JSON.stringify(origins))
  return asset('text/html; charset=utf-8', text, config.tracker.maxAgeSeconds)
}

/**
 * Answers an asset: 304 on a matching If-None-Match, gzip when the client takes it. `close` ends the connection
 * after the answer (while draining). Returns the status.
 */
export function serveAsset (res: HttpResponse, req: HttpRequest, a: Asset, close: boolean): number {
  const inm = req.getHeader('if-none-match')
  const gzip = /\bgzip\b/.test(req.getHeader('accept-encoding'))
  const status = inm !== '' && inm.split(',').some(tag => tag.trim().replace(/^W\//, '') === a.etag) ? 304 : 200
  res.writeStatus(status === 304 ? '304 Not Modified' : '200 OK')
  res.writeHeader('ETag', a.etag)
  res.writeHeader('Cache-Control', a.cacheControl)
  res.writeHeader('Vary', 'Accept-Encoding')
  if (status === 304) {
    endHead(res, close)
    return status
  }
  res.writeHeader('Content-Type', a.type)
  if (gzip) res.writeHeader('Content-Encoding', 'gzip')
  res.end(gzip ? a.gzip : a.body, close)
  return status
}

/** The id an `If-None-Match` header brings back: one quoted tag of 32 hex digits, weak or strong. */
export function etagId (header: string): string | undefined {
  const m = /^\s*(?:W\/)?"([0-9a-f]{32})"\s*$/i.exec(header)
  return m?.[1].toLowerCase()
}

/**
 * `/id.gif`: a browser that brings an ETag id back with If-None-Match gets 304 and keeps it; any other gets a new
 * id as the GIF's ETag. `no-cache` makes the browser revalidate every time, so the id comes back on each call.
 * `close` ends the connection after the answer (while draining). Returns the status.
 */
export function serveIdGif (res: HttpResponse, req: HttpRequest, gif: Buffer, close: boolean): number {
  const known = etagId(req.getHeader('if-none-match'))
  const id = known ?? randomBytes(16).toString('hex')
  res.writeStatus(known !== undefined ? '304 Not Modified' : '200 OK')
  res.writeHeader('ETag', `"${id}"`)
  res.writeHeader('Cache-Control', 'private, no-cache')
  res.writeHeader('Access-Control-Allow-Origin', '*')
  res.writeHeader('Access-Control-Expose-Headers', 'ETag')
  if (known !== undefined) {
    endHead(res, close)
    return 304
  }
  res.writeHeader('Content-Type', 'image/gif')
  res.end(gif, close)
  return 200
}
