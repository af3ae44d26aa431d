// The client's IP behind trusted load balancers: the rightmost untrusted hop of Forwarded or X-Forwarded-For.

import { BlockList, isIP } from 'node:net'

// BlockList.check() builds a SocketAddress per call (about 1 µs), while a request sees the same few
// proxies over and over; remembered answers make those hops a Map lookup. The bound keeps a flood of
// distinct clients from growing it: when full it starts over, which costs only the lookups again.
const MEMO_MAX = 4096

/** The load balancers whose forwarding headers are believed; made by `parseTrustedProxies`. */
export class TrustedProxies {
  /** True when no proxy is trusted, so every request's client is its socket peer. */
  readonly empty: boolean
  private readonly list: BlockList
  // IPv4 peers are keyed by their 32-bit value, so the per-request peer check builds no string.
  private readonly memo = new Map<string | number, boolean>()

  constructor (list: BlockList, empty: boolean) {
    this.list = list
    this.empty = empty
  }

  /** Whether `ip`, IPv4 or IPv6 text without brackets or port, is trusted; false when it is not an address. */
  check (ip: string): boolean {
    const known = this.memo.get(ip)
    if (known !== undefined) return known
    if (!isAddress(ip)) return false
    // A hop is a slice of its whole header, which V8 would keep alive as long as the remembered key.
    return this.lookup((' ' + ip).slice(1), ip)
  }

  /** Whether a raw 4- or 16-byte address (as uWS reports the socket peer) is trusted; false for other lengths. */
  checkPeer (peer: Uint8Array): boolean {
    if (peer.length === 4) return this.checkV4(peer, 0)
    if (peer.length !== 16) return false
    if (isMapped(peer)) return this.checkV4(peer, 12)
    let text = ((peer[0] << 8) | peer[1]).toString(16)
    for (let i = 2; i < 16; i += 2) text += ':' + ((peer[i] << 8) | peer[i + 1]).toString(16)
    return this.check(text)
  }

  private checkV4 (b: Uint8Array, at: number): boolean {
    const key = b[at] * 0x1000000 + ((b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3])
    const known = this.memo.get(key)
    if (known !== undefined) return known
    return this.lookup(key, `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`)
  }

  private lookup (key: string | number, text: string): boolean {
    // BlockList matches IPv4-mapped IPv6 text against IPv4 rules and IPv4 text against ::ffff:0:0/96 rules.
    const trusted = this.list.check(text, text.includes(':') ? 'ipv6' : 'ipv4')
    if (this.memo.size >= MEMO_MAX) this.memo.clear()
    this.memo.set(key, trusted)
    return trusted
  }
}

/**
 * Builds the trusted proxy matcher from addresses and CIDR blocks, IPv4 or IPv6 ("10.0.0.0/8", "192.168.1.7",
 * "fd00::/8"); a bare address is a /32 or /128. Throws an Error naming the first bad entry and why.
 */
export function parseTrustedProxies (cidrs: readonly string[]): TrustedProxies {
  return parseAddresses(cidrs, 'trusted proxy')
}

/** Like `parseTrustedProxies`, for any list of addresses and CIDR blocks; `what` names an entry in errors. */
export function parseAddresses (cidrs: readonly string[], what: string): TrustedProxies {
  const list = new BlockList()
  for (const entry of cidrs) {
    const slash = entry.indexOf('/')
    const address = slash < 0 ? entry : entry.slice(0, slash)
    const family = isIP(address)
    const bad = (why: string): Error => new Error(`${what} "${entry}": ${why}`)
    if (family === 0) throw bad(`"${address}" is not an IPv4 or IPv6 address`)
    // A zone names an interface of this host; it means nothing for an address seen in a header.
    if (address.includes('%')) throw bad('an IPv6 zone (%...) is not allowed')
    const type = family === 4 ? 'ipv4' : 'ipv6'
    if (slash < 0) {
      list.addAddress(address, type)
      continue
    }
    const prefixText = entry.slice(slash + 1)
    if (!/^(0|[1-9][0-9]{0,2})$/.test(prefixText)) throw bad(`prefix length "${prefixText}" is not a whole number`)
    const prefix = Number(prefixText)
    const max = family === 4 ? 32 : 128
    if (prefix > max) throw bad(`prefix length ${prefix} is more than ${max}, the most for IPv${family}`)
    list.addSubnet(address, prefix, type)
  }
  return new TrustedProxies(list, cidrs.length === 0)
}

/**
 * The client's address as 4 or 16 bytes. Without a trusted peer, the peer itself. Otherwise the hops of
 * `forwarded` (RFC 7239 `for=`) when it is non-empty, else of `xForwardedFor`, each header's lines joined
 * with commas, are walked from the right: the first untrusted hop is the client; when every hop is trusted,
 * the leftmost; a malformed hop, `unknown` or an obfuscated `_name` ends the walk at the last good hop.
 * Never throws. The result is `peer` itself or a new array that owns its whole ArrayBuffer.
 */
export function clientIp (peer: Uint8Array, xForwardedFor: string, forwarded: string, trusted: TrustedProxies): Uint8Array {
  if (trusted.empty) return peer
  if (!trusted.checkPeer(peer)) return peer
  const isForwarded = forwarded.length !== 0
  const h = isForwarded ? forwarded : xForwardedFor
  let last: string | undefined
  let end = h.length
  for (;;) {
    // A comma inside a quoted Forwarded value splits it here, leaving an unclosed quote that ends the
    // walk; no node identifier can hold a comma, so only exotic extension parameters are refused.
    const comma = end === 0 ? -1 : h.lastIndexOf(',', end - 1)
    let s = comma + 1
    let e = end
    while (s < e && isSpace(h.charCodeAt(s))) s++
    while (e > s && isSpace(h.charCodeAt(e - 1))) e--
    // Empty list elements are allowed and ignored (RFC 9110 section 5.6.1).
    if (s < e) {
      const hop = isForwarded ? forwardedFor(h, s, e) : hopAddress(h, s, e)
      if (hop === undefined) break
      if (!trusted.check(hop)) {
        if (isAddress(hop)) last = hop
        break
      }
      last = hop
    }
    if (comma < 0) break
    end = comma
  }
  return last === undefined ? peer : addressBytes(last)
}

function isAddress (text: string): boolean {
  return isIP(text) !== 0 && !text.includes('%')
}

function isSpace (c: number): boolean {
  return c === 32 || c === 9
}

function isMapped (b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false
  return b[10] === 0xff && b[11] === 0xff
}

/** The `for=` node of one Forwarded element in h[s, e), unquoted and without port; undefined when there is none. */
function forwardedFor (h: string, s: number, e: number): string | undefined {
  let found: string | undefined
  let i = s
  while (i < e) {
    const c = h.charCodeAt(i)
    if (isSpace(c) || c === 59) { // ';' and the whitespace some proxies put around it
      i++
      continue
    }
    const nameStart = i
    while (i < e && h.charCodeAt(i) !== 61 && h.charCodeAt(i) !== 59 && !isSpace(h.charCodeAt(i))) i++
    if (i === e || h.charCodeAt(i) !== 61) return undefined
    const isFor = i - nameStart === 3 && (h.charCodeAt(nameStart) | 32) === 102 &&
      (h.charCodeAt(nameStart + 1) | 32) === 111 && (h.charCodeAt(nameStart + 2) | 32) === 114
    i++
    let vs = i
    let ve: number
    if (i < e && h.charCodeAt(i) === 34) {
      vs = ++i
      while (i < e && h.charCodeAt(i) !== 34) {
        // An escape is legal in a quoted-string but can appear in no IP address.
        if (h.charCodeAt(i) === 92) {
          if (isFor) return undefined
          i++
        }
        i++
      }
      if (i >= e) return undefined
      ve = i++
    } else {
      while (i < e && h.charCodeAt(i) !== 59 && !isSpace(h.charCodeAt(i))) i++
      ve = i
    }
    if (isFor) {
      // RFC 7239 allows each parameter once per element; two would let either be the one believed.
      if (found !== undefined) return undefined
      found = hopAddress(h, vs, ve)
      if (found === undefined) return undefined
    }
  }
  return found
}

/**
 * The address text of one hop in h[s, e): "1.2.3.4", "1.2.3.4:80", "[::1]", "[::1]:80" or a bare "::1".
 * Undefined when the shape is wrong; the address itself is checked by the caller.
 */
function hopAddress (h: string, s: number, e: number): string | undefined {
  if (s === e) return undefined
  if (h.charCodeAt(s) === 91) { // '['
    let close = s + 1
    let colons = 0
    for (; close < e && h.charCodeAt(close) !== 93; close++) if (h.charCodeAt(close) === 58) colons++
    if (close === e || colons === 0) return undefined
    if (close + 1 !== e && !isPort(h, close + 1, e)) return undefined
    return h.slice(s + 1, close)
  }
  let colon = -1
  for (let i = s; i < e; i++) {
    if (h.charCodeAt(i) !== 58) continue
    // Two colons make it a bare IPv6 address, which cannot carry a port.
    if (colon >= 0) return h.slice(s, e)
    colon = i
  }
  if (colon < 0) return h.slice(s, e)
  return isPort(h, colon, e) ? h.slice(s, colon) : undefined
}

/** Whether h[s, e) is ":" and a port of 1 to 5 digits, or an RFC 7239 obfuscated port ("_" and name chars). */
function isPort (h: string, s: number, e: number): boolean {
  if (h.charCodeAt(s) !== 58 || e - s < 2) return false
  if (h.charCodeAt(s + 1) === 95) {
    for (let i = s + 2; i < e; i++) {
      const c = h.charCodeAt(i)
      const letter = (c | 32) >= 97 && (c | 32) <= 122
      if (!(letter || (c >= 48 && c <= 57) || c === 46 || c === 45 || c === 95)) return false
    }
    return e - s > 2
  }
  if (e - s > 6) return false
  for (let i = s + 1; i < e; i++) {
    const c = h.charCodeAt(i)
    if (c < 48 || c > 57) return false
  }
  return true
}

/** The bytes of a valid address text: 4 for IPv4, 16 for IPv6. */
function addressBytes (text: string): Uint8Array {
  if (!text.includes(':')) {
    const out = new Uint8Array(4)
    putV4(text, 0, out, 0)
    return out
  }
  const out = new Uint8Array(16)
  let words = 0
  let gap = -1
  let i = 0
  if (text.charCodeAt(0) === 58 && text.charCodeAt(1) === 58) {
    gap = 0
    i = 2
  }
  while (i < text.length) {
    let word = 0
    let j = i
    for (; j < text.length; j++) {
      const c = text.charCodeAt(j)
      if (c === 58 || c === 46) break
      word = (word << 4) | (c <= 57 ? c - 48 : (c | 32) - 87)
    }
    if (text.charCodeAt(j) === 46) { // an IPv4 tail such as ::ffff:1.2.3.4 fills the last two words
      putV4(text, i, out, words * 2)
      words += 2
      break
    }
    out[words * 2] = word >> 8
    out[words * 2 + 1] = word & 0xff
    words++
    if (j === text.length) break
    if (text.charCodeAt(j + 1) === 58) {
      gap = words
      i = j + 2
    } else {
      i = j + 1
    }
  }
  if (gap >= 0) {
    // "::" stands for the zero words between what came before it and what came after.
    const tail = (words - gap) * 2
    out.copyWithin(16 - tail, gap * 2, words * 2)
    out.fill(0, gap * 2, 16 - tail)
  }
  return out
}

function putV4 (text: string, from: number, out: Uint8Array, at: number): void {
  let n = 0
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 46) {
      out[at++] = n
      n = 0
    } else {
      n = n * 10 + c - 48
    }
  }
  out[at] = n
}
