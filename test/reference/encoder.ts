// A plain, slow reference of the native encoder for the boundary specs: the same bytes, written the obvious way.

import { xxh3 } from '@node-rs/xxhash'

export const Q = { id: 0, uid: 1, sid: 2, p: 3, url: 4, ref: 5, a: 6, d: 7, it: 8, ch: 9, co: 10, rg: 11, ci: 12, ua: 13, ip: 14, ct: 15, vid: 16, sto: 17, eti: 18, fp: 19, lid: 20, lnk: 21 } as const

export interface RefOptions {
  saltBuckets: number
  maxValueBytes: number
  anonymizeIp: boolean
}

/** Strict query decoding: `+` is a space, `%XX` a byte; anything else after `%` is an error. */
export function decodeComponent (s: string): string {
  const bytes: number[] = []
  for (let i = 0; i < s.length; i++) {
    const c = s[i]
    if (c === '+') bytes.push(0x20)
    else if (c === '%') {
      const hex = s.slice(i + 1, i + 3)
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw new Error('BAD_ESCAPE')
      bytes.push(parseInt(hex, 16))
      i += 2
    } else bytes.push(...Buffer.from(c, 'utf8'))
  }
  return new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bytes))
}

export function parseQuery (query: string): Map<string, string> {
  const out = new Map<string, string>()
  for (const part of query.split('&')) {
    if (part === '') continue
    const eq = part.indexOf('=')
    const key = decodeComponent(eq < 0 ? part : part.slice(0, eq))
    out.set(key, eq < 0 ? '' : decodeComponent(part.slice(eq + 1)))
  }
  return out
}

function be64 (n: bigint): Buffer {
  const b = Buffer.alloc(8)
  b.writeBigUInt64BE(BigInt.asUintN(64, n))
  return b
}

export function uid16 (uid: string): Buffer {
  if (/^[0-9a-fA-F]{32}$/.test(uid)) return Buffer.from(uid, 'hex')
  const h = xxh3.xxh128(Buffer.from(uid, 'utf8'))
  const b = Buffer.alloc(16)
  b.writeBigUInt64BE(h >> 64n, 0)
  b.writeBigUInt64BE(BigInt.asUintN(64, h), 8)
  return b
}

export function eventId (uid: Buffer, eid: string): Buffer {
  return be64(xxh3.xxh64(Buffer.concat([uid, Buffer.from(eid, 'utf8')])))
}

export function rowKeys (uid: Buffer, eid8: Buffer, tsMs: number, n: number): { user: Buffer, time: Buffer } {
  const inv = be64(0x7fffffffffffffffn - BigInt(tsMs))
  const salt = Buffer.from([Number(xxh3.xxh64(uid) % BigInt(n))])
  const bucket = Buffer.from([Number(xxh3.xxh64(eid8) % BigInt(n))])
  return { user: Buffer.concat([salt, uid, inv, eid8]), time: Buffer.concat([bucket, inv, uid, eid8]) }
}

export function formatIp (ip: Buffer, anonymize: boolean): string | undefined {
  let bytes = ip
  if (bytes.length === 16 && bytes.subarray(0, 12).equals(Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]))) bytes = bytes.subarray(12)
  if (bytes.length === 4) return [...bytes].map((b, i) => anonymize && i === 3 ? 0 : b).join('.')
  if (bytes.length !== 16) return undefined
  const groups: string[] = []
  for (let i = 0; i < 16; i += 2) groups.push(anonymize && i >= 6 ? '0' : bytes.readUInt16BE(i).toString(16))
  // WHATWG URL hosts use the RFC 5952 shortest form, as Rust's Ipv6Addr Display does.
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1)
}

export interface RefEvent {
  ts: number
  uid: string
  eid: string
  fields: Partial<Record<keyof typeof Q, string>>
}

/** Builds a pixel event the way the encoder does, from explicit uid and eid, so the result is deterministic. */
export function pixelEvent (query: string, userAgent: string, referer: string, ip: Buffer, ts: number, opts: RefOptions): RefEvent {
  const params = parseQuery(query)
  const uid = params.get('uid') as string
  const eid = params.get('eid') as string
  const fields: RefEvent['fields'] = {}
  for (const name of ['sid', 'p', 'url', 'ref', 'a', 'd', 'it', 'ch', 'ct', 'vid', 'sto', 'eti', 'fp', 'lid', 'lnk'] as const) {
    const v = params.get(name)
    if (v != null && v !== '') fields[name] = v
  }
  fields.url ??= referer === '' ? undefined : referer
  fields.a ??= 'page'
  fields.uid = /^[0-9a-fA-F]{32}$/.test(uid) ? uid.toLowerCase() : uid
  if (userAgent !== '') fields.ua = truncate(userAgent, opts.maxValueBytes)
  const ipText = formatIp(ip, opts.anonymizeIp)
  if (ipText != null) fields.ip = ipText
  if (fields.fp != null) fields.fp = fingerprint(fields.fp, fields.ua ?? '', ipText ?? '')
  for (const k of Object.keys(fields) as Array<keyof typeof Q>) if (fields[k] == null) delete fields[k]
  return { ts, uid, eid, fields }
}

/** The stored fingerprint: XXH3-128 of the client's hash, the user agent and the stored IP, NUL-separated. */
export function fingerprint (client: string, userAgent: string, ip: string): string {
  const h = xxh3.xxh128(Buffer.from(`${client}\0${userAgent}\0${ip}`, 'utf8'))
  return h.toString(16).padStart(32, '0')
}

function truncate (s: string, maxBytes: number): string {
  const b = Buffer.from(s, 'utf8')
  if (b.length <= maxBytes) return s
  let end = maxBytes
  while (end > 0 && (b[end] & 0xc0) === 0x80) end--
  return b.subarray(0, end).toString('utf8')
}

export function encodeBatch (events: RefEvent[], opts: RefOptions): Buffer {
  const records = events.map(e => {
    const u = uid16(e.uid)
    const id = eventId(u, e.eid)
    const keys = rowKeys(u, id, e.ts, opts.saltBuckets)
    const fields = { ...e.fields, id: id.toString('hex') }
    const parts = (Object.keys(fields) as Array<keyof typeof Q>)
      .sort((a, b) => Q[a] - Q[b])
      .map(k => {
        const v = Buffer.from(fields[k] as string, 'utf8')
        const head = Buffer.alloc(3)
        head[0] = Q[k]
        head.writeUInt16BE(v.length, 1)
        return Buffer.concat([head, v])
      })
    const body = Buffer.concat([be64(BigInt(e.ts)), Buffer.from([keys.user.length]), keys.user, Buffer.from([keys.time.length]), keys.time, Buffer.from([parts.length]), ...parts])
    const len = Buffer.alloc(4)
    len.writeUInt32BE(body.length)
    return Buffer.concat([len, body])
  })
  const head = Buffer.alloc(8)
  head.write('SPB1', 0, 'latin1')
  head.writeUInt32BE(events.length, 4)
  return Buffer.concat([head, ...records])
}
