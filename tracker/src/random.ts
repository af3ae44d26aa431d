// Random hex ids for visitors and events, and the check that a string is such an id.

/** `bytes` random bytes as lowercase hex; Math.random only where crypto is missing. */
export function hex (bytes: number): string {
  const a = new Uint8Array(bytes)
  try {
    crypto.getRandomValues(a)
  } catch {
    for (let i = 0; i < bytes; i++) a[i] = Math.random() * 256
  }
  let s = ''
  for (let i = 0; i < bytes; i++) s += (a[i] + 256).toString(16).slice(1)
  return s
}

/** A 16-byte id as the tracker, the sync page and the collector write it: 32 lowercase hex digits. */
export function isId (s: unknown): s is string {
  return typeof s === 'string' && /^[0-9a-f]{32}$/.test(s)
}
