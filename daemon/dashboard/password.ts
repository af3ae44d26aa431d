// Dashboard passwords: scrypt hashes in the PHC string format, as `spoor dashboard hash-password` prints them and dashboard.users holds them.

import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto'

/** scrypt's cost as log2(N), with r and p: OWASP's first choice for scrypt (N = 2^17, r = 8, p = 1), 128 MiB and about 0.3 s. */
const DEFAULTS = { ln: 17, r: 8, p: 1 }
const KEY_BYTES = 32
const SALT_BYTES = 16

const PHC = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]{16,})\$([A-Za-z0-9+/]{32,})$/

interface Hash { ln: number, r: number, p: number, salt: Buffer, key: Buffer }

function parseHash (text: string): Hash | undefined {
  const m = PHC.exec(text)
  if (m === null) return undefined
  const [ln, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])]
  if (ln < 10 || ln > 20 || r < 1 || p < 1) return undefined
  return { ln, r, p, salt: Buffer.from(m[4], 'base64'), key: Buffer.from(m[5], 'base64') }
}

/** PHC strings use base64 without padding. */
const b64 = (b: Buffer): string => b.toString('base64').replace(/=+$/, '')

async function derive (password: string, h: Omit<Hash, 'key'>, bytes: number): Promise<Buffer> {
  const N = 2 ** h.ln
  return await new Promise((resolve, reject) => {
    // maxmem: scrypt needs 128·N·r bytes, and Node refuses above 32 MiB unless told.
    scrypt(password.normalize('NFC'), h.salt, bytes, { N, r: h.r, p: h.p, maxmem: 256 * N * h.r }, (err, key) => err != null ? reject(err) : resolve(key))
  })
}

/** A new hash of `password`: `$scrypt$ln=17,r=8,p=1$<salt>$<key>`. */
export async function hashPassword (password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES)
  const key = await derive(password, { ...DEFAULTS, salt }, KEY_BYTES)
  return `$scrypt$ln=${DEFAULTS.ln},r=${DEFAULTS.r},p=${DEFAULTS.p}$${b64(salt)}$${b64(key)}`
}

/** Whether `password` matches `hash`; compared in constant time. */
export async function verifyPassword (password: string, hash: string): Promise<boolean> {
  const h = parseHash(hash)
  if (h === undefined) return false
  const key = await derive(password, h, h.key.length)
  return timingSafeEqual(key, h.key)
}

/**
 * A dashboard.users entry, `name:hash`, split and checked; the problem in words otherwise. A name is what the session
 * cookie and the page show, so it is kept to letters, digits and `._@-`.
 */
export function parseUserEntry (entry: string): { name: string, hash: string } | string {
  const i = entry.indexOf(':')
  const name = entry.slice(0, i)
  const hash = entry.slice(i + 1)
  if (i < 1 || !/^[A-Za-z0-9._@-]{1,64}$/.test(name)) return `${JSON.stringify(entry.slice(0, 70))} is not NAME:HASH with a name of letters, digits and ._@- (at most 64)`
  if (parseHash(hash) === undefined) return `the hash of user "${name}" is not a scrypt hash as \`spoor dashboard hash-password\` prints it ($scrypt$ln=…,r=…,p=…$salt$key)`
  return { name, hash }
}
