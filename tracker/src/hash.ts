// FNV-1a over a string's UTF-16 code units, in two 32-bit lanes with different offset bases: 16 hex digits.

export function fnv (s: string): string {
  let a = 0x811c9dc5
  let b = 0x050c5d1f
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    a = Math.imul(a ^ c, 0x01000193)
    b = Math.imul(b ^ c, 0x01000193)
  }
  return ((a >>> 0) + 0x100000000).toString(16).slice(1) + ((b >>> 0) + 0x100000000).toString(16).slice(1)
}
