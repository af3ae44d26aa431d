// The bounded queue of unsent events. It lives in localStorage, so a reload or the next page on
// the site sends what is left; tabs of one site share it, which is safe because each event keeps
// its eid and the collector writes a resent event over the same row. Where storage fails it lives
// in memory for this page only.

import { forget, load, save } from './storage'

export interface SpoorEvent {
  eid: string
  ct: number
  a: string
  [key: string]: unknown
}

const KEY = 'spoor_q'
let memory: SpoorEvent[] = []

export function read (): SpoorEvent[] {
  const text = load(KEY)
  if (text === null) return memory
  try {
    const q = JSON.parse(text)
    return Array.isArray(q) ? q : []
  } catch {
    return []
  }
}

function write (q: SpoorEvent[]): void {
  memory = q
  // A failed write must not leave an older copy behind for read() to prefer.
  if (q.length === 0 || !save(KEY, JSON.stringify(q))) forget(KEY)
}

/** Appends, then drops the oldest events beyond `max`. */
export function add (event: SpoorEvent, max: number): void {
  write(read().concat(event).slice(-max))
}

/** Removes the events with these eids: delivered, or refused for good. */
export function remove (eids: string[]): void {
  write(read().filter(e => eids.indexOf(e.eid) < 0))
}

export function clear (): void {
  write([])
}
