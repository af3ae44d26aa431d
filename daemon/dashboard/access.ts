// Who may see the dashboard: signed session cookies after a password sign-in, or a trusted reverse proxy's user header.

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { isIP } from 'node:net'
import type { Config } from '../config'
import { parseTrustedProxies, type TrustedProxies } from '../http/client-ip'
import { parseUserEntry, verifyPassword } from './password'

export const COOKIE = 'spoor_dashboard'

/** Whether the dashboard may run without access control on `host`: only a loopback address keeps it to this machine. */
export function isLoopback (host: string): boolean {
  if (host === 'localhost' || host === '::1' || host === '[::1]') return true
  return isIP(host) === 4 && host.startsWith('127.')
}

/** A socket peer as client-ip.ts compares addresses: an IPv4 peer of a dual-stack socket without its ::ffff: prefix. */
function peerAddress (req: IncomingMessage): string {
  const a = req.socket.remoteAddress ?? ''
  return /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(a) ? a.slice(7) : a
}

export type Who = { user: string, via: 'password' | 'proxy' | 'loopback' }

export class Access {
  /** No users and no proxy header: anyone who reaches a loopback listener. */
  readonly open: boolean
  readonly passwords: boolean
  private readonly users = new Map<string, string>()
  private readonly header: string
  private readonly proxies: TrustedProxies
  /** Signs the session cookies; new at every start, so a restart signs everyone out. */
  private readonly key = randomBytes(32)
  private readonly sessionMs: number
  private readonly secure: boolean
  /** A hash to spend the same time on for an unknown user name, so that the answer does not say which names exist. */
  private readonly decoy: string

  constructor (config: Config) {
    const d = config.dashboard
    for (const entry of d.users) {
      const parsed = parseUserEntry(entry)
      if (typeof parsed === 'string') throw new RangeError(parsed)
      this.users.set(parsed.name, parsed.hash)
    }
    this.header = d.proxyUserHeader.toLowerCase()
    this.proxies = parseTrustedProxies(config.server.trustedProxies)
    this.passwords = this.users.size > 0
    this.open = !this.passwords && this.header === ''
    if (this.open && !isLoopback(d.host)) throw new RangeError(`dashboard.host "${d.host}" is not a loopback address and no access control is set (dashboard.users or dashboard.proxy_user_header)`)
    this.sessionMs = d.sessionMinutes * 60000
    this.secure = d.secureCookie
    this.decoy = [...this.users.values()][0] ?? ''
  }

  /** Who is asking, or undefined when they must sign in first. */
  who (req: IncomingMessage): Who | undefined {
    if (this.header !== '') {
      const value = req.headers[this.header]
      // Believed only from a trusted proxy; from anyone else the header is ignored, as a client could send it.
      if (typeof value === 'string' && value !== '' && this.proxies.check(peerAddress(req))) return { user: value.slice(0, 256), via: 'proxy' }
    }
    const session = this.session(req.headers.cookie)
    if (session !== undefined) return { user: session, via: 'password' }
    return this.open ? { user: '', via: 'loopback' } : undefined
  }

  /** The user name in a valid, unexpired session cookie. */
  private session (cookies: string | undefined): string | undefined {
    const value = (cookies ?? '').split(';').map(c => c.trim()).find(c => c.startsWith(`${COOKIE}=`))?.slice(COOKIE.length + 1)
    if (value === undefined) return undefined
    const dot = value.indexOf('.')
    if (dot < 0) return undefined
    const payload = value.slice(0, dot)
    const mac = Buffer.from(value.slice(dot + 1), 'base64url')
    const expected = this.sign(payload)
    if (mac.length !== expected.length || !timingSafeEqual(mac, expected)) return undefined
    let claims: { u?: unknown, exp?: unknown }
    try {
      claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'))
    } catch {
      return undefined
    }
    if (typeof claims.u !== 'string' || typeof claims.exp !== 'number' || claims.exp <= Date.now()) return undefined
    // A user removed from the config loses their session at the next start anyway; this makes it at once for reloads to come.
    return this.users.has(claims.u) ? claims.u : undefined
  }

  private sign (payload: string): Buffer {
    return createHmac('sha256', this.key).update(payload).digest()
  }

  /** The Set-Cookie value of a new session for `user`. */
  sessionCookie (user: string): string {
    const payload = Buffer.from(JSON.stringify({ u: user, exp: Date.now() + this.sessionMs })).toString('base64url')
    return `${COOKIE}=${payload}.${this.sign(payload).toString('base64url')}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${Math.floor(this.sessionMs / 1000)}${this.secure ? '; Secure' : ''}`
  }

  /** The Set-Cookie value that ends a session. */
  clearCookie (): string {
    return `${COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0${this.secure ? '; Secure' : ''}`
  }

  /** Whether `password` is `user`'s; an unknown user costs as much time as a known one. */
  async check (user: string, password: string): Promise<boolean> {
    const hash = this.users.get(user)
    const ok = await verifyPassword(password, hash ?? this.decoy)
    return ok && hash !== undefined
  }
}
