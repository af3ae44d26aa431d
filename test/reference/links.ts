// The reference for native/src/links.rs: the identity rows a batch's events give, written plainly.

import { xxh3 } from '@node-rs/xxhash'
import type { EncodedEvent } from './batch'

/** Identity fields by qualifier id, and their type letters (`lnk` is a visitor id). */
const ID_FIELDS = new Map([[1, 'u'], [16, 'v'], [17, 's'], [18, 'e'], [19, 'f'], [20, 'l'], [21, 'v']])
const PLATFORM = 3

export interface LinkRow {
  row: Buffer
  /** By qualifier (the other id), sorted by its bytes. */
  cells: Array<{ qualifier: Buffer, platform: Buffer, ts: number }>
}

export function identityRow (id: string, saltBuckets: number): Buffer {
  const text = Buffer.from(id, 'utf8')
  return Buffer.concat([Buffer.from([Number(xxh3.xxh64(text) % BigInt(saltBuckets))]), text])
}

export function linkRows (events: EncodedEvent[], saltBuckets: number): LinkRow[] {
  const rows = new Map<string, Map<string, { platform: Buffer, ts: number }>>()
  for (const e of events) {
    const platform = e.fields.find(([q]) => q === PLATFORM)?.[1] ?? Buffer.alloc(0)
    const ids = [...new Set(e.fields.filter(([q, v]) => ID_FIELDS.has(q) && !(q === 1 && v.toString() === '0'.repeat(32))).map(([q, v]) => `${ID_FIELDS.get(q)!}:${v.toString('utf8')}`))]
    if (ids.length < 2) continue
    for (const a of ids) {
      const row = identityRow(a, saltBuckets).toString('latin1')
      const cells = rows.get(row) ?? new Map()
      rows.set(row, cells)
      for (const b of ids) {
        if (a === b) continue
        const have = cells.get(b)
        if (have === undefined || e.ts > have.ts) cells.set(b, { platform, ts: e.ts })
      }
    }
  }
  const bytes = (s: string, enc: BufferEncoding): Buffer => Buffer.from(s, enc)
  return [...rows.entries()]
    .map(([row, cells]) => ({
      row: bytes(row, 'latin1'),
      cells: [...cells.entries()].map(([q, c]) => ({ qualifier: bytes(q, 'utf8'), ...c })).sort((x, y) => Buffer.compare(x.qualifier, y.qualifier))
    }))
    .sort((x, y) => Buffer.compare(x.row, y.row))
}
